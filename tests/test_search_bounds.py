"""Search stays bounded whatever a site sends: a 50 MB post does not freeze Datasette.

FTS5's snippet() costs the square of the matches in the text it reads, inside one call that
Datasette's time limit cannot interrupt: over a 50 MB post that repeats the word searched for, the
search page never answered. Snippets are now made from a bounded prefix of each text, chunk by
chunk (wparchive_snippet); the full-text index still holds every word.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from test_lifecycle import _read_line, no_orphans  # noqa: F401 - the fixture checks every process ends
from wparchive.db import ensure_db_shape, open_db
from wparchive.db.queries import MARK_END, MARK_START, SNIPPET_DIRECT_CHARS, SNIPPET_SOURCE_CHARS
from wparchive.paths import config_dir
from wparchive.serve import build_datasette
from wparchive.web.search import SnippetMaker

BIG = 50_000_000  # characters of the hostile post's text
BOUND = 10.0  # seconds: generous; measured well under one when the bound was set


def _archive(path: str, big_text: str | None = None, posts: int = 300, word_every: int = 30) -> None:
    """An archive written straight into wparchive's schema: `posts` normal posts (every
    `word_every`-th one mentions compost) and, with big_text, one post of that text."""
    db = open_db(path)
    rows = []
    for n in range(1, posts + 1):
        text = f"Post {n} is about {'compost' if n % word_every == 0 else 'marigolds'} and the weather in spring."
        rows.append((f"1-{n}", 1, n, "post", f"Post {n}", f"2024-01-{1 + n % 28:02d}T00:00:00", text, text[:40]))
    if big_text is not None:
        rows.append(("1-99999", 1, 99999, "post", "The long one", "2024-02-01T00:00:00", big_text, "A long post"))
    with db.conn:
        db.execute("INSERT INTO sites (id, home, name, gmt_offset) VALUES (1, 'https://example.org', 'Example', '0')")
        db.conn.executemany("INSERT INTO posts (key, site_id, wp_id, type, title, date_gmt, content_text, "
                            "excerpt_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        if big_text is not None:  # as a harvest stores it: the HTML as long as the text
            db.execute("UPDATE posts SET content_html = content_text WHERE key = '1-99999'")
    ensure_db_shape(db)
    db.close()


def _big_text() -> str:
    opening = "Zanzibar opens this post. "
    filler = "compost heap "  # the word searched for, millions of times over
    ending = " finalword."
    return opening + filler * ((BIG - len(opening) - len(ending)) // len(filler)) + ending


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory) -> str:  # type: ignore[no-untyped-def]
    path = str(tmp_path_factory.mktemp("big") / "archive.db")
    _archive(path, _big_text())
    return path


@contextmanager
def serve_archive(path: str, *more: str) -> Iterator[str]:
    """`wparchive serve` on an archive (and more, served with it), with the bundled settings (3 s time
    limit): its address."""
    process = subprocess.Popen([sys.executable, "-m", "wparchive", "serve", "--db", path, *more, "--port", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = _read_line(process, timeout=60)
        assert "http://127.0.0.1:" in line, line
        # Read what the server logs from now on (queries that fail on an archive that cannot be searched
        # are logged whole): a pipe nobody reads fills up, and the server blocks writing to it.
        assert process.stderr is not None
        threading.Thread(target=process.stderr.read, daemon=True).start()
        yield line.split(" at ")[1].split()[0].rstrip("/")
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def serving(big_archive: str) -> Iterator[str]:
    """`wparchive serve` on the archive with the 50 MB post."""
    with serve_archive(big_archive) as address:
        yield address


def _timed(url: str) -> tuple[requests.Response, float]:
    started = time.monotonic()
    answer = requests.get(url, timeout=300)
    return answer, time.monotonic() - started


def test_a_50_mb_post_is_found_and_search_answers_in_bounded_time(serving) -> None:
    base = serving
    # a word near its start: found, with its snippet
    answer, seconds = _timed(f"{base}/-/wparchive/search.json?q=zanzibar")
    assert answer.status_code == 200 and seconds < BOUND, seconds
    rows = answer.json()["rows"]
    assert [row["key"] for row in rows] == ["1-99999"]
    assert "<mark>Zanzibar</mark> opens this post" in rows[0]["snippet_html"]
    # the word it repeats millions of times: what froze the search before
    answer, seconds = _timed(f"{base}/-/wparchive/search.json?q=compost")
    assert answer.status_code == 200 and seconds < BOUND, seconds
    found = answer.json()
    assert found["total"] == 11 and "1-99999" in [row["key"] for row in found["rows"]]
    big = next(row for row in found["rows"] if row["key"] == "1-99999")
    assert "<mark>compost</mark> heap" in big["snippet_html"] and len(big["snippet_html"]) < 1000
    answer, seconds = _timed(f"{base}/-/wparchive/search?q=compost")
    assert answer.status_code == 200 and seconds < BOUND, seconds
    assert "The long one" in answer.text
    # the canned query: the best 500 hits, every one with its snippet
    answer, seconds = _timed(f"{base}/archive/search.json?q=compost&_shape=array")
    assert answer.status_code == 200 and seconds < BOUND, seconds
    assert "1-99999" in [row["key"] for row in answer.json()]
    # a word past the prefix snippets are made from: still found (the index holds every word),
    # its snippet the post's opening, unmarked
    answer, seconds = _timed(f"{base}/-/wparchive/search.json?q=finalword")
    assert answer.status_code == 200 and seconds < BOUND, seconds
    (row,) = answer.json()["rows"]
    assert row["key"] == "1-99999" and row["snippet_html"].startswith("Zanzibar opens this post")
    assert "<mark>" not in row["snippet_html"]


def test_a_snippet_costs_milliseconds_whatever_the_text() -> None:
    snippet = SnippetMaker()
    hostile = "a " * 5_000_000  # one letter, ten megabytes of it: every token a match
    started = time.monotonic()
    made = snippet('"a"', "A title", None, hostile[:SNIPPET_SOURCE_CHARS], None)
    assert time.monotonic() - started < 2.0  # the whole text through snippet() took minutes
    assert made is not None and f"{MARK_START}a{MARK_END}" in made
    # the words, the stemming and the columns are those of the archive's index
    assert snippet('"gardens"', "Notes", None, "We walked in the garden after rain.", None) == \
        f"We walked in the {MARK_START}garden{MARK_END} after rain."
    assert MARK_START in (snippet("title: notes", "Notes", None, "body", None) or "")
    assert MARK_START in (snippet('"lena"', None, "Lena", "A comment", None) or "")
    # words further on than the prefix, or a query the small table cannot run: the opening, unmarked
    far = "Opening words of a long text. " + "filler " * (SNIPPET_SOURCE_CHARS // 7) + "needle"
    assert snippet('"needle"', "T", None, far[:SNIPPET_SOURCE_CHARS], None) == "Opening words of a long text. " \
        + " ".join(["filler"] * 18) + "…"
    assert snippet("NEAR(", "T", None, "short text", None) == "short text"
    assert snippet("", "T", None, "short text", None) is None


def _config(tmp_path: Path, **settings: Any) -> str:
    folder = tmp_path / "config"
    folder.mkdir()
    shutil.copy(config_dir() / "metadata.yml", folder / "metadata.yml")
    values = json.loads((config_dir() / "settings.json").read_text(encoding="utf-8"))
    (folder / "settings.json").write_text(json.dumps({**values, **settings}), encoding="utf-8")
    return str(folder)


def test_datasettes_time_limit_stops_the_plugins_own_search(tmp_path) -> None:
    path = str(tmp_path / "archive.db")
    _archive(path, posts=5000, word_every=1)

    async def search(config: str) -> tuple[int, Any, float]:
        ds = build_datasette(path, config=config)
        await ds.invoke_startup()
        started = time.monotonic()
        answer = await ds.client.get("/-/wparchive/search.json?q=compost&type=post")
        return answer.status_code, answer.json(), time.monotonic() - started

    status, body, _ = asyncio.run(search(_config(tmp_path, sql_time_limit_ms=120_000)))
    assert status == 200 and body["total"] == 5000  # time enough: answered
    shutil.rmtree(tmp_path / "config")
    status, body, seconds = asyncio.run(search(_config(tmp_path, sql_time_limit_ms=1)))
    assert (status, body) == (503, {"error": "The search took too long; add words or a filter."})
    assert seconds < BOUND


def test_the_most_repetitive_posts_still_answer_in_bounded_time(tmp_path) -> None:
    # Every word a match, in posts just short enough for the index's own snippet() and in longer
    # ones: the costliest snippets there are, twenty to a page and hundreds in the canned query.
    path = str(tmp_path / "archive.db")
    db = open_db(path)
    # just under SNIPPET_DIRECT_CHARS with its title (the index's own snippet()), and longer than
    # SNIPPET_SOURCE_CHARS (wparchive_snippet, over a prefix)
    short, long = "a " * 990, "a " * 60_000
    assert len("Post 199" + short) <= SNIPPET_DIRECT_CHARS and len(long) > SNIPPET_SOURCE_CHARS
    with db.conn:
        db.execute("INSERT INTO sites (id, home, name, gmt_offset) VALUES (1, 'https://example.org', 'Example', '0')")
        db.conn.executemany("INSERT INTO posts (key, site_id, wp_id, type, title, content_text) "
                            "VALUES (?, 1, ?, 'post', ?, ?)",
                            [(f"1-{n}", n, f"Post {n}", short if n % 2 else long) for n in range(1, 201)])
    ensure_db_shape(db)
    db.close()

    async def timed(paths: list[str]) -> list[tuple[int, float, str]]:
        ds = build_datasette(path)
        await ds.invoke_startup()
        answers = []
        for url in paths:
            started = time.monotonic()
            answer = await ds.client.get(url)
            answers.append((answer.status_code, time.monotonic() - started, answer.text))
        return answers

    answers = asyncio.run(timed(["/-/wparchive/search.json?q=a", "/-/wparchive/search?q=a",
                                 "/archive/search.json?q=a&_shape=array"]))
    assert all(seconds < BOUND for _, seconds, _ in answers), [answer[:2] for answer in answers]
    # the page's twenty hits are answered; the canned query's hundreds of snippets are, or
    # Datasette's time limit (3 s) stops them and says so
    assert [status for status, _, _ in answers[:2]] == [200, 200]
    status, _, text = answers[2]
    assert status == 200 or (status == 400 and "SQL query took too long" in text)
