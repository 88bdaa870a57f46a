"""One search over many archives: `wparchive serve` with thirteen of them (past Datasette's ten attached
databases) answers the search page, search.json and the downloads with one merged ranking, each row
naming its database and linking to that database's reader page; pages cut that ranking without losing
or repeating a hit; facets are the sums of the archives'; an archive without a full-text index is
skipped, saying so; `wparchive search` over the same files gives the same rows.

The archives are copies of one harvest of the bundled sample site (by the real CLI), their texts and
sites altered with sqlite-utils so that each ranks the hits its own way.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit

import lxml.html
import pytest
import requests
import sqlite_utils

from test_search_bounds import serve_archive
from wparchive.sample.content import sample_site
from wparchive.sample.server import WordPressServer
from wparchive.search import PAGE_SIZE, RESULT_FIELDS
from wparchive.serve import build_datasette

ARCHIVES = 12
WORD = "compost"

# Every live hit of an archive with what orders it, by brute force: bm25 as the search weighs the columns.
EVERY_HIT = """
    SELECT 'post' AS kind, posts_fts.rowid AS rid, p.key, p.type, p.date_gmt, p.site_id,
           bm25(posts_fts, 10.0, 1.0, 3.0) AS score
    FROM posts_fts JOIN posts p ON p.rowid = posts_fts.rowid
    WHERE posts_fts MATCH :q AND p.deleted_at IS NULL AND p.incomplete IS NULL
    UNION ALL
    SELECT 'comment', comments_fts.rowid, c.key, 'comment', c.date_gmt, c.site_id, bm25(comments_fts, 2.0, 1.0)
    FROM comments_fts JOIN comments c ON c.rowid = comments_fts.rowid
    WHERE comments_fts MATCH :q AND c.deleted_at IS NULL AND c.incomplete IS NULL"""


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Twelve archives of four sites (each site in three of them), their posts altered each its own way."""
    folder = tmp_path_factory.mktemp("many")
    harvested = str(folder / "harvested.db")
    server = WordPressServer(sample_site()).start()
    try:
        done = subprocess.run([sys.executable, "-m", "wparchive", "harvest", server.home + "/", "--db", harvested,
                               "--delay", "0", "-q"], capture_output=True, text=True, timeout=300)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    paths = []
    for n in range(1, ARCHIVES + 1):
        path = str(folder / f"garden_{n:02d}.db")
        shutil.copy(harvested, path)
        db = sqlite_utils.Database(path)
        site = n % 4
        db["sites"].update(1, {"name": f"Garden {site}", "home": f"https://garden{site}.example/"})
        for key, rowid, text in db.execute("SELECT key, rowid, content_text FROM posts").fetchall():
            if (rowid + n) % 3 == 0:  # more of the word in some posts, fewer live posts in others
                db["posts"].update(key, {"content_text": f"{text} " + f"{WORD} " * (1 + (rowid * n) % 5)})
            elif (rowid + n) % 7 == 0:
                db["posts"].update(key, {"deleted_at": "2026-01-01"})
        db.close()
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def unsearchable(archives: list[str]) -> str:
    """An archive without its full-text index on posts."""
    path = str(Path(archives[0]).with_name("no_index.db"))
    shutil.copy(archives[0], path)
    db = sqlite_utils.Database(path)
    db["posts"].disable_fts()
    db.close()
    return path


@pytest.fixture(scope="module")
def served(archives: list[str], unsearchable: str) -> Iterator[str]:
    with serve_archive(*archives, unsearchable) as address:  # the first by --db, the others as arguments
        yield address


def _name(path: str) -> str:
    return Path(path).stem


def _hits(path: str) -> list[dict[str, Any]]:
    db = sqlite_utils.Database(path)
    cursor = db.execute(EVERY_HIT, {"q": f'"{WORD}"'})
    names = [d[0] for d in cursor.description]
    hits = [dict(zip(names, row, strict=True), database=_name(path)) for row in cursor.fetchall()]
    db.close()
    return hits


def _reference(archives: list[str], sort: str = "relevance", keep: Any = None) -> list[dict[str, Any]]:
    """Every hit of every archive in the merged order, here in Python: by relevance, each archive's
    ranking fused by reciprocal rank fusion (the first of each, then the second of each, …); by date,
    by date then kind; ties in the order the archives were given."""
    rankings = []
    for path in archives:
        hits = [hit for hit in _hits(path) if keep is None or keep(hit)]
        if sort == "relevance":
            hits.sort(key=lambda h: (h["score"], h["kind"], h["rid"]))
        else:
            hits.sort(key=lambda h: (h["date_gmt"] or "", h["kind"], h["rid"]), reverse=sort == "newest")
        rankings.append(hits)
    if sort == "relevance":
        placed = [(place, n, hit) for n, hits in enumerate(rankings) for place, hit in enumerate(hits)]
        return [hit for _, _, hit in sorted(placed, key=lambda entry: (entry[0], entry[1]))]
    every = [hit for hits in rankings for hit in hits]
    return sorted(every, key=lambda h: (h["date_gmt"] or "", h["kind"]), reverse=sort == "newest")


