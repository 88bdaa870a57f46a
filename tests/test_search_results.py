"""What a search shows, everywhere it is shown: the page, its JSON, its CSV and JSON downloads
(every row, not the first page) and `wparchive search` agree on the rows and their order, for
every filter (site, type, year, author, category, tag, dates) and every order (relevance, newest,
oldest), in advanced mode too; and no control character leaves the archive.

A real `wparchive serve` process answers; the command line runs through its entry point.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit

import lxml.html
import pytest
import requests

from test_search_bounds import _archive as _plain_archive, _config, serve_archive
from wparchive.db import ensure_db_shape, open_db
from wparchive.serve import build_datasette
from wparchive.search import (
    CHUNK, PAGE_SIZE, RESULT_FIELDS, SearchRequest, add_search_functions, result_steps, run_sync,
)

WORDS = ["garden", "seed", "rain", "bean", "frost", "shed"]
POSTS = 1500
TWINS = range(1401, 1431)  # thirty posts alike in every word: their scores tie

# Every live, complete hit with what orders it, by brute force: what every view of a search must agree with.
EVERY_HIT = """
    SELECT 'post' AS kind, posts_fts.rowid AS rid, p.key, p.type, p.site_id, p.date_gmt, p.author, p.categories,
           p.tags, bm25(posts_fts, 10.0, 1.0, 3.0) AS score
    FROM posts_fts JOIN posts p ON p.rowid = posts_fts.rowid
    WHERE posts_fts MATCH :q AND p.deleted_at IS NULL AND p.incomplete IS NULL
    UNION ALL
    SELECT 'comment', comments_fts.rowid, c.key, 'comment', c.site_id, c.date_gmt, c.author, NULL, NULL,
           bm25(comments_fts, 2.0, 1.0)
    FROM comments_fts JOIN comments c ON c.rowid = comments_fts.rowid
    WHERE comments_fts MATCH :q AND c.deleted_at IS NULL AND c.incomplete IS NULL"""


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Two sites, posts and pages over ten years (some undated), comments, deleted and incomplete rows."""
    path = str(tmp_path_factory.mktemp("results") / "archive.db")
    db = open_db(path)
    rng = random.Random(7)
    posts = []
    for n in range(1, POSTS + 1):
        twin = n in TWINS
        text = "compost heap " + " ".join(["seed"] * 5 if twin else rng.choices(WORDS, k=20 + n % 400))
        date = None if n % 97 == 0 else f"{2015 + n % 10}-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00"
        site = 1 if n % 3 else 2
        posts.append((f"{site}-{n}", site, n, "page" if n % 7 == 0 else "post", "Twin" if twin else f"T{n}", date,
                      f"{site}-{1 + n % 3}", json.dumps([f"Category {n % 4}"]), json.dumps([f"tag {n % 5}"]), text))
    with db.conn:
        db.execute("INSERT INTO sites (id, home, name) VALUES (1, 'https://example.org', 'Example'), "
                   "(2, 'https://other.example', 'Other Garden')")
        db.conn.executemany("INSERT INTO users (key, site_id, wp_id, name) VALUES (?, ?, ?, ?)",
                            [(f"{s}-{i}", s, i, f"Author {s}.{i}") for s in (1, 2) for i in range(1, 4)])
        db.conn.executemany("INSERT INTO posts (key, site_id, wp_id, type, title, date_gmt, author, categories, tags, "
                            "content_text) VALUES (?,?,?,?,?,?,?,?,?,?)", posts)
        db.conn.executemany("INSERT INTO comments (key, site_id, wp_id, post, author_name, date_gmt, content_text) "
                            "VALUES (?, 1, ?, '1-1', 'Reader', ?, ?)",
                            [(f"1-{c}", c, f"2024-{1 + c % 12:02d}-02", "compost " * (c % 3 + 1) + "tea " * c)
                             for c in range(1, 120)])
    ensure_db_shape(db)
    with db.conn:  # the best hits deleted, some others incomplete: no view of a search shows them
        db.execute("UPDATE posts SET deleted_at = '2026-01-01' WHERE key IN (SELECT p.key FROM posts_fts "
                   "JOIN posts p ON p.rowid = posts_fts.rowid WHERE posts_fts MATCH 'compost' "
                   "ORDER BY bm25(posts_fts, 10.0, 1.0, 3.0) LIMIT 5)")
        db.execute("UPDATE posts SET incomplete = 'content' WHERE wp_id % 101 = 0")
        db.execute("UPDATE comments SET deleted_at = '2026-01-01' WHERE wp_id < 4")
    db.close()
    return path


@pytest.fixture(scope="module")
def served(archive: str) -> Iterator[str]:
    with serve_archive(archive) as address:
        yield address


