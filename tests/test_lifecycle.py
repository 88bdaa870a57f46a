"""Stopping cleanly: signals, killed harvests, full disks, read-only storage, a lock in the way.

Stop signals reach real `wparchive harvest` processes with two cleaning workers, mid-run against a
slow sample site: the run is recorded `interrupted` with the exit code of its signal, no process
of the harvest's tree outlives it, and the next run continues where it stopped. A harvest killed
outright is found by the next run and marked `killed`. Storage that fails, or a lock that cannot
be made, gives one line of error; `serve -i` and harvests exclude each other.

The test process is made a child subreaper (Linux): a process any test leaves behind, its parent
gone, becomes a child of the test process again, and the check after each test finds it.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner, Result

from wparchive.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_LOCKED, EXIT_TERMINATED, Stopped, cli
from wparchive.client import Client
from wparchive.db import archive_lock, open_db
from wparchive.harvest import harvest_site
from wparchive.sample.site import Item, Site, TermItem
from wparchive.serve import build_datasette

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


def test_ctrl_c_stops_every_site_harvested_at_once_and_a_rerun_completes(make_server, tmp_path) -> None:
    servers = [make_server(_site()) for _ in range(3)]
    for server in servers:
        _slow(server)
    config = tmp_path / "config"
    config.mkdir()
    (config / "sites.toml").write_text("".join(f'[[site]]\nurl = "{s.home}/"\n' for s in servers))
    db_path = str(tmp_path / "archive.db")
    command = [sys.executable, "-m", "wparchive", "harvest", "--config", str(config), "--db", db_path,
               "--delay", "0", "--workers", "2", "--jobs", "3", "-q"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while _count(db_path, "SELECT count(DISTINCT site_id) FROM posts") < 3:  # every site mid-run
            assert process.poll() is None, f"the harvest ended ({process.returncode}) before it could be stopped"
            assert time.monotonic() < deadline, "the sites did not all get going"
            time.sleep(0.05)
        tree = descendants(process.pid)
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == EXIT_INTERRUPTED, err
    assert err.strip() == INTERRUPTED  # one line: no traceback from any site's thread or from a worker
    assert not survivors(tree, within=10), _describe(tree)
    assert _runs(db_path) == [(1, "interrupted", True), (2, "interrupted", True), (3, "interrupted", True)]
    assert _count(db_path, "SELECT count(*) FROM posts") < 3 * POSTS
    assert _count(db_path, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check != 'ok'") == 0
    for server in servers:
        server.fault = None
    again = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr
    assert [status for _, status, _ in _runs(db_path)] == ["interrupted"] * 3 + ["ok"] * 3
    assert _count(db_path, "SELECT count(*) FROM posts WHERE deleted_at IS NULL") == 3 * POSTS


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


# --- storage that fails -----------------------------------------------------------------------


def _run(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args)


def _one_line_error(result: Result, start: str, code: int = EXIT_FAILED) -> None:
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.stderr.startswith(f"Error: {start}"), result.stderr
    assert len(result.stderr.splitlines()) <= 2


@pytest.mark.parametrize("command", ["harvest", "rebuild"])
def test_a_lock_path_that_is_a_directory(server, tmp_path, command) -> None:
    db_path = str(tmp_path / "archive.db")
    open_db(db_path).close()
    os.mkdir(db_path + ".lock")
    args = ["harvest", server.home + "/", "--delay", "0"] if command == "harvest" else ["rebuild"]
    _one_line_error(_run(args + ["--db", db_path]), f"cannot lock {db_path}: {db_path}.lock: Is a directory")
    assert server.requests == []


def _big_site(posts: int = 800) -> Site:
    return Site(items=[Item(i, "post", f"Post {i}", f"<p>Post {i} says {'something long enough ' * 80}</p>")
                       for i in range(1, posts + 1)], terms=[TermItem(1, "category", "Uncategorised")])


def test_a_full_disk_fails_the_run_in_one_line_and_keeps_whole_pages(make_server, tmp_path, monkeypatch) -> None:
    from wparchive import harvest as harvest_module

    server = make_server(_big_site())
    db_path = str(tmp_path / "archive.db")
    real_open = harvest_module.open_db

    def small_disk(path: str) -> Any:
        db = real_open(path)
        # SQLITE_FULL once the file would grow past this many pages, as on a disk with no room left
        db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0] + 700}")
        return db

    monkeypatch.setattr(harvest_module, "open_db", small_disk)
    result = _run(["harvest", server.home + "/", "--db", db_path, "--delay", "0", "-q", "--workers", "1"])
    _one_line_error(result, f"cannot write {db_path}: the disk is full")
    assert "Make room on the archive's disk" in result.stderr
    assert _runs(db_path) == [(1, "failed", True)]
    # nothing half-written: the posts saved are the pages committed, each whole, with their raw JSON
    conn = sqlite3.connect(db_path)
    posts = conn.execute("SELECT count(*) FROM posts").fetchone()[0]
    (resume_page,) = conn.execute("SELECT resume_page FROM sync_state WHERE collection = 'post'").fetchone()
    assert 0 < posts < 800 and posts == 100 * resume_page
    assert conn.execute("SELECT count(*) FROM raw_json WHERE \"table\" = 'posts'").fetchone()[0] == posts
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    monkeypatch.setattr(harvest_module, "open_db", real_open)  # room again: the next run continues
    again = _run(["harvest", server.home + "/", "--db", db_path, "--delay", "0", "-q", "--workers", "1"])
    assert again.exit_code == 0, again.output
    assert [status for _, status, _ in _runs(db_path)] == ["failed", "ok"]
    assert _count(db_path, "SELECT count(*) FROM posts") == 800


def _unprivileged() -> list[str]:
    """A prefix that runs a command where a folder's mode 555 does stop writes: root without
    CAP_DAC_OVERRIDE (setpriv) when the tests run as root; nothing otherwise."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", "--"] if setpriv else []
    if not setpriv or subprocess.run(prefix + ["true"], capture_output=True).returncode != 0:
        pytest.skip("running as root, and setpriv cannot drop CAP_DAC_OVERRIDE here: a read-only folder "
                    "cannot be made without mounting one")
    return prefix