def _keys(rows: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(row["database"], row["kind"], row["key"]) for row in rows]


def _get(served: str, path: str, args: dict[str, str]) -> requests.Response:
    return requests.get(f"{served}{path}?{urlencode(args)}", timeout=120)


@pytest.mark.parametrize("args, keep", [
    ({"q": WORD}, None),
    ({"q": WORD, "sort": "newest"}, None),
    ({"q": WORD, "sort": "oldest", "type": "post"}, lambda hit: hit["type"] == "post"),
], ids=["relevance", "newest", "oldest posts"])
def test_one_ranking_of_every_archive_paged_without_loss_or_repeat(archives: list[str], served: str,
                                                                    args: dict[str, str], keep: Any) -> None:
    expected = _keys(_reference(archives, args.get("sort", "relevance"), keep))
    first = _get(served, "/-/wparchive/search.json", args).json()
    assert first["total"] == len(expected) > 2 * PAGE_SIZE
    assert first["databases"] == [_name(path) for path in archives]  # the one without an index is skipped
    shown = []
    for page in range(1, (len(expected) - 1) // PAGE_SIZE + 2):
        shown += _get(served, "/-/wparchive/search.json", {**args, "page": str(page)}).json()["rows"]
    assert _keys(shown) == expected and len(set(_keys(shown))) == len(shown)
    assert len({row["database"] for row in shown[:PAGE_SIZE]}) > 1  # the first page mixes the archives
    marked = [row for row in shown if "[[" in row["snippet"] and "<mark>" in row["snippet_html"]]
    assert marked == shown, [row["snippet"] for row in shown if row not in marked][:3]
    assert not any(c in str(value) for row in shown for value in row.values() for c in "\x02\x03")
    # the downloads: every merged row, with its database
    rows = _get(served, "/-/wparchive/results.json", args).json()
    assert _keys(rows) == expected and list(rows[0]) == list(RESULT_FIELDS)
    assert [(r["key"], r["score"], r["snippet"]) for r in rows] == [(r["key"], r["score"], r["snippet"]) for r in shown]
    table = list(csv.DictReader(io.StringIO(_get(served, "/-/wparchive/results.csv", args).text)))
    assert _keys(table) == expected and list(table[0]) == list(RESULT_FIELDS)
    lines = _get(served, "/-/wparchive/results.jsonl", args).text.splitlines()
    assert [json.loads(line) for line in lines] == rows


def test_facets_are_the_sums_of_the_archives(archives: list[str], served: str) -> None:
    data = _get(served, "/-/wparchive/search.json", {"q": WORD}).json()
    every = [hit for path in archives for hit in _hits(path)]
    # a site is its address across archives: site 1 of each archive is one of four gardens
    by_site = Counter(f"https://garden{int(hit['database'][-2:]) % 4}.example/" for hit in every)
    assert {f["value"]: f["n"] for f in data["facets"]["site"]} == by_site
    assert {f["label"] for f in data["facets"]["site"]} == {f"Garden {n}" for n in range(4)}
    assert {f["value"]: f["n"] for f in data["facets"]["database"]} == Counter(hit["database"] for hit in every)
    assert {f["value"]: f["n"] for f in data["facets"]["type"]} == Counter(hit["type"] for hit in every)
    assert sum(f["n"] for f in data["facets"]["database"]) == data["total"]
    # a facet's link narrows the search to it, in every archive
    garden = f"https://garden{2}.example/"
    narrowed = _get(served, "/-/wparchive/search.json", {"q": WORD, "site": garden}).json()
    assert narrowed["total"] == by_site[garden] and {r["site_name"] for r in narrowed["rows"]} == {"Garden 2"}
    one = _get(served, "/-/wparchive/search.json", {"q": WORD, "database": "garden_05"}).json()
    assert one["databases"] == ["garden_05"] and one["total"] == len(_hits(archives[4]))
    assert {r["database"] for r in one["rows"]} == {"garden_05"}


def test_each_hit_names_its_database_and_links_to_its_reader_page(served: str) -> None:
    page = lxml.html.fromstring(_get(served, "/-/wparchive/search", {"q": WORD}).text)
    results = page.xpath("//ol[@class='wparchive-results']/li")
    assert len(results) == PAGE_SIZE
    named = [item.xpath(".//span[@class='database']/text()")[0] for item in results]
    assert len(set(named)) > 1
    for item, database in zip(results, named, strict=True):
        (link,) = item.xpath(".//a[@class='result-title']/@href")
        if "/-/wparchive/post/" not in link:
            continue
        asked = dict(parse_qsl(urlsplit(link).query))
        assert asked.get("database", "garden_01") == database  # the first archive's need not be named
        reader = lxml.html.fromstring(requests.get(served + link, timeout=60).text)
        assert reader.xpath("//h1/text()") == [item.xpath(".//a[@class='result-title']/text()")[0]]
    # a post altered in one archive only reads as that archive has it
    marked = next(item for item, database in zip(results, named, strict=True) if database != "garden_01"
                  and "/-/wparchive/post/" in item.xpath(".//a[@class='result-title']/@href")[0])
    link = marked.xpath(".//a[@class='result-title']/@href")[0]
    assert "?database=" in link and requests.get(served + link, timeout=60).status_code == 200


def test_an_archive_without_a_search_index_is_skipped_saying_so(served: str, unsearchable: str) -> None:
    data = _get(served, "/-/wparchive/search.json", {"q": WORD}).json()
    assert len(data["skipped"]) == 1 and data["skipped"][0].startswith("no_index is not searched: ")
    assert data["skipped"][0].endswith("it has no full-text index; 'wparchive rebuild' on it brings it up to date.")
    assert data["total"] > 0
    page = _get(served, "/-/wparchive/search", {"q": WORD}).text
    assert "no_index is not searched" in page and "wparchive-results" in page
    alone = _get(served, "/-/wparchive/search.json", {"q": WORD, "database": "no_index"})
    assert alone.status_code == 400 and "no full-text index" in alone.json()["error"]


def test_an_archive_of_an_older_schema_served_as_it_is_is_skipped_saying_so(archives: list[str],
                                                                            tmp_path: Path) -> None:
    old = str(tmp_path / "old.db")
    shutil.copy(archives[1], old)
    db = sqlite_utils.Database(old)
    for index in db["comments"].indexes:
        if "incomplete" in index.columns:
            db.execute(f"DROP INDEX [{index.name}]")
    db["comments"].transform(drop={"incomplete"})  # as before wparchive kept what arrived in part
    db.close()

    async def search() -> Any:
        ds = build_datasette([archives[0], old])  # Datasette opens it as it is: nothing brings it up to date
        await ds.invoke_startup()
        return (await ds.client.get(f"/-/wparchive/search.json?q={WORD}")).json()

    data = asyncio.run(search())
    assert data["databases"] == ["garden_01"] and data["total"] == len(_hits(archives[0]))
    assert data["skipped"] == ["old is not searched: it is of an older wparchive (no such column: c.incomplete); "
                               "'wparchive rebuild' on it brings it up to date."]


# --- the command line ----------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wparchive", "search", *args], capture_output=True, text=True,
                          timeout=300)