def _reference(archive: str, args: dict[str, str], q: str = '"compost"') -> list[dict[str, Any]]:
    """Every hit a search with these arguments shows, in its order: filtered and sorted here, in Python."""
    db = open_db(archive)
    cursor = db.execute(EVERY_HIT, {"q": q})
    names = [d[0] for d in cursor.description]
    hits = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    users = dict(db.execute("SELECT name, key FROM users").fetchall())
    db.close()
    keep = {
        "site": lambda h, v: str(h["site_id"]) == v or (v == "Other" and h["site_id"] == 2),
        "type": lambda h, v: h["type"] == v,
        "year": lambda h, v: (h["date_gmt"] or "")[:4] == v,
        "author": lambda h, v: h["author"] in (v, users.get(v)),
        "category": lambda h, v: v in json.loads(h["categories"] or "[]"),
        "tag": lambda h, v: v in json.loads(h["tags"] or "[]"),
        "from": lambda h, v: h["date_gmt"] is not None and h["date_gmt"] >= v,
        "to": lambda h, v: h["date_gmt"] is not None and h["date_gmt"][:len(v)] <= v,
    }
    hits = [h for h in hits if all(keep[name](h, value) for name, value in args.items() if name in keep)]
    sort = args.get("sort", "relevance")
    if sort == "relevance":
        hits.sort(key=lambda h: (h["score"], h["kind"], h["rid"]))
    else:
        hits.sort(key=lambda h: (h["date_gmt"] or "", h["kind"], h["rid"]), reverse=sort == "newest")
    return hits


def _keys(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(row["kind"], row["key"]) for row in rows]


def _get(served: str, path: str, args: dict[str, str]) -> requests.Response:
    return requests.get(f"{served}{path}?{urlencode(args)}", timeout=120)


SEARCHES = [
    {"q": "compost"},  # more hits than a download's chunk, deleted ones among the best
    {"q": "compost", "type": "page"},
    {"q": "compost", "site": "2", "sort": "newest"},
    {"q": "compost", "site": "Other", "tag": "tag 3"},  # a site by part of its name, as the command line takes it
    {"q": "compost", "from": "2018-03", "to": "2020", "sort": "oldest"},
    {"q": "compost", "author": "Author 1.2", "category": "Category 1"},
    {"q": "compost", "year": "2024", "sort": "newest"},  # comments and posts
    {"q": "seed", "sort": "oldest"},  # undated posts among the hits: last when oldest first
]


@pytest.mark.parametrize("args", SEARCHES, ids=lambda args: urlencode(args))
def test_the_downloads_are_every_row_of_the_pages_in_their_order(archive: str, served: str,
                                                                  args: dict[str, str]) -> None:
    expected = _keys(_reference(archive, args, q='"' + args["q"] + '"'))
    first = _get(served, "/-/wparchive/search.json", args).json()
    assert first["total"] == len(expected) > 0
    everything = _get(served, "/-/wparchive/results.json", args)
    assert everything.status_code == 200, everything.text
    assert "attachment" in everything.headers["content-disposition"]
    rows = everything.json()
    assert _keys(rows) == expected
    # the pages show the same rows: the first two and the last
    last = (len(expected) - 1) // PAGE_SIZE + 1
    for page in sorted({1, 2, last}):
        shown = _get(served, "/-/wparchive/search.json", {**args, "page": str(page)}).json()["rows"]
        start = (page - 1) * PAGE_SIZE
        assert [(r["kind"], r["key"], r["score"], r["snippet"]) for r in shown] == [
            (r["kind"], r["key"], r["score"], r["snippet"]) for r in rows[start:start + PAGE_SIZE]]
    # CSV and JSON lines: the same rows, the same columns, the same snippets
    table = list(csv.DictReader(io.StringIO(_get(served, "/-/wparchive/results.csv", args).text)))
    assert [(r["kind"], r["key"], r["snippet"]) for r in table] == [(r["kind"], r["key"], r["snippet"] or "")
                                                                    for r in rows]
    assert list(table[0]) == list(RESULT_FIELDS) == list(rows[0])
    lines = _get(served, "/-/wparchive/results.jsonl", args).text.splitlines()
    assert [json.loads(line) for line in lines] == rows


def test_a_download_reads_past_its_first_chunk(archive: str, served: str) -> None:
    rows = _get(served, "/-/wparchive/results.json", {"q": "compost"}).json()
    assert len(rows) > CHUNK  # two chunks at least, the second after the last row of the first
    assert _keys(rows) == _keys(_reference(archive, {}))


