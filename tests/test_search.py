"""Ranked search ranks in the full-text index first and looks up only the best hits: its page,
total and facets must be exactly those of ranking every live hit, deleted rows among the best
included."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from datasette.app import Datasette

from wparchive.db import ensure_db_shape, open_db
from wparchive.db.queries import SEARCH_QUERY_ROWS, SEARCH_QUERY_SQL
from wparchive.paths import config_dir
from wparchive.serve import build_datasette, load_metadata
from wparchive.web.search import PAGE_SIZE, run_search

WORDS = ["compost", "garden", "seed", "rain", "bean", "frost"]

# Every live hit ranked, by brute force: what the search must agree with.
EVERY_HIT = """
    SELECT 'post' AS kind, p.key, p.type, substr(p.date_gmt, 1, 4) AS year, p.author, p.categories,
           bm25(posts_fts, 10.0, 1.0, 3.0) AS score
    FROM posts_fts JOIN posts p ON p.rowid = posts_fts.rowid WHERE posts_fts MATCH :q AND p.deleted_at IS NULL
    UNION ALL
    SELECT 'comment', c.key, 'comment', substr(c.date_gmt, 1, 4), c.author, NULL, bm25(comments_fts, 2.0, 1.0)
    FROM comments_fts JOIN comments c ON c.rowid = comments_fts.rowid
    WHERE comments_fts MATCH :q AND c.deleted_at IS NULL
    ORDER BY score"""


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("search") / "archive.db"
    db = open_db(str(path))
    rng = random.Random(5)
    posts = []
    for n in range(1, 1601):
        # lengths all different, so that no two scores tie
        text = " ".join(["compost"] * rng.randint(1, 4) + rng.choices(WORDS[1:], k=40 + n))
        posts.append((f"1-{n}", 1, n, "post" if n % 7 else "page", f"T{n} {'compost' if n % 50 == 0 else ''}",
                      f"20{10 + n % 9:02d}-01-01T00:00:00", f"1-{1 + n % 4}",
                      json.dumps([f"Category {n % 5}"]), json.dumps([f"tag {n % 3}"]), text))
    with db.conn:
        db.execute("INSERT INTO sites (id, home, name) VALUES (1, 'https://example.org', 'Example')")
        db.conn.executemany("INSERT INTO users (key, site_id, wp_id, name) VALUES (?, 1, ?, ?)",
                            [(f"1-{i}", i, f"Author {i}") for i in range(1, 5)])
        db.conn.executemany("INSERT INTO posts (key, site_id, wp_id, type, title, date_gmt, author, categories, tags, "
                            "content_text) VALUES (?,?,?,?,?,?,?,?,?,?)", posts)
        db.conn.executemany("INSERT INTO comments (key, site_id, wp_id, post, author_name, date_gmt, content_text) "
                            "VALUES (?, 1, ?, '1-1', 'Reader', '2024-01-01', ?)",
                            [(f"1-{c}", c, "compost " * (c % 3 + 1) + "tea " * c) for c in range(1, 300)])
    ensure_db_shape(db)
    # The best hits of all, deleted: the search must reach past them.
    best = [row[0] for row in db.execute("SELECT p.key FROM posts_fts JOIN posts p ON p.rowid = posts_fts.rowid "
                                         "WHERE posts_fts MATCH 'compost' ORDER BY bm25(posts_fts, 10.0, 1.0, 3.0) "
                                         "LIMIT 6")]
    with db.conn:
        db.conn.executemany("UPDATE posts SET deleted_at = '2026-01-01' WHERE key = ?", [(k,) for k in best])
        db.execute("UPDATE comments SET deleted_at = '2026-01-01' WHERE wp_id < 5")
    return path


def _search(path: Path, text: str, **kwargs):  # type: ignore[no-untyped-def]
    database = Datasette([str(path)]).get_database()
    return asyncio.run(run_search(database, text, advanced=False, **kwargs))


def _reference(path: Path, where: str = "1") -> list[dict[str, object]]:
    db = open_db(str(path))
    cursor = db.execute(f"SELECT * FROM ({EVERY_HIT}) WHERE {where}", {"q": '"compost"'})
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.mark.parametrize("page", [1, 3, 60])
def test_pages_and_total_are_those_of_ranking_every_live_hit(archive: Path, page: int) -> None:
    every = _reference(archive)
    assert len(every) > 1000  # more hits than the facets sample
    results = _search(archive, "compost", filters={}, page=page)
    assert results.total == len(every)
    start = (page - 1) * PAGE_SIZE
    assert [(r["key"], r["kind"]) for r in results.rows] == [(r["key"], r["kind"]) for r in every[start:start + PAGE_SIZE]]
    assert all(r["snippet_html"] for r in results.rows)


def test_facets_count_the_best_thousand_live_hits(archive: Path) -> None:
    best = _reference(archive)[:1000]
    facets = _search(archive, "compost", filters={}).facets
    assert {f["value"]: f["n"] for f in facets["type"]} == Counter(r["type"] for r in best)
    categories = Counter(c for r in best if r["categories"] for c in json.loads(str(r["categories"])))
    assert {f["value"]: f["n"] for f in facets["category"]} == categories
    authors = Counter(r["author"] for r in best if r["author"])
    assert {f["value"]: f["n"] for f in facets["author"]} == authors
    assert {f["label"] for f in facets["author"]} <= {f"Author {i}" for i in range(1, 5)}
    counts = [f["n"] for f in facets["year"]]
    assert counts == sorted(counts, reverse=True)


def test_a_filtered_search_ranks_only_what_the_filter_leaves(archive: Path) -> None:
    pages = _reference(archive, "type = 'page'")
    results = _search(archive, "compost", filters={"type": "page"})
    assert results.total == len(pages) > PAGE_SIZE
    assert [r["key"] for r in results.rows] == [r["key"] for r in pages[:PAGE_SIZE]]
    assert {f["value"] for f in results.facets["type"]} == {"page"}


def test_the_search_canned_query_gives_the_best_500_live_hits(archive: Path) -> None:
    response = _get(archive, "/archive/search.json?q=compost&_shape=array&_size=max")
    assert response.status_code == 200, response.text
    rows = response.json()
    assert [(r["kind"], r["key"]) for r in rows] == [(r["kind"], r["key"]) for r in _reference(archive)[:500]]
    assert all("\x02" in r["snippet"] for r in rows)


def _get(path: Path, url: str):  # type: ignore[no-untyped-def]
    async def fetch():  # type: ignore[no-untyped-def]
        ds = build_datasette(str(path))
        await ds.invoke_startup()
        return await ds.client.get(url)
    return asyncio.run(fetch())


def test_the_search_canned_query_ranks_as_the_search_page(archive: Path) -> None:
    canned = _get(archive, "/archive/search.json?q=compost&_size=max").json()
    assert canned["query"]["sql"] == SEARCH_QUERY_SQL  # the code's SQL, not a copy in the metadata
    rows = [dict(zip(canned["columns"], row, strict=True)) for row in canned["rows"]]
    assert len(rows) == SEARCH_QUERY_ROWS
    last = SEARCH_QUERY_ROWS // PAGE_SIZE
    for page in (1, 2, last):  # the first pages and the last of the canned query's hits
        shown = _get(archive, f"/-/wparchive/search.json?q=compost&page={page}").json()["rows"]
        start = (page - 1) * PAGE_SIZE
        assert [(r["kind"], r["key"], r["score"]) for r in rows[start:start + PAGE_SIZE]] == [
            (r["kind"], r["key"], r["score"]) for r in shown]
    assert "bm25" not in (config_dir() / "metadata.yml").read_text(encoding="utf-8")
    assert "search" not in load_metadata(str(archive), config_dir())["databases"]["archive"]["queries"]


def test_only_archives_get_the_search_canned_query(archive: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain.db"
    with sqlite3.connect(plain) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")

    async def fetch(url: str):  # type: ignore[no-untyped-def]
        return await Datasette([str(archive), str(plain)]).client.get(url)

    # the archive's own canned queries (config/metadata.yml), then the plugin's search
    bundled = list(load_metadata(str(archive), config_dir())["databases"]["archive"]["queries"])
    assert [q["name"] for q in asyncio.run(fetch("/archive.json")).json()["queries"]] == [*bundled, "search"]
    assert asyncio.run(fetch("/plain.json")).json()["queries"] == []
    assert asyncio.run(fetch("/plain/search.json?q=compost")).status_code == 404


def test_the_search_page_as_json(archive: Path) -> None:
    response = _get(archive, "/-/wparchive/search.json?q=compost&type=page&page=2")
    assert response.status_code == 200
    data = response.json()
    pages = _reference(archive, "type = 'page'")
    assert data["total"] == len(pages) and data["filters"] == {"type": "page"} and data["page"] == 2
    assert [r["key"] for r in data["rows"]] == [r["key"] for r in pages[PAGE_SIZE:2 * PAGE_SIZE]]
    assert all("<mark>" in r["snippet_html"] and r["author_name"].startswith("Author") for r in data["rows"])
    assert data["facets"]["type"] == [{"value": "page", "label": "page", "n": min(len(pages), 1000)}]


@pytest.mark.parametrize("url, status, says", [
    ("/-/wparchive/search.json", 400, "?q="),
    ("/-/wparchive/search.json?q=compost+AND+&advanced=1", 400, "advanced mode"),
])
def test_the_search_json_says_what_is_wrong(archive: Path, url: str, status: int, says: str) -> None:
    response = _get(archive, url)
    assert response.status_code == status and says in response.json()["error"]
