"""Harvesting an archive that Datasette is serving: neither side waits for the other, nor fails.

A real `wparchive serve` process answers four busy readers (table, facet, search and JSON pages,
and one deliberately slow SQL read that holds a read transaction longer than any busy timeout)
while three harvests run in a row against the sample site (incremental, --full, incremental):
every harvest succeeds and every answer is 200. WAL mode is what makes it so (readers never block
the writer); the checks below it hold the pieces to it: WAL, busy timeouts on both sides, and no
write transaction held open across a request to the site.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from test_lifecycle import _read_line, no_orphans  # noqa: F401 - the fixture checks every process ends
from wparchive.client import Client
from wparchive.db import open_db
from wparchive.db.schema import BUSY_TIMEOUT_MS
from wparchive.harvest import harvest_site
from wparchive.paths import config_dir
from wparchive.sample.site import CommentItem, Item, Site, TermItem
from wparchive.serve import build_datasette
from wparchive.web import READ_BUSY_TIMEOUT_MS

WORDS = "compost bees marigold rain seedlings shed".split()


def _site(posts: int = 600) -> Site:
    return Site(
        items=[Item(i, "post", f"Post {i} about {WORDS[i % 6]}",
                    f"<p>{' '.join(WORDS[(i + k) % 6] for k in range(40))} number {i}.</p>",
                    terms={"category": [1 + i % 3], "post_tag": [10 + i % 5]}) for i in range(1, posts + 1)],
        terms=[TermItem(t, "category", f"Category {t}") for t in range(1, 4)]
        + [TermItem(t, "post_tag", f"tag {t}") for t in range(10, 15)],
        comments=[CommentItem(c, 1 + c % posts, f"Comment {c} on {WORDS[c % 6]}") for c in range(1, 201)],
    )


def _change(site: Site, run: int) -> None:
    """What a site does between two harvests: edits, new posts, removed posts."""
    for item in site.items[run * 40:run * 40 + 40]:
        item.content = f"<p>Edited in round {run}: {' '.join(WORDS)}.</p>"
        item.modified_gmt = f"2025-0{run}-01T00:00:00"
    first_new = max(i.id for i in site.items) + 1
    site.items += [Item(i, "post", f"New post {i}", f"<p>compost {i}</p>") for i in range(first_new, first_new + 30)]
    del site.items[-60:-50]


def _slow_sql(target_seconds: float) -> str:
    """A read that holds a read transaction on the archive for about target_seconds (calibrated here)."""
    sql = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) "
           "SELECT count(*) AS n, (SELECT count(*) FROM posts) AS posts FROM c")
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE posts (x)")
    conn.set_progress_handler(lambda: 0, 1000)  # as Datasette's time limit does
    started = time.perf_counter()
    conn.execute(sql.format(n=1_000_000)).fetchone()
    per_second = 1_000_000 / (time.perf_counter() - started)
    conn.close()
    return sql.format(n=int(per_second * target_seconds))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Any, str, str]]:
    """A harvested archive, and `wparchive serve` serving it: (sample server, base URL, archive path)."""
    from wparchive.sample.server import WordPressServer

    site = _site()
    server = WordPressServer(site).start()
    db_path = str(tmp_path / "archive.db")
    db = open_db(db_path)
    harvest_site(db, Client(delay=0), server.home + "/")
    db.close()
    config = tmp_path / "config"
    config.mkdir()
    shutil.copy(config_dir() / "metadata.yml", config / "metadata.yml")
    settings = json.loads((config_dir() / "settings.json").read_text(encoding="utf-8"))
    settings["sql_time_limit_ms"] = 120_000  # the slow read is slow on purpose: it must not be cut short
    (config / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    process = subprocess.Popen([sys.executable, "-m", "wparchive", "serve", "--db", db_path, "--port", "0",
                                "--config", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    try:
        line = _read_line(process, timeout=60)
        assert "http://127.0.0.1:" in line, line
        yield server, line.split(" at ")[1].split()[0].rstrip("/"), db_path
    finally:
        process.terminate()
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
        server.stop()


class Readers:
    """Threads that read pages of the archive until stopped, keeping what each answer was."""

    def __init__(self, base: str, plans: dict[str, list[str]]) -> None:
        self.base, self.plans = base, plans
        self.stop = threading.Event()
        self.answers: list[tuple[str, str, int, float, float]] = []  # (reader, path, status, start, end)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._read, args=(name,), daemon=True) for name in plans]

    def __enter__(self) -> Readers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=180)

    def _read(self, name: str) -> None:
        session = requests.Session()
        while not self.stop.is_set():
            for path in self.plans[name]:
                started = time.monotonic()
                try:
                    status = session.get(self.base + path, timeout=120).status_code
                except requests.RequestException as exc:
                    status = -1
                    path += f" ({exc})"
                with self.lock:
                    self.answers.append((name, path, status, started, time.monotonic()))


def test_three_harvests_while_datasette_serves_four_busy_readers(served) -> None:
    server, base, db_path = served
    sql = _slow_sql(target_seconds=10)  # twice the busy timeout a harvest used to have (5 s)
    plans = {
        "table": ["/archive/posts?_sort_desc=date_gmt", "/archive/posts.json?_shape=array&_size=100",
                  "/archive/comments.json?_size=50"],
        "facets": ["/archive/posts?_facet=type&_facet=author&_facet_array=tags&_facet_array=categories",
                   "/archive/changes?_facet=change&_facet=table"],
        "search": ["/-/wparchive/search?q=compost", "/-/wparchive/search.json?q=bees&type=post",
                   "/archive/search.json?q=marigold"],
        "slow": ["/archive.json?" + requests.compat.urlencode({"sql": sql})],
    }

    def slow_site(path: str, query: dict[str, str]) -> None:  # each harvest lasts a while: reads overlap it
        if "/wp/v2/" in path:
            time.sleep(0.15)
        return None
    server.fault = slow_site

    harvests: list[tuple[float, float]] = []
    with Readers(base, plans) as readers:
        time.sleep(1)  # every reader under way, the slow one inside its read
        for run, extra in enumerate([[], ["--full"], []], start=1):
            _change(server.site, run)
            started = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "wparchive", "harvest", server.home + "/", "--db", db_path,
                                   "--delay", "0", "-q", "--workers", "2", *extra],
                                  capture_output=True, text=True, timeout=300)
            harvests.append((started, time.monotonic()))
            assert done.returncode == 0, f"harvest {run} failed: {done.stderr}"
            assert done.stderr == ""
    answers = readers.answers
    failed = [(name, path[:120], status) for name, path, status, _, _ in answers if status != 200]
    assert failed == []
    assert {name for name, *_ in answers} == set(plans)  # each reader was answered, the slow one included
    slow = [(start, end) for name, _, _, start, end in answers if name == "slow"]
    assert all(end - start > 5 for start, end in slow)  # the slow read outlasted the old busy timeout...
    assert all(any(s < h_end and e > h_start for s, e in slow) for h_start, h_end in harvests)  # ...during each harvest
    conn = sqlite3.connect(db_path)
    statuses = [row[0] for row in conn.execute("SELECT status FROM harvest_runs ORDER BY id")]
    live = conn.execute("SELECT count(*) FROM posts WHERE deleted_at IS NULL").fetchone()[0]
    conn.close()
    assert statuses == ["ok"] * 4
    assert live == len(server.site.public_items("post"))


def test_no_write_transaction_is_held_across_a_request_to_the_site(make_server, db_path) -> None:
    server = make_server(_site(450))
    db = open_db(db_path)
    held: list[str] = []
    probes = {"n": 0}

    def probe(path: str, query: dict[str, str]) -> None:
        # While the harvest waits for this answer, another writer must get the archive at once.
        conn = sqlite3.connect(db_path, timeout=0)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.rollback()
        except sqlite3.OperationalError as exc:
            held.append(f"{path} {query}: {exc}")
        finally:
            conn.close()
        probes["n"] += 1
        return None

    server.fault = probe
    for run, full in enumerate([False, False, True]):
        if run:
            _change(server.site, run)
        result = harvest_site(db, Client(delay=0), server.home + "/", full=full)
        assert result.status == "ok"
    assert held == [] and probes["n"] > 30


def test_the_archive_is_in_wal_mode_and_both_sides_wait_for_locks(db_path) -> None:
    db = open_db(db_path)
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS == 60_000
    other = sqlite3.connect(db_path)
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # kept in the file, for every connection
    other.close()

    async def datasette_timeout() -> int:
        ds = build_datasette(db_path)
        return int(await ds.get_database().execute_fn(lambda conn: conn.execute("PRAGMA busy_timeout").fetchone()[0]))

    assert asyncio.run(datasette_timeout()) == READ_BUSY_TIMEOUT_MS == 5_000


def test_an_archive_in_rollback_mode_is_switched_to_wal(tmp_path) -> None:
    path = str(tmp_path / "old.db")
    open_db(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = DELETE")  # as every archive was before
    conn.close()
    reader = sqlite3.connect(path)  # Datasette reading it meanwhile
    assert reader.execute("SELECT count(*) FROM posts").fetchone() == (0,)
    db = open_db(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert reader.execute("SELECT count(*) FROM posts").fetchone() == (0,)  # the reader goes on in WAL mode
    reader.close()
    db.close()
    assert os.path.exists(path)
