"""Saving pages of records: records built from tests/fixtures/ go into a tmp-path archive, and each
test states the rows, versions, changes and sync state that must come out. No server, no harvest.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils.db import Database

from wparchive.db import (
    clear_seen, ensure_db_shape, get_sync_state, mark_deleted, save_page, save_revisions, save_site, start_run,
    SyncState, unseen_live_keys,
)
from wparchive.records import SiteContext, build_records
from wparchive.rows import Provenance, Record

FIXTURES = Path(__file__).parent / "fixtures"
HOME = "https://garden.example.org"
CTX = SiteContext(
    site_id=1, home=HOME, hosts=frozenset({"garden.example.org"}),
    taxonomy_by_rest_base={"categories": "category", "tags": "post_tag"},
    term_names={"1-3": "Vegetables", "1-4": "Beans & peas", "1-5": "compost"},
)
# One harvest a day: run 1 on the first, run 2 on the second, ...
AT = {1: "2024-05-01T10:00:00+00:00", 2: "2024-05-02T10:00:00+00:00", 3: "2024-05-03T10:00:00+00:00"}

# Post 14 as the site serves it after an edit in April: new modified_gmt, one link left, no image,
# no embed, no tag.
APRIL_EDIT = {
    "modified": "2024-04-02T08:00:00",
    "modified_gmt": "2024-04-02T06:00:00",
    "title": {"rendered": "Sowing broad beans &#8211; the April plan"},
    "content": {"rendered": "<p>Sow when the <a href=\"https://www.rhs.org.uk/vegetables/broad-beans/grow-your-own\">"
                            "RHS guide</a> says so.</p>\n", "protected": False},
    "tags": [],
}


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def page_of_posts() -> list[dict[str, Any]]:
    """Posts 12, 13 and 14: the first page of the garden site's posts."""
    return [*load("posts"), load("post")]


def records(items: list[dict[str, Any]], run: int, table: str = "posts") -> list[Record]:
    """Records of items as run `run` fetched them."""
    route = {"posts": "posts", "terms": "categories"}[table]
    prov = Provenance(f"{HOME}/wp-json/wp/v2/{route}?per_page=100&page=1", AT[run], run)
    built, failures = build_records(table, items, CTX, prov)
    assert failures == []
    return built


def save(db: Database, recs: list[Record], run: int, *, table: str = "posts", collection: str = "post",
         **options: Any) -> tuple[dict[str, int], list[str]]:
    return save_page(db, recs, run_id=run, at=AT[run], site_id=1, table=table, collection=collection, **options)


