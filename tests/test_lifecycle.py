"""Stopping cleanly: stop signals and killed harvests.

Stop signals reach real `wparchive harvest` processes with two cleaning workers, mid-run against a
slow sample site: the run is recorded `interrupted` with the exit code of its signal, no process
of the harvest's tree outlives it, and the next run continues where it stopped. A harvest killed
outright is found by the next run and marked `killed`.

The test process is made a child subreaper (Linux): a process any test leaves behind, its parent
gone, becomes a child of the test process again, and the check after each test finds it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from wparchive.cli import EXIT_INTERRUPTED, EXIT_TERMINATED, Stopped
from wparchive.harvest import harvest_site
from wparchive.sample.site import Item, Site, TermItem

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree in /proc")

POSTS = 1200  # several pages, and past the pool's threshold: the workers start
INTERRUPTED = "Interrupted. What was saved is kept; run the same command again to continue."
TERMINATED = "Stopped by SIGTERM. What was saved is kept; run the same command again to continue."


# --- the process tree ------------------------------------------------------------------------


def _table() -> dict[int, tuple[int, str]]:
    """Every live process: pid → (parent pid, state)."""
    found: dict[int, tuple[int, str]] = {}
    if not os.path.isdir("/proc"):
        return found  # not Linux: nothing to look at (this module's own tests are skipped there)
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(name)] = (int(fields[1]), fields[0])
    return found


def descendants(root: int) -> set[int]:
    """The processes below root (children, grandchildren…), zombies left out."""
    table = _table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, state) in table.items():
        if state != "Z":
            children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    entry = _table().get(pid)
    return entry is not None and entry[1] != "Z"


def survivors(pids: set[int], within: float) -> set[int]:
    """Which of pids are still alive after waiting up to `within` seconds for them to end."""
    deadline = time.monotonic() + within
    while True:
        left = {pid for pid in pids if alive(pid)}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def _describe(pids: set[int]) -> list[str]:
    described = []
    for pid in sorted(pids):
        try:
            described.append(f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:160])
        except OSError:
            described.append(f"{pid}: gone")
    return described


def _subreaper(on: bool) -> bool:
    """Make this process the reaper of orphans below it (PR_SET_CHILD_SUBREAPER); False where it cannot."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(36, int(on), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


@pytest.fixture(autouse=True)
def no_orphans() -> Iterator[None]:
    """Every process a test starts has ended when the test ends, grandchildren included."""
    adopted = _subreaper(True)
    before = descendants(os.getpid())
    yield
    left = survivors(descendants(os.getpid()) - before, within=10)
    for pid in descendants(os.getpid()) - before - left:  # adopted orphans that ended: reap them
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    if adopted:
        _subreaper(False)
    assert not left, f"processes outlived the test: {_describe(left)}"


# --- a harvest in its own process --------------------------------------------------------------


def _site() -> Site:
    return Site(items=[Item(i, "post", f"Post {i}", f"<p>Body of post {i}: " + "compost and bees " * 60 + "</p>")
                       for i in range(1, POSTS + 1)],
                terms=[TermItem(1, "category", "Uncategorised")])


def _slow(server: Any, seconds: float = 0.3) -> None:
    """Each page of posts takes its time: a harvest stopped mid-run is still mid-run when stopped."""
    def fault(path: str, query: dict[str, str]) -> None:
        if path.endswith("/wp/v2/posts"):
            time.sleep(seconds)
        return None
    server.fault = fault


def _harvest_command(url: str, db_path: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "wparchive", "harvest", url, "--db", db_path, "--delay", "0", "--workers", "2",
            *extra]