def test_the_command_line_searches_the_same_archives_as_one(archives: list[str], unsearchable: str,
                                                            served: str) -> None:
    for args in ({"q": WORD}, {"q": WORD, "sort": "newest", "type": "post"}):
        options = [f"--{name}={value}" for name, value in args.items() if name != "q"]
        result = _cli(*options, "--format", "jsonl", WORD, *archives, unsearchable)
        assert result.returncode == 0, result.stderr
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        assert rows == _get(served, "/-/wparchive/results.json", args).json() and rows
        assert result.stderr.startswith("Note: no_index is not searched: it has no full-text index")
    # --db more than once is the same
    by_option = _cli(*[f"--db={path}" for path in archives], "--format", "jsonl", "--limit", "30", WORD)
    assert by_option.returncode == 0 and by_option.stderr == ""
    limited = [json.loads(line) for line in by_option.stdout.splitlines()]
    assert _keys(limited) == _keys(_reference(archives))[:30]
    text = _cli("--limit", "3", WORD, *archives[:3])
    assert text.returncode == 0 and text.stderr == "3 results\n"
    assert [block.splitlines()[1].rsplit(" · ", 1)[1] for block in text.stdout.split("\n\n")[:3]] == [
        "garden_01", "garden_02", "garden_03"]  # each archive's best, in the order given


