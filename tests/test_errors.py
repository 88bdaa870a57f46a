"""One error path: every command, given a file that is not an archive, says so in a line and exits non-zero.

A missing file is an error for the commands that read an archive (export, rebuild, serve); harvest
and demo start a new archive there, so for them the missing case is a folder that does not exist.
"""

from __future__ import annotations

import re
import socket
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner, Result

from wparchive.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_LOCKED, cli
from wparchive.db import archive_lock
from wparchive.errors import DatabaseLocked, WPArchiveError

COMMANDS = {
    "harvest": ["harvest", "http://127.0.0.1:9/", "--retries", "0"],
    "export": ["export", "out.jsonl"],
    "rebuild": ["rebuild"],
    "serve": ["serve", "--port", "0"],
    "demo": ["demo", "--no-serve", "--site-port", "0"],
}


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # where out.jsonl and demo's files go


def _run(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args)


def _one_line_error(result: Result, start: str, code: int = EXIT_FAILED) -> None:
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # an exit with a message, not a crash
    assert "Traceback" not in result.output
    assert result.stderr.startswith(f"Error: {start}"), result.stderr
    assert len(result.stderr.splitlines()) <= 2  # what happened; what to do


def _not_sqlite(path: Path) -> None:
    path.write_text("just some notes, long enough to be taken for a database file by mistake\n" * 10)


def _other_tool(path: Path) -> None:
    sqlite_utils.Database(path)["notes"].insert({"text": "mine"})


@pytest.mark.parametrize("command", ["export", "rebuild", "serve"])
def test_a_missing_archive(tmp_path, command) -> None:
    path = tmp_path / "missing.db"
    result = _run(COMMANDS[command] + ["--db", str(path)])
    _one_line_error(result, f"{path} does not exist; ")
    assert not path.exists()  # not created empty by a command that only reads


@pytest.mark.parametrize("command", ["harvest", "demo"])
def test_an_archive_in_a_missing_folder(tmp_path, command) -> None:
    path = tmp_path / "no-such-folder" / "archive.db"
    result = _run(COMMANDS[command] + ["--db", str(path)])
    _one_line_error(result, f"cannot open {path}: the folder {path.parent} does not exist")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_file_that_is_not_sqlite(tmp_path, command) -> None:
    path = tmp_path / "notes.db"
    _not_sqlite(path)
    before = path.read_bytes()
    result = _run(COMMANDS[command] + ["--db", str(path)])
    _one_line_error(result, f"{path} is not a SQLite database")
    assert "--db" in result.stderr  # the hint: name an archive
    assert path.read_bytes() == before


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_sqlite_database_that_is_not_an_archive(tmp_path, command) -> None:
    path = tmp_path / "other.db"
    _other_tool(path)
    before = path.read_bytes()
    result = _run(COMMANDS[command] + ["--db", str(path)])
    _one_line_error(result, f"{path} has tables but no harvest_runs: not a wparchive archive")
    assert path.read_bytes() == before


@pytest.fixture
def damaged(server, client, db, db_path) -> str:  # type: ignore[no-untyped-def]
    """An archive whose posts table has a page of garbage, as a failing disk leaves it."""
    from wparchive.harvest import harvest_site

    harvest_site(db, client, server.home + "/")
    root, = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'posts'").fetchone()
    size, = db.execute("PRAGMA page_size").fetchone()
    db.conn.close()
    with open(db_path, "r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\xff" * size)
    return db_path


@pytest.mark.parametrize("command", ["export", "rebuild"])
def test_a_damaged_archive(damaged, tmp_path, command) -> None:
    result = _run(COMMANDS[command] + ["--db", damaged, "--quiet"])  # the error only: no bars of tables before it
    _one_line_error(result, "the archive is damaged: database disk image is malformed")
    assert "integrity_check" in result.stderr


def test_an_export_that_cannot_be_written(server, client, db, db_path, tmp_path) -> None:
    from wparchive.harvest import harvest_site

    harvest_site(db, client, server.home + "/")
    out = tmp_path / "no-such-folder" / "posts.jsonl"
    _one_line_error(_run(["export", str(out), "--db", db_path]),
                    f"cannot write {out}: No such file or directory")
    taken = tmp_path / "taken.md"
    taken.write_text("a file, not a folder")
    _one_line_error(_run(["export", "--format", "markdown", str(taken), "--db", db_path]),
                    f"markdown export fills a folder, and {taken} is not one")