def _count(db_path: str, sql: str) -> int:
    try:
        conn = sqlite3.connect(db_path, timeout=5)
        try:
            return int(conn.execute(sql).fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _mid_run(process: subprocess.Popen[str], db_path: str) -> set[int]:
    """Wait until the harvest cleans in its workers and has saved two pages of posts; its process tree then."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the harvest ended ({process.returncode}) before it could be stopped"
        tree = descendants(process.pid)
        if len(tree) >= 3 and _count(db_path, "SELECT count(*) FROM posts") >= 200:  # forkserver and 2 workers
            return tree
        time.sleep(0.05)
    raise AssertionError("the harvest did not get going")


def _runs(db_path: str) -> list[tuple[int, str, bool]]:
    conn = sqlite3.connect(db_path)
    try:
        return [(r[0], r[1], r[2] is not None) for r in conn.execute(
            "SELECT id, status, finished_at FROM harvest_runs ORDER BY id")]
    finally:
        conn.close()


def _resumed_after(server: Any, db_path: str) -> None:
    """A rerun continues the interrupted pass: from its last saved page, not from the first."""
    server.fault = None
    server.requests.clear()
    again = subprocess.run(_harvest_command(server.home + "/", db_path, "-q"), capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    assert _count(db_path, "SELECT count(*) FROM posts WHERE deleted_at IS NULL") == POSTS
    conn = sqlite3.connect(db_path)
    mode = conn.execute("SELECT mode FROM run_collections WHERE collection = 'post' ORDER BY run_id DESC").fetchone()
    conn.close()
    assert mode == ("resumed",)
    pages = [int(url.split("page=")[1].split("&")[0]) for url in server.requests
             if "/wp/v2/posts?" in url and "orderby=id" in url and "page=" in url]
    assert pages and min(pages) >= 2, pages


SIGNALLED = {
    # (signal, sent to the whole process group as a terminal or systemd does, or to the harvest alone)
    "ctrl-c": (signal.SIGINT, True, EXIT_INTERRUPTED, INTERRUPTED),
    "systemd-stop": (signal.SIGTERM, True, EXIT_TERMINATED, TERMINATED),
    "kill": (signal.SIGTERM, False, EXIT_TERMINATED, TERMINATED),
}


@pytest.mark.parametrize("case", list(SIGNALLED))
def test_a_stop_signal_ends_the_run_interrupted_with_its_workers(make_server, tmp_path, case) -> None:
    number, to_group, code, message = SIGNALLED[case]
    server = make_server(_site())
    _slow(server)
    db_path = str(tmp_path / "archive.db")
    process = subprocess.Popen(_harvest_command(server.home + "/", db_path, "-q"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        tree = _mid_run(process, db_path)
        (os.killpg if to_group else os.kill)(process.pid, number)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == code, err
    assert err.strip() == message  # one line: no traceback from the harvest or from a worker
    assert not survivors(tree, within=10), _describe(tree)
    assert _runs(db_path) == [(1, "interrupted", True)]
    # what was saved is whole pages, and the archive is sound
    posts = _count(db_path, "SELECT count(*) FROM posts")
    assert posts % 100 == 0 and posts == _count(db_path, "SELECT count(*) FROM raw_json WHERE \"table\" = 'posts'")
    assert _count(db_path, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check != 'ok'") == 0
    _resumed_after(server, db_path)
    assert [status for _, status, _ in _runs(db_path)] == ["interrupted", "ok"]


def test_a_killed_harvest_leaves_no_workers_and_the_next_run_marks_it(make_server, tmp_path) -> None:
    server = make_server(_site())
    _slow(server)
    db_path = str(tmp_path / "archive.db")
    process = subprocess.Popen(_harvest_command(server.home + "/", db_path, "-q"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        tree = _mid_run(process, db_path)  # type: ignore[arg-type]
        process.kill()  # SIGKILL: nothing of the harvest runs after this
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # the workers, the forkserver and the resource tracker end with it: none is left to run on its own
    assert not survivors(tree, within=10), _describe(tree)
    assert _runs(db_path) == [(1, "running", False)]
    server.fault = None
    server.requests.clear()
    again = subprocess.run(_harvest_command(server.home + "/", db_path), capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "run 1 ended without recording its end" in again.stderr and "marked killed" in again.stderr
    assert [status for _, status, _ in _runs(db_path)] == ["killed", "ok"]
    assert _count(db_path, "SELECT count(*) FROM posts WHERE deleted_at IS NULL") == POSTS


def test_a_stop_while_the_run_is_being_recorded_still_records_it(server, client, db, monkeypatch) -> None:
    from wparchive import harvest as harvest_module

    real = harvest_module.finish_run
    calls: list[str] = []

    def stopped_once(db: Any, run_id: int, **values: Any) -> None:
        calls.append(values["status"])
        if len(calls) == 1:
            with db.atomic():  # a stop in the middle of the write: rolled back with its transaction
                db.execute("UPDATE harvest_runs SET status = 'half' WHERE id = ?", [run_id])
                raise KeyboardInterrupt
        real(db, run_id, **values)

    monkeypatch.setattr(harvest_module, "finish_run", stopped_once)
    with pytest.raises(KeyboardInterrupt):
        harvest_site(db, client, server.home + "/")
    assert calls == ["ok", "interrupted"]
    assert [(r["status"], r["finished_at"] is not None) for r in db["harvest_runs"].rows] == [("interrupted", True)]


def test_the_first_stop_signal_counts_and_later_ones_wait_for_the_run_to_be_recorded() -> None:
    from wparchive.cli import _stopped_by_signals

    before = signal.getsignal(signal.SIGTERM)
    recorded = False
    with pytest.raises(Stopped) as stopped:
        with _stopped_by_signals():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # the handler raises in here
            except Stopped:
                os.kill(os.getpid(), signal.SIGINT)  # a second signal while the run is recorded: ignored
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.2)
                recorded = True
                raise
    assert recorded and stopped.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before  # put back once the command is done