def test_an_archive_that_fails_to_read_is_skipped_and_the_others_answer(archives: list[str], tmp_path: Path) -> None:
    """An archive whose tables are not as a search reads them past the hits (its users' names), served or
    searched beside a sound one: it is skipped saying why, wherever the search fails on it."""
    damaged = str(tmp_path / "damaged.db")
    shutil.copy(archives[1], damaged)
    db = sqlite_utils.Database(damaged)
    db.execute("ALTER TABLE users RENAME COLUMN name TO nom")
    db.close()
    reason = "damaged is not searched: reading it failed (no such column: name)"

    async def search() -> tuple[Any, Any, list[str]]:
        ds = build_datasette([archives[0], damaged])
        await ds.invoke_startup()
        page = await ds.client.get(f"/-/wparchive/search.json?q={WORD}")
        alone = await ds.client.get(f"/-/wparchive/search.json?q={WORD}&database=damaged")
        download = await ds.client.get(f"/-/wparchive/results.jsonl?q={WORD}")
        return page, alone, download.text.splitlines()

    page, alone, download = asyncio.run(search())
    assert page.status_code == 200, page.text
    data = page.json()
    assert data["databases"] == ["garden_01"] and data["total"] == len(_hits(archives[0]))
    assert len(data["skipped"]) == 1 and data["skipped"][0].startswith(reason)
    assert alone.status_code == 400 and "reading it failed (no such column: name)" in alone.json()["error"]
    assert {json.loads(line)["database"] for line in download} == {"garden_01"}
    assert len(download) == len(_hits(archives[0]))
    result = _cli("--format", "jsonl", WORD, archives[0], damaged)
    assert result.returncode == 0 and result.stderr.startswith(f"Note: {reason}"), result.stderr
    assert len(result.stdout.splitlines()) == len(_hits(archives[0]))


def test_a_database_that_is_no_archive_served_beside_one_is_left_out_of_the_search(archives: list[str],
                                                                                   tmp_path: Path) -> None:
    """As `datasette garden.db jobs.sqlite`: the search covers the archive alone, and names no other to mend."""
    jobs = str(tmp_path / "jobs.sqlite")
    sqlite_utils.Database(jobs)["jobs"].insert({"id": 1, "title": f"{WORD} turner"}, pk="id")

    async def search() -> tuple[Any, Any]:
        ds = build_datasette([archives[0], jobs])
        await ds.invoke_startup()
        return ((await ds.client.get(f"/-/wparchive/search.json?q={WORD}")).json(),
                await ds.client.get(f"/-/wparchive/search.json?q={WORD}&database=jobs"))

    data, named = asyncio.run(search())
    assert data["databases"] == ["garden_01"] and data["skipped"] == []
    assert data["total"] == len(_hits(archives[0]))
    assert named.status_code == 400
    assert named.json()["error"] == "There is no archive 'jobs' here; the archives are garden_01."


def test_each_site_facet_of_several_archives_leads_to_as_many_hits_as_it_counts(archives: list[str],
                                                                                 tmp_path: Path) -> None:
    """A multisite's sub-site (http://h/garden) in one archive and its main site (http://h) in another:
    the page's link of each site facet finds the hits that facet counts, not those of every address under it."""
    paths = []
    for path, home, name in ((archives[0], "http://h/garden", "Garden club"), (archives[1], "http://h", "Main")):
        copy = str(tmp_path / f"{name.split()[0].lower()}.db")
        shutil.copy(path, copy)
        db = sqlite_utils.Database(copy)
        db["sites"].update(1, {"home": home, "name": name})
        db.close()
        paths.append(copy)

    async def facets_and_their_links() -> list[tuple[str, int, int]]:
        ds = build_datasette(paths)
        await ds.invoke_startup()
        page = lxml.html.fromstring((await ds.client.get(f"/-/wparchive/search?q={WORD}")).text)
        (sites,) = page.xpath("//div[@class='wparchive-facets']/h3[.='Site']/following-sibling::ul[1]")
        found = []
        for item in sites.xpath("li"):
            (link,) = item.xpath("a/@href")
            shown = (await ds.client.get(link.replace("/-/wparchive/search?", "/-/wparchive/search.json?"))).json()
            found.append((item.xpath("a/text()")[0], int(item.xpath("text()")[-1]), shown["total"]))
        return found

    found = asyncio.run(facets_and_their_links())
    assert sorted(label for label, _, _ in found) == ["Garden club", "Main"]
    assert [(label, counted) for label, counted, _ in found] == [(label, total) for label, _, total in found]
    assert dict((label, counted) for label, counted, _ in found) == {"Garden club": len(_hits(archives[0])),
                                                                     "Main": len(_hits(archives[1]))}