def rows(db: Database, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    return list(db.query(sql, params or []))


def counts(new: int = 0, updated: int = 0, unchanged: int = 0, revived: int = 0) -> dict[str, int]:
    return {"new": new, "updated": updated, "unchanged": unchanged, "revived": revived}


@pytest.fixture
def archive(db: Database) -> Database:
    """The conftest's tmp-path archive with the garden site and three harvest runs."""
    assert save_site(db, {"home": HOME, "name": "Community Garden"}, f"{HOME}/wp-json/", AT[1]) == 1
    assert [start_run(db, HOME, AT[run], "test") for run in (1, 2, 3)] == [1, 2, 3]
    return db


def test_first_save_writes_rows_raw_json_children_and_changes(archive: Database) -> None:
    recs = records(page_of_posts(), run=1)
    assert save(archive, recs, 1) == (counts(new=3), ["1-12", "1-13", "1-14"])

    assert rows(archive, "SELECT key, site_id, wp_id, title, modified_gmt, categories, tags, sticky, headings, "
                         "response_url, fetched_at, run_id, raw_sha256, warc_record_id, deleted_at, deleted_run_id "
                         "FROM posts ORDER BY key") == [
        {"key": "1-12", "site_id": 1, "wp_id": 12, "title": "Last frost dates", "modified_gmt": "2024-02-20T08:00:00",
         "categories": '["Vegetables"]', "tags": "[]", "sticky": 1, "headings": "[]",
         "response_url": f"{HOME}/wp-json/wp/v2/posts?per_page=100&page=1", "fetched_at": AT[1], "run_id": 1,
         "raw_sha256": sha256(recs[0].raw_json), "warc_record_id": None, "deleted_at": None, "deleted_run_id": None},
        {"key": "1-13", "site_id": 1, "wp_id": 13, "title": "Work day on Saturday",
         "modified_gmt": "2024-03-01T17:45:00", "categories": "[]", "tags": '["compost"]', "sticky": 0,
         "headings": "[]", "response_url": f"{HOME}/wp-json/wp/v2/posts?per_page=100&page=1", "fetched_at": AT[1],
         "run_id": 1, "raw_sha256": sha256(recs[1].raw_json), "warc_record_id": None, "deleted_at": None,
         "deleted_run_id": None},
        {"key": "1-14", "site_id": 1, "wp_id": 14, "title": "Sowing broad beans – the March plan",
         "modified_gmt": "2024-03-10T07:15:00", "categories": '["Beans & peas", "Vegetables"]',
         "tags": '["compost"]', "sticky": 0, "headings": '[{"level": 2, "text": "Before you sow"}]',
         "response_url": f"{HOME}/wp-json/wp/v2/posts?per_page=100&page=1", "fetched_at": AT[1], "run_id": 1,
         "raw_sha256": sha256(recs[2].raw_json), "warc_record_id": None, "deleted_at": None, "deleted_run_id": None},
    ]
    # The JSON as the site sent it, apart from the hot table, with the hash the row carries.
    raw = rows(archive, 'SELECT "table", key, json, sha256 FROM raw_json ORDER BY key')
    assert [(r["table"], r["key"], json.loads(r["json"]), r["sha256"]) for r in raw] == [
        ("posts", f"1-{item['id']}", item, sha256(record.raw_json))
        for item, record in zip(page_of_posts(), recs, strict=True)]
    assert rows(archive, 'SELECT run_id, site_id, "table", key, change, at FROM changes ORDER BY id') == [
        {"run_id": 1, "site_id": 1, "table": "posts", "key": key, "change": "new", "at": AT[1]}
        for key in ("1-12", "1-13", "1-14")]
    assert rows(archive, "SELECT * FROM versions") == []
    assert rows(archive, "SELECT post, term, taxonomy FROM post_terms ORDER BY post, term") == [
        {"post": "1-12", "term": "1-3", "taxonomy": "category"},
        {"post": "1-13", "term": "1-5", "taxonomy": "post_tag"},
        {"post": "1-14", "term": "1-3", "taxonomy": "category"},
        {"post": "1-14", "term": "1-4", "taxonomy": "category"},
        {"post": "1-14", "term": "1-5", "taxonomy": "post_tag"},
    ]
    assert rows(archive, "SELECT post, position, href, internal, target_hint, target FROM links "
                         "ORDER BY post, position") == [
        {"post": "1-14", "position": 0, "href": "https://garden.example.org/?p=12", "internal": 1,
         "target_hint": "1-12", "target": None},
        {"post": "1-14", "position": 1, "href": "https://www.rhs.org.uk/vegetables/broad-beans/grow-your-own",
         "internal": 0, "target_hint": None, "target": None},
        {"post": "1-14", "position": 2, "href": "https://www.youtube.com/embed/b3aNs0wInG?feature=oembed",
         "internal": 0, "target_hint": None, "target": None},
    ]
    assert rows(archive, "SELECT * FROM images") == [
        {"post": "1-14", "position": 0,
         "src": "https://garden.example.org/wp-content/uploads/2024/03/seedlings-1024x768.jpg",
         "alt": "A row of bean seedlings", "caption": "Seedlings in the north bed", "width": 1024, "height": 768,
         "media": "1-31"}]
    assert rows(archive, "SELECT * FROM embeds") == [
        {"post": "1-14", "position": 0, "provider": "YouTube",
         "url": "https://www.youtube.com/embed/b3aNs0wInG?feature=oembed"}]


def test_saving_the_same_items_again_changes_nothing(archive: Database) -> None:
    save(archive, records(page_of_posts(), run=1), 1)
    before = {table: rows(archive, f'SELECT * FROM "{table}" ORDER BY rowid')
              for table in ("posts", "raw_json", "links", "images", "embeds", "post_terms")}

    assert save(archive, records(page_of_posts(), run=2), 2) == (counts(unchanged=3), [])

    # Not rewritten at all: the rows still name the run that wrote them.
    assert {table: rows(archive, f'SELECT * FROM "{table}" ORDER BY rowid') for table in before} == before
    assert [r["run_id"] for r in rows(archive, "SELECT run_id FROM posts")] == [1, 1, 1]
    assert rows(archive, "SELECT run_id, key, change FROM changes ORDER BY id") == [
        {"run_id": 1, "key": "1-12", "change": "new"}, {"run_id": 1, "key": "1-13", "change": "new"},
        {"run_id": 1, "key": "1-14", "change": "new"}]
    assert rows(archive, "SELECT * FROM versions") == []


def test_a_changed_item_is_updated_and_its_earlier_state_kept(archive: Database) -> None:
    first = records(page_of_posts(), run=1)
    save(archive, first, 1)
    *unchanged, post = page_of_posts()
    second = records([*unchanged, {**post, **APRIL_EDIT}], run=2)

    assert save(archive, second, 2) == (counts(updated=1, unchanged=2), ["1-14"])

    assert rows(archive, "SELECT key, title, modified_gmt, tags, run_id, fetched_at, raw_sha256 FROM posts "
                         "ORDER BY key") == [
        {"key": "1-12", "title": "Last frost dates", "modified_gmt": "2024-02-20T08:00:00", "tags": "[]",
         "run_id": 1, "fetched_at": AT[1], "raw_sha256": sha256(first[0].raw_json)},
        {"key": "1-13", "title": "Work day on Saturday", "modified_gmt": "2024-03-01T17:45:00",
         "tags": '["compost"]', "run_id": 1, "fetched_at": AT[1], "raw_sha256": sha256(first[1].raw_json)},
        {"key": "1-14", "title": "Sowing broad beans – the April plan", "modified_gmt": "2024-04-02T06:00:00",
         "tags": "[]", "run_id": 2, "fetched_at": AT[2], "raw_sha256": sha256(second[2].raw_json)},
    ]
    assert rows(archive, "SELECT * FROM versions") == [
        {"id": 1, "table": "posts", "key": "1-14", "run_id": 1, "replaced_by_run_id": 2, "replaced_at": AT[2],
         "source": "rest", "revision_id": None, "modified_gmt": "2024-03-10T07:15:00",
         "raw_sha256": sha256(first[2].raw_json), "json": first[2].raw_json}]
    assert rows(archive, "SELECT json FROM raw_json WHERE key = '1-14'") == [{"json": second[2].raw_json}]
    assert rows(archive, "SELECT run_id, site_id, key, change, at FROM changes WHERE run_id = 2") == [
        {"run_id": 2, "site_id": 1, "key": "1-14", "change": "updated", "at": AT[2]}]
    # The history view (made by ensure_db_shape at the end of a run) shows both states.
    ensure_db_shape(archive)
    assert rows(archive, "SELECT state, run_id, replaced_by_run_id, modified_gmt, title FROM post_history "
                         "WHERE key = '1-14' ORDER BY modified_gmt") == [
        {"state": "rest", "run_id": 1, "replaced_by_run_id": 2, "modified_gmt": "2024-03-10T07:15:00",
         "title": "Sowing broad beans &#8211; the March plan"},
        {"state": "current", "run_id": 2, "replaced_by_run_id": None, "modified_gmt": "2024-04-02T06:00:00",
         "title": "Sowing broad beans – the April plan"},
    ]


def test_child_rows_are_replaced_not_added(archive: Database) -> None:
    post = load("post")
    save(archive, records([post], run=1), 1)
    # The same content under a newer modified_gmt: written again, children not doubled.
    assert save(archive, records([{**post, "modified_gmt": "2024-03-20T09:00:00"}], run=2), 2) == (
        counts(updated=1), ["1-14"])
    assert [(r["post"], r["position"]) for r in rows(archive, "SELECT * FROM links ORDER BY position")] == [
        ("1-14", 0), ("1-14", 1), ("1-14", 2)]
    assert rows(archive, "SELECT post, term FROM post_terms ORDER BY term") == [
        {"post": "1-14", "term": "1-3"}, {"post": "1-14", "term": "1-4"}, {"post": "1-14", "term": "1-5"}]

    # Content with one link and no image or embed: the old child rows go.
    assert save(archive, records([{**post, **APRIL_EDIT}], run=3), 3) == (counts(updated=1), ["1-14"])
    assert rows(archive, "SELECT post, position, href, text FROM links") == [
        {"post": "1-14", "position": 0, "href": "https://www.rhs.org.uk/vegetables/broad-beans/grow-your-own",
         "text": "RHS guide"}]
    assert rows(archive, "SELECT * FROM images") == []
    assert rows(archive, "SELECT * FROM embeds") == []
    assert rows(archive, "SELECT post, term FROM post_terms ORDER BY term") == [
        {"post": "1-14", "term": "1-3"}, {"post": "1-14", "term": "1-4"}]


def test_new_content_under_the_same_modified_gmt_is_not_an_update(archive: Database) -> None:
    # WordPress renders some content differently on every request (gallery ids); modified_gmt,
    # not the HTML, says whether the post changed.
    post = load("post")
    save(archive, records([post], run=1), 1)
    rerendered = {**post, "content": {"rendered": post["content"]["rendered"].replace("wp-image-31", "wp-image-31 x"),
                                      "protected": False}}
    assert save(archive, records([rerendered], run=2), 2) == (counts(unchanged=1), [])
    assert rows(archive, "SELECT content_html, run_id FROM posts") == [
        {"content_html": post["content"]["rendered"], "run_id": 1}]


def test_terms_change_when_their_json_does(archive: Database) -> None:
    # Terms have no modified_gmt: the hash of their JSON is their change signal.
    vegetables, beans = load("categories")
    save(archive, records([vegetables, beans], run=1, table="terms"), 1, table="terms", collection="category")
    renamed = {**beans, "name": "Beans", "count": 2}
    second = records([vegetables, renamed], run=2, table="terms")
    assert save(archive, second, 2, table="terms", collection="category") == (counts(updated=1, unchanged=1),
                                                                              ["1-4"])
    assert rows(archive, "SELECT key, name, count, parent, run_id FROM terms ORDER BY key") == [
        {"key": "1-3", "name": "Vegetables", "count": 2, "parent": None, "run_id": 1},
        {"key": "1-4", "name": "Beans", "count": 2, "parent": "1-3", "run_id": 2}]
    assert rows(archive, "SELECT \"table\", key, run_id, replaced_by_run_id, modified_gmt, json FROM versions") == [
        {"table": "terms", "key": "1-4", "run_id": 1, "replaced_by_run_id": 2, "modified_gmt": None,
         "json": json.dumps(beans, ensure_ascii=False, separators=(",", ":"))}]


def test_a_deleted_item_is_tombstoned_and_revived_when_it_returns(archive: Database) -> None:
    save(archive, records(page_of_posts(), run=1), 1)

    assert mark_deleted(archive, "posts", ["1-13"], run_id=2, at=AT[2], site_id=1) == 1
    # Rows are never deleted: the tombstone names when and by which run.
    assert rows(archive, "SELECT key, deleted_at, deleted_run_id FROM posts ORDER BY key") == [
        {"key": "1-12", "deleted_at": None, "deleted_run_id": None},
        {"key": "1-13", "deleted_at": AT[2], "deleted_run_id": 2},
        {"key": "1-14", "deleted_at": None, "deleted_run_id": None}]
    assert rows(archive, "SELECT post, term FROM post_terms WHERE post = '1-13'") == [{"post": "1-13", "term": "1-5"}]
    assert rows(archive, "SELECT run_id, site_id, \"table\", key, change, at FROM changes WHERE run_id = 2") == [
        {"run_id": 2, "site_id": 1, "table": "posts", "key": "1-13", "change": "deleted", "at": AT[2]}]
    # Gone already, or never known: neither counted nor logged again, and the tombstone keeps its first date.
    assert mark_deleted(archive, "posts", ["1-13", "1-99"], run_id=2, at=AT[3], site_id=1) == 0
    assert rows(archive, "SELECT count(*) AS n FROM changes WHERE run_id = 2") == [{"n": 1}]
    assert rows(archive, "SELECT deleted_at FROM posts WHERE key = '1-13'") == [{"deleted_at": AT[2]}]

    # Served again, unchanged: revived, and not written again.
    assert save(archive, records([load("posts")[1]], run=3), 3) == (counts(unchanged=1, revived=1), [])
    assert rows(archive, "SELECT key, deleted_at, deleted_run_id, run_id FROM posts WHERE key = '1-13'") == [
        {"key": "1-13", "deleted_at": None, "deleted_run_id": None, "run_id": 1}]
    assert rows(archive, "SELECT run_id, key, change, at FROM changes WHERE run_id = 3") == [
        {"run_id": 3, "key": "1-13", "change": "revived", "at": AT[3]}]
    assert rows(archive, "SELECT * FROM versions") == []


def test_a_deleted_item_that_returns_changed_is_revived_and_updated(archive: Database) -> None:
    post = load("post")
    first = records([post], run=1)
    save(archive, first, 1)
    mark_deleted(archive, "posts", ["1-14"], run_id=2, at=AT[2], site_id=1)

    assert save(archive, records([{**post, **APRIL_EDIT}], run=3), 3) == (counts(updated=1, revived=1), ["1-14"])
    assert rows(archive, "SELECT title, deleted_at, deleted_run_id, run_id FROM posts") == [
        {"title": "Sowing broad beans – the April plan", "deleted_at": None, "deleted_run_id": None, "run_id": 3}]
    assert rows(archive, "SELECT run_id, key, change FROM changes ORDER BY id") == [
        {"run_id": 1, "key": "1-14", "change": "new"}, {"run_id": 2, "key": "1-14", "change": "deleted"},
        {"run_id": 3, "key": "1-14", "change": "revived"}, {"run_id": 3, "key": "1-14", "change": "updated"}]
    assert rows(archive, "SELECT run_id, replaced_by_run_id, modified_gmt, json FROM versions") == [
        {"run_id": 1, "replaced_by_run_id": 3, "modified_gmt": "2024-03-10T07:15:00", "json": first[0].raw_json}]


def test_a_field_a_newer_wordpress_brings_adds_a_column(archive: Database) -> None:
    save(archive, records(load("posts"), run=1), 1)
    assert "wp_views" not in archive["posts"].columns_dict

    # Post 14 brings plugin fields, and one page mixes it with an item that has a field of the
    # wrong type: columns for both.
    item_with_bad_field = {**load("posts")[1], "modified_gmt": "2024-03-02T10:00:00", "menu_order": "first"}
    assert save(archive, records([load("post"), item_with_bad_field], run=2), 2) == (
        counts(new=1, updated=1), ["1-14", "1-13"])
    columns = archive["posts"].columns_dict
    assert {name: columns[name] for name in columns if name.startswith("wp_") and name != "wp_id"} == {
        "wp_jetpack_featured_media_url": str, "wp_jetpack_sharing_enabled": int, "wp_views": int}
    assert rows(archive, "SELECT key, wp_views, wp_jetpack_sharing_enabled, invalid_fields, menu_order FROM posts "
                         "ORDER BY key") == [
        {"key": "1-12", "wp_views": None, "wp_jetpack_sharing_enabled": None, "invalid_fields": None,
         "menu_order": 0},
        {"key": "1-13", "wp_views": None, "wp_jetpack_sharing_enabled": None, "invalid_fields": '["menu_order"]',
         "menu_order": 0},
        {"key": "1-14", "wp_views": 117, "wp_jetpack_sharing_enabled": 1, "invalid_fields": None,
         "menu_order": 0},
    ]


def test_save_revisions_keeps_each_revision_once(archive: Database) -> None:
    revisions = load("revisions")
    assert save_revisions(archive, "posts", "1-14", revisions, run_id=1, at=AT[1]) == 2
    assert save_revisions(archive, "posts", "1-14", revisions, run_id=2, at=AT[2]) == 0
    newer = {**revisions[0], "id": 17, "modified_gmt": "2024-04-02T06:00:00"}
    no_id = {**revisions[0], "id": None}
    assert save_revisions(archive, "posts", "1-14", [newer, no_id, *revisions], run_id=3, at=AT[3]) == 1

    raw = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in (*revisions, newer)]
    assert rows(archive, "SELECT * FROM versions ORDER BY id") == [
        {"id": 1, "table": "posts", "key": "1-14", "run_id": 1, "replaced_by_run_id": None, "replaced_at": AT[1],
         "source": "revision", "revision_id": 16, "modified_gmt": "2024-03-10T07:15:00", "raw_sha256": sha256(raw[0]),
         "json": raw[0]},
        {"id": 2, "table": "posts", "key": "1-14", "run_id": 1, "replaced_by_run_id": None, "replaced_at": AT[1],
         "source": "revision", "revision_id": 15, "modified_gmt": "2024-03-09T10:30:00", "raw_sha256": sha256(raw[1]),
         "json": raw[1]},
        {"id": 3, "table": "posts", "key": "1-14", "run_id": 3, "replaced_by_run_id": None, "replaced_at": AT[3],
         "source": "revision", "revision_id": 17, "modified_gmt": "2024-04-02T06:00:00", "raw_sha256": sha256(raw[2]),
         "json": raw[2]},
    ]
    # Revisions are history, not changes of the archive.
    assert rows(archive, "SELECT * FROM changes") == []