@pytest.fixture
def read_only_archive(server) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A harvested archive (in WAL mode, closed cleanly) in a folder its user may not write."""
    folder = Path(tempfile.mkdtemp(prefix="wparchive-ro-"))
    db_path = str(folder / "archive.db")
    db = open_db(db_path)
    harvest_site(db, Client(delay=0), server.home + "/")
    db.close()  # the last connection: the WAL is checkpointed, -wal and -shm go
    assert sorted(os.listdir(folder)) == ["archive.db"]
    folder.chmod(0o555)
    try:
        yield db_path
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def _wparchive(prefix: list[str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(prefix + [sys.executable, "-m", "wparchive", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.parametrize("lock_file", [False, True], ids=["no-lock-file", "lock-file"])
@pytest.mark.parametrize("command", ["harvest", "rebuild", "serve"])
def test_a_read_only_folder_is_one_line_of_error(server, read_only_archive, command, lock_file) -> None:
    prefix = _unprivileged()
    db_path = read_only_archive
    if lock_file:  # left by an earlier harvest, writable itself: then SQLite is what cannot write
        Path(db_path).parent.chmod(0o755)
        Path(db_path + ".lock").write_text("")
        Path(db_path).parent.chmod(0o555)
    args = {"harvest": ["harvest", server.home + "/", "--delay", "0", "-q"], "rebuild": ["rebuild", "-q"],
            "serve": ["serve", "--port", "0"]}[command]
    done = _wparchive(prefix, *args, "--db", db_path, timeout=30)
    assert done.returncode == EXIT_FAILED, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 2, done.stderr
    if command != "serve" and not lock_file:
        assert done.stderr.startswith(f"Error: cannot lock {db_path}: {db_path}.lock: Permission denied")
    else:
        assert done.stderr.startswith(f"Error: cannot read {db_path}: its folder is read-only"), done.stderr
        assert "serve the archive with -i" in done.stderr
    assert sorted(os.listdir(Path(db_path).parent)) == ["archive.db"] + (["archive.db.lock"] if lock_file else [])


def test_serve_immutable_reads_an_archive_on_read_only_storage(read_only_archive) -> None:
    import requests

    prefix = _unprivileged()
    process = subprocess.Popen(prefix + [sys.executable, "-m", "wparchive", "serve", "-i", "--db", read_only_archive,
                                         "--port", "0"], stderr=subprocess.PIPE, text=True)
    try:
        line = _read_line(process, timeout=60)
        assert line.startswith("Serving ") and "http://127.0.0.1:" in line, line
        base = line.split(" at ")[1].split()[0].rstrip("/")
        answer = requests.get(f"{base}/archive/posts.json?_shape=array&_size=max", timeout=30)
        assert answer.status_code == 200 and len(answer.json()) == 29
        found = requests.get(f"{base}/-/wparchive/search.json?q=beekeeper", timeout=30)
        assert found.status_code == 200 and [r["title"] for r in found.json()["rows"]] == ["Bees on plot 17"]
    finally:
        process.terminate()
        process.communicate(timeout=30)


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The first line a process writes to stderr, or what it wrote before ending."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stderr.readline() if process.stderr else ""),
                              daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


# --- serve -i and harvests exclude each other ------------------------------------------------


@pytest.fixture
def archive(server, client, db_path) -> str:  # type: ignore[no-untyped-def]
    db = open_db(db_path)
    harvest_site(db, client, server.home + "/")
    db.close()
    return db_path


def test_serve_immutable_is_refused_while_a_harvest_runs(archive) -> None:
    with archive_lock(archive):  # what a harvest holds
        result = _run(["serve", "-i", "--db", archive, "--port", "0"])
    _one_line_error(result, f"{archive} is being harvested by another process (pid {os.getpid()}): serve -i needs "
                            "an archive nothing writes", EXIT_LOCKED)


@pytest.mark.parametrize("command", ["harvest", "rebuild"])
def test_a_harvest_is_refused_while_serve_immutable_serves(server, archive, command) -> None:
    server.requests.clear()
    args = ["harvest", server.home + "/", "--delay", "0"] if command == "harvest" else ["rebuild"]
    with archive_lock(archive, shared=True), archive_lock(archive, shared=True):  # two immutable servers at once
        result = _run(args + ["--db", archive])
    _one_line_error(result, f"{archive} is being served read-only by another process (wparchive serve -i)",
                    EXIT_LOCKED)
    assert server.requests == []
    assert _run(args + ["--db", archive, "-q"]).exit_code == 0  # and once it is gone, it goes ahead


def test_serve_immutable_sees_what_the_wal_still_holds(archive) -> None:
    import asyncio

    writer = open_db(archive)  # a harvest that was killed: its last pages are in the WAL, not yet in the file
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    with writer.atomic():
        writer.execute("UPDATE posts SET title = 'Written last' WHERE key = '1-1003'")
    file_alone = sqlite3.connect(f"file:{archive}?immutable=1", uri=True)
    assert file_alone.execute("SELECT title FROM posts WHERE key = '1-1003'").fetchone() != ("Written last",)
    file_alone.close()

    async def title() -> Any:
        ds = build_datasette(archive, immutable=True)
        await ds.invoke_startup()
        return (await ds.client.get("/archive/posts.json?_shape=array&key=1-1003")).json()[0]["title"]

    try:
        assert asyncio.run(title()) == "Written last"  # checkpointed into the file before serving
    finally:
        writer.close()