def test_markdown_to_stdout_is_a_usage_error(tmp_path) -> None:
    result = _run(["export", "--format", "markdown", "-", "--db", str(tmp_path / "missing.db")])
    assert result.exit_code == 2 and "markdown export needs a folder, not -" in result.stderr


def test_an_archive_in_use_exits_75(server, client, db, db_path, tmp_path) -> None:
    from wparchive.harvest import harvest_site

    harvest_site(db, client, server.home + "/")
    with archive_lock(db_path):
        result = _run(["rebuild", "--db", db_path])
    _one_line_error(result, f"{db_path} is being harvested by another process", EXIT_LOCKED)
    assert EXIT_LOCKED == DatabaseLocked.exit_code == 75


def test_ctrl_c_is_a_message_and_exit_130(server, client, db, db_path, tmp_path, monkeypatch) -> None:
    from wparchive.harvest import harvest_site

    def interrupted(*args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    harvest_site(db, client, server.home + "/")
    monkeypatch.setattr("wparchive.export.export_archive", interrupted)
    result = _run(["export", "out.jsonl", "--db", db_path])
    assert result.exit_code == EXIT_INTERRUPTED and isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("Interrupted. What was saved is kept")
    assert "Traceback" not in result.output


def test_every_error_has_an_exit_code_and_may_carry_its_own_hint() -> None:
    error = WPArchiveError("what happened", hint="what to do")
    assert (str(error), error.hint, error.exit_code) == ("what happened", "what to do", EXIT_FAILED)
    assert DatabaseLocked("x").hint.startswith("Wait")  # the class's hint when none is given


def test_sqlite_errors_become_archive_errors(tmp_path) -> None:
    from wparchive.errors import ArchiveDamaged, NotAnArchive, archive_error

    notes = tmp_path / "notes.db"
    _not_sqlite(notes)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        sqlite3.connect(notes).execute("PRAGMA user_version")
    assert isinstance(archive_error(caught.value, "notes.db"), NotAnArchive)
    assert str(archive_error(caught.value, "notes.db")) == "notes.db is not a SQLite database"
    assert ArchiveDamaged.exit_code == NotAnArchive.exit_code == EXIT_FAILED


@pytest.fixture
def taken_port():  # type: ignore[no-untyped-def]
    """A port on 127.0.0.1 that another program listens on."""
    with socket.create_server(("127.0.0.1", 0)) as held:
        yield held.getsockname()[1]


def test_a_port_in_use_is_one_line_for_serve_and_demo(server, client, db, db_path, tmp_path, taken_port) -> None:
    from wparchive.harvest import harvest_site

    harvest_site(db, client, server.home + "/")
    taken = f"cannot listen on 127.0.0.1:{taken_port}: Address already in use"
    serve = _run(["serve", "--db", db_path, "--port", str(taken_port)])
    _one_line_error(serve, taken)
    _suggests_a_free_port(serve.stderr, "--port")
    assert "Serving" not in serve.output and "http://" not in serve.output  # nothing says where to go
    demo_db = tmp_path / "demo.db"
    site_port = taken_port + 1  # free now, but the demo's own sample site is to take it
    demo = _run(["demo", "--db", str(demo_db), "--port", str(taken_port), "--site-port", str(site_port)])
    _one_line_error(demo, taken)
    assert _suggests_a_free_port(demo.stderr, "--port") != site_port
    assert "Open" not in demo.output and "Sample site running" not in demo.output
    assert not demo_db.exists()  # refused before anything was made
    sample = _run(["demo", "--db", str(demo_db), "--no-serve", "--site-port", str(taken_port)])
    _one_line_error(sample, f"cannot start the sample site on port {taken_port}: Address already in use")
    _suggests_a_free_port(sample.stderr, "--site-port")


def _suggests_a_free_port(stderr: str, option: str) -> int:
    """The hint names option and a port that is free: one can listen on it. Returns the port."""
    found = re.search(rf"Choose another port with {option}: (\d+) is free", stderr)
    assert found is not None, stderr
    with socket.create_server(("127.0.0.1", int(found.group(1)))):
        pass
    return int(found.group(1))