def test_a_full_pass_knows_which_live_records_it_has_not_seen(archive: Database) -> None:
    page = {**load("posts")[1], "id": 40, "type": "page", "slug": "about", "link": f"{HOME}/about/"}
    save(archive, records(page_of_posts(), run=1), 1)
    save(archive, records([page], run=1), 1, collection="page")
    mark_deleted(archive, "posts", ["1-12"], run_id=1, at=AT[1], site_id=1)

    # Run 2's full pass of posts sees 14 only: 13 is unseen; 12 is already tombstoned, and the
    # page belongs to another collection.
    save(archive, records([load("post")], run=2), 2, track_seen=True)
    assert rows(archive, "SELECT * FROM sweep_seen") == [{"site_id": 1, "collection": "post", "key": "1-14"}]
    assert unseen_live_keys(archive, site_id=1, table="posts", collection="post") == ["1-13"]
    assert unseen_live_keys(archive, site_id=1, table="posts", collection="page") == ["1-40"]

    # An interrupted pass resumes with what it had seen; once finished, it is forgotten.
    save(archive, records([load("posts")[1]], run=3), 3, track_seen=True)
    assert unseen_live_keys(archive, site_id=1, table="posts", collection="post") == []
    clear_seen(archive, 1, "post")
    assert rows(archive, "SELECT * FROM sweep_seen") == []
    assert unseen_live_keys(archive, site_id=1, table="posts", collection="post") == ["1-13", "1-14"]