@pytest.mark.parametrize("sort", ["relevance", "newest", "oldest"])
def test_chunks_cut_through_ties_lose_and_repeat_nothing(archive: str, sort: str) -> None:
    # Chunks of 7 cut through the thirty twins (one score) and through posts of one date.
    db = open_db(archive)
    add_search_functions(db.conn)
    request = SearchRequest("seed", sort=sort)
    chunks = list(run_sync(db.conn, result_steps(request, chunk=7)))
    assert {len(chunk) for chunk in chunks[:-1]} == {7}
    rows = [row for chunk in chunks for row in chunk]
    assert _keys(rows) == _keys(_reference(archive, {"sort": sort}, q='"seed"'))
    twins = [row for row in rows if row["title"] == "Twin"]  # the live ones: some are deleted or incomplete
    assert len(twins) > 2 * 7 and len({row["score"] for row in twins}) == 1


def test_no_control_character_leaves_the_archive_snippets_are_marked_plainly(served: str) -> None:
    page = _get(served, "/-/wparchive/search.json", {"q": "compost"}).json()
    assert all("[[compost]]" in r["snippet"] and "<mark>compost</mark>" in r["snippet_html"] for r in page["rows"])
    for fmt in ("csv", "json", "jsonl"):
        text = _get(served, f"/-/wparchive/results.{fmt}", {"q": "compost heap"}).text
        assert "[[compost]] [[heap]]" in text
        assert not any(c in text for c in "\x02\x03"), fmt
    canned = requests.get(f"{served}/archive/search.csv?q=compost&_size=max", timeout=60).text
    assert "[[compost]]" in canned and "\x02" not in canned
    shown = requests.get(f"{served}/archive/search?q=compost", timeout=60).text
    assert "<mark>compost</mark>" in shown and "[[compost]]" not in shown


@pytest.mark.parametrize("q, reference", [
    ("compos*", '"compost"'),  # every hit holds compost, and no other word starts so
    ("compost NOT seed", "compost NOT seed"),
    ("NEAR(compost heap, 1)", "NEAR(compost heap, 1)"),
    ('"compost heap" OR tea', '"compost heap" OR tea'),  # posts hold the one, comments the other
])
def test_advanced_mode_finds_what_fts5_syntax_asks_for(archive: str, served: str, q: str, reference: str) -> None:
    args = {"q": q, "advanced": "1"}
    expected = _keys(_reference(archive, {}, q=reference))
    page = _get(served, "/-/wparchive/search.json", args).json()
    assert page["total"] == len(expected) > 0
    assert _keys(_get(served, "/-/wparchive/results.json", args).json()) == expected
    html = _get(served, "/-/wparchive/search", args).text
    assert f'class="wparchive-count">{len(expected):,} result' in html


def test_a_column_filter_works_with_a_type_and_says_why_without(archive: str, served: str) -> None:
    args = {"q": "title:twin", "advanced": "1", "type": "post"}
    expected = _keys(_reference(archive, {"type": "post"}, q="twin"))  # the word is in no text: titles alone
    assert len(expected) > 10 and _get(served, "/-/wparchive/search.json", args).json()["total"] == len(expected)
    assert _keys(_get(served, "/-/wparchive/results.json", args).json()) == expected
    without = _get(served, "/-/wparchive/search.json", {"q": "title:twin", "advanced": "1"})
    assert without.status_code == 400 and "comments author_name and content_text" in without.json()["error"]


def test_a_malformed_advanced_search_or_date_is_a_message(served: str) -> None:
    for args, says in [({"q": "compost AND (", "advanced": "1"}, "not a valid search in advanced mode"),
                       ({"q": "compost", "from": "2023-13-01"}, "is not a date"),
                       ({"q": "compost", "sort": "random"}, "Sort by relevance, newest, oldest")]:
        page = _get(served, "/-/wparchive/search", args)
        assert page.status_code == 200 and "message-error" in page.text and says in page.text
        for path in ("/-/wparchive/search.json", "/-/wparchive/results.json", "/-/wparchive/results.jsonl"):
            answer = _get(served, path, args)
            assert answer.status_code == 400 and says in answer.json()["error"], (path, answer.text)
        answer = _get(served, "/-/wparchive/results.csv", args)
        assert answer.status_code == 400 and says in answer.text


