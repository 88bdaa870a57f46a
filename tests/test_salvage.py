"""Salvaging what arrived of a JSON list that broke off or broke down: the items that came whole,
and the fields of the item it broke in that completed before the break."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from datasette.app import Datasette
from sqlite_utils.db import Database

from wparchive.clean import Boilerplate
from wparchive.client import Client
from wparchive.db import ensure_db_shape, open_db, save_page, start_run
from wparchive.db.schema import SCHEMA_VERSION, TEXT_COLUMNS
from wparchive.export import export_archive, export_rows
from wparchive.harvest import harvest_site
from wparchive.rebuild import rebuild_archive
from wparchive.records import SiteContext, build_records
from wparchive.rows import Provenance
from wparchive.salvage import salvage_list
from wparchive.serve import build_datasette
from wparchive.web.search import run_search

POSTS = [
    {"id": 7, "date": "2024-03-09T11:30:00", "slug": "beans", "status": "publish", "link": "https://g.example/beans/",
     "title": {"rendered": "Broad beans"}, "content": {"rendered": "<p>Sow them in March.</p>", "protected": False},
     "categories": [3, 4]},
    {"id": 8, "date": "2024-03-10T09:00:00", "slug": "frost", "status": "publish", "link": "https://g.example/frost/",
     "title": {"rendered": "Frost – and what it does"},
     "content": {"rendered": "The first frost came early, and the broad beans were lost.", "protected": False},
     "categories": [3]},
]
BODY = json.dumps(POSTS, ensure_ascii=False).encode("utf-8")


def _cut_after(text: str) -> bytes:
    """The body up to and with the first occurrence of text."""
    needle = text.encode("utf-8")
    return BODY[:BODY.index(needle) + len(needle)]


def test_a_body_cut_mid_content_keeps_the_whole_items_and_the_fields_before_the_cut() -> None:
    found = salvage_list(_cut_after("and the broad be"))
    assert found is not None and found.whole == POSTS[:1] and found.index == 1
    assert found.partial == {"id": 8, "date": "2024-03-10T09:00:00", "slug": "frost", "status": "publish",
                             "link": "https://g.example/frost/", "title": {"rendered": "Frost – and what it does"},
                             "content": {"rendered": "The first frost came early, and the broad be"}}
    assert found.broke_in == ["content", "rendered"] and found.last_field == "title"
    assert found.note() == ("the response broke off in content.rendered: content.rendered is cut short and the "
                            "fields after it are missing")


@pytest.mark.parametrize("cut, partial, note", [
    ('"slug": "fr', {"id": 8, "date": "2024-03-10T09:00:00", "slug": "fr"}, "in slug"),
    ('"slug": "frost"', {"id": 8, "date": "2024-03-10T09:00:00", "slug": "frost"}, "after slug"),
    ('"da', {"id": 8}, "after id"),
    # a number that ends the body may have lost digits (8 of 87): it is not taken
    ('"id": 8', None, "in id"),
    ('"{', None, "before the item's first field"),
])
def test_where_the_break_falls(cut: str, partial: dict | None, note: str) -> None:
    second = BODY.index(b'{"id": 8')
    found = salvage_list(BODY[:second + 1] if cut == '"{' else BODY[:BODY.index(cut.encode(), second) + len(cut)])
    assert found is not None and found.index == 1
    assert found.partial == partial and note in found.note()


def test_a_list_cut_in_a_number_drops_the_number() -> None:
    cut = b'"categories": [3'
    found = salvage_list(BODY[:BODY.index(cut, BODY.index(b'"id": 8')) + len(cut)])
    assert found is not None and found.partial is not None
    assert found.partial["categories"] == [] and found.broke_in == ["categories", "0"]


def test_a_cut_inside_an_escape_or_a_character_leaves_no_half_of_it() -> None:
    item = {"id": 1, "content": {"rendered": 'a \\ b \u00e9 c \U0001F331 d "q" e'}}
    ascii_body = json.dumps([item])  # escapes as \\, \u00e9, \ud83c\udf31, \"
    for end in range(ascii_body.index("a \\\\"), len(ascii_body) - 3):
        found = salvage_list(ascii_body[:end].encode())
        assert found is not None and found.partial is not None
        text = found.partial["content"]["rendered"]
        assert item["content"]["rendered"].startswith(text), (end, text)
    utf8 = json.dumps([item], ensure_ascii=False).encode("utf-8")
    for end in range(utf8.index(b"a \\"), len(utf8) - 3):
        found = salvage_list(utf8[:end])
        assert found is not None and found.partial is not None
        text = found.partial["content"]["rendered"]
        assert item["content"]["rendered"].startswith(text) and "\ufffd" not in text, (end, text)


def test_invalid_json_in_an_item_keeps_what_came_before_it() -> None:
    body = b'[{"id": 1, "title": {"rendered": "One"}}, {"id": 2, "title": {"rendered": "Two"}, "author": NaN!, ' \
           b'"content": {"rendered": "never read"}}, {"id": 3}]'
    found = salvage_list(body)
    assert found is not None and [item["id"] for item in found.whole] == [1] and found.index == 1
    assert found.partial == {"id": 2, "title": {"rendered": "Two"}} and found.broke_in == ["author"]
    bad_escape = salvage_list(b'[{"id": 4, "title": {"rendered": "bad \\x escape"}}]')
    assert bad_escape is not None and bad_escape.partial == {"id": 4, "title": {"rendered": "bad "}}


def test_what_is_not_a_broken_list_of_objects() -> None:
    assert salvage_list(b"<!DOCTYPE html><html>Maintenance</html>") is None
    assert salvage_list(b'{"code": "rest_error"') is None
    assert salvage_list(b"[1, 2, 3") is None
    assert salvage_list(b"") is None
    closed = salvage_list(BODY + b"<br />trailing notice")
    assert closed is not None and closed.closed and closed.whole == POSTS and closed.partial is None
    between = salvage_list(BODY[:BODY.index(b'{"id": 8')])
    assert between is not None and between.whole == POSTS[:1] and between.partial is None and not between.closed
    with_bom = salvage_list(b"\xef\xbb\xbf" + _cut_after("Broad be"))
    assert with_bom is not None and with_bom.partial == {
        "id": 7, "date": "2024-03-09T11:30:00", "slug": "beans", "status": "publish",
        "link": "https://g.example/beans/", "title": {"rendered": "Broad be"}}


def test_hostile_nesting_and_size_stay_bounded() -> None:
    deep = b'[{"id": 1, "meta": ' + b'{"a": [' * 200_000
    started = time.monotonic()
    found = salvage_list(deep)
    assert found is not None and found.partial is not None and found.partial["id"] == 1
    depth, value = 0, found.partial.get("meta")
    while isinstance(value, (dict, list)) and value:
        value = value["a"] if isinstance(value, dict) else value[0]
        depth += 1
    assert depth <= 32  # followed no deeper than MAX_DEPTH
    huge = ('[{"id": 9, "title": {"rendered": "Big"}, "content": {"rendered": "' + "compost heap " * 2_000_000)
    found = salvage_list(huge.encode())
    assert found is not None and found.partial is not None
    assert len(found.partial["content"]["rendered"]) == 26_000_000
    assert time.monotonic() - started < 20  # linear: well under a second each on a laptop


# --- What arrived of an item, in the archive ------------------------------------------------------

CTX = SiteContext(site_id=1, home="https://g.example", hosts=frozenset({"g.example"}))
CUT = "the response broke off in content.rendered: content.rendered is cut short and the fields after it are missing"


def _post(wp_id: int, text: str, *, cut: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {"id": wp_id, "date_gmt": "2024-03-09T10:30:00", "modified_gmt": "2024-03-10T07:15:00",
                            "slug": f"post-{wp_id}", "type": "post", "title": {"rendered": f"Post {wp_id}"},
                            "content": {"rendered": f"<p>{text}</p>"}}
    if cut:
        item["content"]["rendered"] = text  # its opening tag stripped, and no end
        item["wparchive_incomplete"] = CUT
    return item


def _comment(wp_id: int, text: str, *, cut: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {"id": wp_id, "post": 1, "author_name": "Reader", "date_gmt": "2024-03-11T08:00:00",
                            "content": {"rendered": f"<p>{text}</p>"}}
    return {**item, "wparchive_incomplete": CUT} if cut else item


def _save(db: Database, table: str, items: list[dict[str, Any]], run: int) -> dict[str, int]:
    prov = Provenance(f"https://g.example/wp-json/wp/v2/{table}?page=1", f"2024-05-0{run}T10:00:00+00:00", run)
    records, failures = build_records(table, items, CTX, prov)
    assert failures == []
    counts, _ = save_page(db, records, run_id=run, at=prov.fetched_at, site_id=1, table=table,
                          collection="post" if table == "posts" else table)
    return counts


@pytest.fixture
def archive(tmp_path: Path) -> Database:
    db = open_db(str(tmp_path / "archive.db"))
    with db.conn:
        db.execute("INSERT INTO sites (id, home, name) VALUES (1, 'https://g.example', 'G')")
    for _ in range(3):
        start_run(db, "https://g.example/", "2024-05-01T10:00:00+00:00", "test")
    return db


def _marks(db: Database, table: str = "posts") -> dict[str, Any]:
    return dict(db.execute(f"SELECT key, incomplete FROM {table} ORDER BY key").fetchall())


def test_part_of_an_item_never_replaces_the_whole_and_the_whole_always_replaces_the_part(archive: Database) -> None:
    assert _save(archive, "posts", [_post(5, "Whole text."), _post(6, "The first frost came ea", cut=True)], 1) == {
        "new": 2, "updated": 0, "unchanged": 0, "revived": 0}
    assert _marks(archive) == {"1-5": None, "1-6": CUT}
    assert archive["posts"].get("1-6")["title"] == "Post 6" and archive["posts"].get("1-6")["date_gmt"]
    # run 2: post 5 arrives cut short (the archive keeps it whole); post 6 arrives whole, with the very
    # same modified_gmt as its part: it replaces the part, and the mark goes
    assert _save(archive, "posts", [_post(5, "Whole te", cut=True), _post(6, "The first frost came early.")], 2) == {
        "new": 0, "updated": 1, "unchanged": 1, "revived": 0}
    assert _marks(archive) == {"1-5": None, "1-6": None}
    assert archive["posts"].get("1-5")["content_text"] == "Whole text."
    assert archive["posts"].get("1-6")["content_text"] == "The first frost came early."
    assert json.loads(archive["raw_json"].get(("posts", "1-6"))["json"])["content"]["rendered"].endswith("early.</p>")
    # the part is kept among the versions, as every replaced state is
    assert [json.loads(v["json"])["content"]["rendered"] for v in archive["versions"].rows] == ["The first frost came ea"]
    # run 3: cut short again: nothing changes
    assert _save(archive, "posts", [_post(6, "The first", cut=True)], 3)["unchanged"] == 1
    assert _marks(archive) == {"1-5": None, "1-6": None}


def test_exports_and_search_leave_incomplete_rows_out(archive: Database, tmp_path: Path) -> None:
    _save(archive, "posts", [_post(1, "compost heap"), _post(2, "compost tea", cut=True), _post(3, "beans")], 1)
    _save(archive, "comments", [_comment(11, "more compost"), _comment(12, "compost again", cut=True)], 1)
    ensure_db_shape(archive)
    assert [row["key"] for row in export_rows(archive)] == ["1-1", "1-3"]
    out = tmp_path / "posts.jsonl"
    assert export_archive(archive, out, "jsonl") == 2
    database = Datasette([str(tmp_path / "archive.db")]).get_database()
    results = asyncio.run(run_search(database, "compost", advanced=False, filters={}))
    assert sorted((r["kind"], r["key"]) for r in results.rows) == [("comment", "1-11"), ("post", "1-1")]
    assert results.total == 2
    filtered = asyncio.run(run_search(database, "compost", advanced=False, filters={"type": "post"}))
    assert [r["key"] for r in filtered.rows] == ["1-1"] and filtered.total == 1

    async def canned() -> Any:
        ds = build_datasette(str(tmp_path / "archive.db"))
        await ds.invoke_startup()
        return (await ds.client.get("/archive/search.json?q=compost&_shape=array")).json()

    assert sorted((r["kind"], r["key"]) for r in asyncio.run(canned())) == [("comment", "1-11"), ("post", "1-1")]
    # the incomplete rows are there to be seen, marked, in their tables
    assert _marks(archive) == {"1-1": None, "1-2": CUT, "1-3": None}
    assert _marks(archive, "comments") == {"1-11": None, "1-12": CUT}


def test_the_mark_lives_in_the_raw_json_and_survives_a_rebuild(archive: Database) -> None:
    broke_early = {k: v for k, v in _post(2, "cut", cut=True).items() if k != "type"}
    _save(archive, "posts", [_post(1, "whole"), {**broke_early, "wparchive_collection": "post"}], 1)
    assert archive["posts"].get("1-2")["type"] == "post"  # it broke before its type: the collection says
    assert json.loads(archive["raw_json"].get(("posts", "1-2"))["json"])["wparchive_incomplete"] == CUT
    with archive.conn:
        archive.execute("UPDATE posts SET incomplete = NULL, content_text = NULL")
    rebuild_archive(archive, boilerplate=Boilerplate())
    assert _marks(archive) == {"1-1": None, "1-2": CUT}


def _rows(connection: sqlite3.Connection, table: str) -> list[dict[str, Any]]:
    cursor = connection.execute(f"SELECT rowid AS rid, * FROM {table} ORDER BY key")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def test_an_archive_of_schema_2_gets_the_column_before_its_text(server, tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    harvest_site(open_db(path), Client(delay=0), server.home + "/")
    connection = sqlite3.connect(path)
    with connection:  # as schema 2 had it: no incomplete column, and no index on one
        for table in ("posts", "comments"):
            connection.execute(f"DROP INDEX idx_{table}_incomplete_deleted_at")
        for table in ("users", "terms", "posts", "media", "comments"):
            connection.execute(f"ALTER TABLE {table} DROP COLUMN incomplete")
        connection.execute("PRAGMA user_version = 2")
    before = {table: _rows(connection, table) for table in ("users", "terms", "posts", "media", "comments")}
    connection.close()

    db = open_db(path)

    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    for table in ("users", "terms", "media"):
        assert [c.name for c in db[table].columns][-1] == "incomplete"
    for table, text in TEXT_COLUMNS.items():
        columns = [c.name for c in db[table].columns]
        assert columns[-len(text.split(", ")):] == [t.split()[0] for t in text.split(", ")]
        assert columns.index("incomplete") == columns.index("deleted_run_id") + 1  # before the text, where search reads
        assert f"idx_{table}_incomplete_deleted_at" in {index.name for index in db[table].indexes}
        db.execute(f"INSERT INTO {table}_fts({table}_fts) VALUES ('integrity-check')")
    for table, rows in before.items():  # every row and rowid kept, with the new column empty
        after = _rows(db.conn, table)
        assert all(row.pop("incomplete") is None for row in after)
        assert after == rows and rows
    assert harvest_site(db, Client(delay=0), server.home + "/").status == "ok"