def test_the_resume_page_is_committed_with_its_page(archive: Database) -> None:
    assert get_sync_state(archive, 1, "post") == SyncState()
    save(archive, records(load("posts"), run=1), 1, track_seen=True, resume_page=1)
    assert rows(archive, "SELECT * FROM sync_state") == [
        {"site_id": 1, "collection": "post", "kind": "posts", "last_total": None, "complete_run_id": None,
         "pass_run_id": None, "resume_page": 1, "updated_at": AT[1]}]

    # Page 2 fails while it is written: none of it stays, and the pass still resumes after page 1.
    broken = records([load("post")], run=2)
    broken[0].row["title"] = object()  # a value SQLite cannot store
    with pytest.raises(sqlite3.ProgrammingError):
        save(archive, broken, 2, track_seen=True, resume_page=2)
    assert get_sync_state(archive, 1, "post") == SyncState(resume_page=1)
    assert [r["key"] for r in rows(archive, "SELECT key FROM posts ORDER BY key")] == ["1-12", "1-13"]
    assert rows(archive, "SELECT key FROM raw_json WHERE key = '1-14'") == []
    assert rows(archive, "SELECT key FROM sweep_seen ORDER BY key") == [{"key": "1-12"}, {"key": "1-13"}]
    assert rows(archive, "SELECT run_id FROM changes WHERE run_id = 2") == []

    assert save(archive, records([load("post")], run=2), 2, track_seen=True, resume_page=2)[0] == counts(new=1)
    assert get_sync_state(archive, 1, "post") == SyncState(resume_page=2)


def test_every_archive_gets_the_indexes_its_pages_read(archive: Database) -> None:
    ensure_db_shape(archive)
    indexes = {tuple(c for c in index.columns) for table in ("posts", "comments", "post_terms")
               for index in archive.table(table).indexes}
    assert ("site_id", "deleted_at") in {tuple(index.columns) for index in archive.table("media").indexes}
    # the year facet, the home page's counts per site and per month, the category and tag facets
    assert {("year",), ("type", "deleted_at", "date_gmt"), ("site_id", "deleted_at", "type", "date_gmt"),
            ("site_id", "deleted_at"), ("taxonomy", "term"), ("source",)} <= indexes