def test_the_page_has_a_site_facet_dates_and_an_order_and_its_links_keep_them(served: str) -> None:
    args = {"q": "compost", "type": "post", "from": "2017-01-01", "to": "2022-12-31", "sort": "newest"}
    data = _get(served, "/-/wparchive/search.json", args).json()
    assert {f["label"] for f in data["facets"]["site"]} == {"Example", "Other Garden"}
    dates = [r["date_gmt"] for r in data["rows"]]
    assert dates == sorted(dates, reverse=True) and "2017-01-01" <= dates[-1] <= dates[0] < "2023"
    page = lxml.html.fromstring(_get(served, "/-/wparchive/search", args).text)
    assert page.xpath("//input[@name='from']/@value") == ["2017-01-01"]
    assert page.xpath("//select[@name='sort']/option[@selected]/@value") == ["newest"]
    for fmt in ("csv", "json"):
        (href,) = page.xpath(f"//a[@class='{fmt}']/@href")
        assert urlsplit(href).path == f"/-/wparchive/results.{fmt}"
        assert dict(parse_qsl(urlsplit(href).query)) == args
    (site_link,) = page.xpath("//a[@class='facet'][text()='Other Garden']/@href")
    assert dict(parse_qsl(urlsplit(site_link).query)) == {**args, "site": "2"}
    narrowed = _get(served, "/-/wparchive/search.json", {**args, "site": "2"}).json()
    assert 0 < narrowed["total"] < data["total"] and {r["site_name"] for r in narrowed["rows"]} == {"Other Garden"}


def test_a_download_past_datasettes_time_limit_says_so(tmp_path: Path) -> None:
    path = str(tmp_path / "archive.db")
    _plain_archive(path, posts=5000, word_every=1)

    async def fetch(url: str):  # type: ignore[no-untyped-def]
        ds = build_datasette(path, config=_config(tmp_path, sql_time_limit_ms=1))
        await ds.invoke_startup()
        return await ds.client.get(url)

    for fmt in ("csv", "json"):
        answer = asyncio.run(fetch(f"/-/wparchive/results.{fmt}?q=compost&type=post"))
        assert answer.status_code == 503 and "The search took too long" in answer.text
        shutil.rmtree(tmp_path / "config")


# --- the command line ----------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wparchive", "search", *args], capture_output=True, text=True,
                          timeout=300)


CLI_SEARCHES = [
    (["compost"], {"q": "compost"}),
    (["--site", "Other", "--tag", "tag 3", "compost"], {"q": "compost", "site": "Other", "tag": "tag 3"}),
    (["--since", "2018-03", "--until", "2020", "--sort", "oldest", "compost"],
     {"q": "compost", "from": "2018-03", "to": "2020", "sort": "oldest"}),
    (["--type", "page", "--author", "Author 1.2", "--sort", "newest", "compost"],
     {"q": "compost", "type": "page", "author": "Author 1.2", "sort": "newest"}),
    (["--advanced", "--year", "2024", "compos* NOT seed"], {"q": "compos* NOT seed", "advanced": "1", "year": "2024"}),
]


@pytest.mark.parametrize("options, args", CLI_SEARCHES, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_the_command_line_finds_what_the_page_downloads(archive: str, served: str, options: list[str],
                                                        args: dict[str, str]) -> None:
    result = _cli("--db", archive, "--format", "jsonl", *options)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows == _get(served, "/-/wparchive/results.json", args).json() and rows


def test_the_command_lines_formats_and_limit(archive: str) -> None:
    limited = _cli("--db", archive, "--limit", "3", "--format", "csv", "compost heap")
    assert limited.returncode == 0, limited.stderr
    table = list(csv.DictReader(io.StringIO(limited.stdout)))
    assert len(table) == 3 and list(table[0]) == list(RESULT_FIELDS)
    assert all("[[compost]] [[heap]]" in row["snippet"] for row in table)
    as_json = json.loads(_cli("--db", archive, "--limit", "3", "--format", "json", "compost heap").stdout)
    assert [r["key"] for r in as_json] == [r["key"] for r in table]
    text = _cli("--db", archive, "--limit", "2", "compost heap")
    assert text.returncode == 0 and text.stderr == "2 results\n"
    first = text.stdout.split("\n\n")[0].splitlines()
    assert first[0] == f"1. {table[0]['title']}" and "[[compost]] [[heap]]" in first[2]
    assert first[3].strip() == table[0]["key"]  # no link in this archive: the key
    assert "\x02" not in text.stdout and "\x1b" not in text.stdout  # not a terminal: no colours either


@pytest.mark.parametrize("options, says, code", [
    (["--advanced", "compost AND ("], "Error: That is not a valid search in advanced mode", 2),
    (["--from", "yesterday", "compost"], "Error: The from date 'yesterday' is not a date", 2),
    (["--format", "json", ""], "Error: Give the words to search for.", 2),
])
def test_a_search_that_cannot_run_is_one_line(archive: str, options: list[str], says: str, code: int) -> None:
    result = _cli("--db", archive, *options)
    assert result.returncode == code and result.stdout == ""
    assert result.stderr.startswith(says) and len(result.stderr.splitlines()) == 1, result.stderr


def test_a_missing_archive_is_one_line(tmp_path: Path) -> None:
    result = _cli("--db", str(tmp_path / "none.db"), "compost")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == f"Error: {tmp_path / 'none.db'} does not exist; nothing to search\n"
    assert not (tmp_path / "none.db").exists()
