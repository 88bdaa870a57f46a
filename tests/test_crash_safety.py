"""SIGKILL a harvest at many points: the archive stays sound and a rerun ends as a clean run does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import sqlite_utils

from test_lifecycle import _describe, descendants, no_orphans, survivors  # noqa: F401 - no_orphans: every test
from wparchive.sample.site import CommentItem, Item, Site, TermItem

# Columns that say when and by which run a row was fetched: they differ between any two runs.
RUN_COLUMNS = {"fetched_at", "run_id", "deleted_run_id"}
TABLES = ("posts", "terms", "users", "media", "comments", "links", "images", "post_terms", "raw_json")


def _site() -> Site:
    return Site(
        items=[Item(i, "post", f"Post {i}", f'<p>Text {i} <a href="/p/{i - 1}">prev</a></p>',
                    terms={"category": [1 + i % 3]}) for i in range(1, 701)],
        terms=[TermItem(t, "category", f"Category {t}") for t in range(1, 4)],
        comments=[CommentItem(c, 1 + c % 700, f"Comment {c}", parent=c - 1 if c % 5 else 0) for c in range(1, 251)],
    )


def _harvest_command(url: str, db_path: str) -> list[str]:
    return [sys.executable, "-m", "wparchive", "harvest", url, "--db", db_path, "--delay", "0", "--quiet"]


def _content(db_path: str) -> dict[str, list[tuple]]:
    db = sqlite_utils.Database(db_path)
    content = {}
    for table in TABLES:
        columns = [c.name for c in db[table].columns if c.name not in RUN_COLUMNS]
        quoted = ", ".join(f'"{c}"' for c in columns)
        content[table] = sorted(tuple(row) for row in db.execute(f'SELECT {quoted} FROM "{table}"').fetchall())
    return content


def _sound(db_path: str) -> None:
    db = sqlite_utils.Database(db_path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for fts in ("posts_fts", "comments_fts"):
        if fts in db.table_names():
            db.execute(f"INSERT INTO {fts}({fts}) VALUES('integrity-check')")


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):  # type: ignore[no-untyped-def]
    from wparchive.sample.server import WordPressServer

    path = str(tmp_path_factory.mktemp("clean") / "archive.db")
    with WordPressServer(_site()) as server:
        subprocess.run(_harvest_command(server.home + "/", path), check=True, timeout=120)
    return server.port, _content(path)


# (the request during which the kill is armed, seconds after it before SIGKILL)
KILL_POINTS = [(2, 0.0), (5, 0.0), (6, 0.01), (8, 0.003), (9, 0.05), (11, 0.0), (13, 0.02), (16, 0.0), (18, 0.01)]


@pytest.mark.parametrize("request_number, delay", KILL_POINTS)
def test_sigkill_at_any_point(make_server, tmp_path, clean_run, request_number, delay) -> None:
    port, expected = clean_run
    server = make_server(_site(), port=port)  # the same address, so keys and URLs match the clean run
    db_path = str(tmp_path / "archive.db")
    process = subprocess.Popen(_harvest_command(server.home + "/", db_path))
    seen = {"n": 0}
    tree: set[int] = set()

    def kill() -> None:
        tree.update(descendants(process.pid))  # its cleaning workers, once they have started
        os.kill(process.pid, signal.SIGKILL)

    def kill_soon(path: str, query: dict[str, str]) -> None:
        seen["n"] += 1
        if seen["n"] == request_number:
            threading.Timer(delay, kill).start()
        return None

    server.fault = kill_soon
    returncode = process.wait(timeout=120)
    assert returncode == -signal.SIGKILL, f"the harvest ended ({returncode}) before it could be killed"
    assert not survivors(tree, within=10), _describe(tree)  # nothing of the killed harvest runs on
    time.sleep(0.05)
    if os.path.exists(db_path):
        _sound(db_path)
    server.fault = None
    subprocess.run(_harvest_command(server.home + "/", db_path), check=True, timeout=120)
    _sound(db_path)
    got = _content(db_path)
    for table in TABLES:  # name the first difference, table by table, before the whole comparison
        missing = sorted(set(expected[table]) - set(got[table]))[:3]
        extra = sorted(set(got[table]) - set(expected[table]))[:3]
        assert (table, missing, extra) == (table, [], []), f"rows differ in {table}"
    assert got == expected
