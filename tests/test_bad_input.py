"""Bad input from users: one line that says what to do, a non-zero exit, nothing half-written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from wparchive.cli import EXIT_FAILED, cli
from wparchive.paths import config_dir


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def _one_clear_error(result, *phrases: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == EXIT_FAILED, result.output
    assert result.stderr.startswith("Error: ")
    assert isinstance(result.exception, SystemExit)  # an exit with a message, not a crash
    for phrase in phrases:
        assert phrase in result.stderr


@pytest.mark.parametrize("url", ["htp:/example.org", "not a url", "http://", "ftp://example.org/", "   ", "::"])
def test_malformed_urls(tmp_path, url) -> None:
    db = tmp_path / "archive.db"
    result = _run("harvest", url, "--db", str(db))
    _one_clear_error(result, "is not a web address", "https://example.org/")
    assert not db.exists()


def test_a_scheme_is_added_when_missing(server, tmp_path) -> None:
    result = _run("harvest", server.home.removeprefix("http://") + "/", "--db", str(tmp_path / "a.db"), "--delay", "0",
                  "--quiet")
    assert result.exit_code == 0, result.output


def test_unreachable_host(tmp_path) -> None:
    _one_clear_error(_run("harvest", "http://127.0.0.1:9/", "--db", str(tmp_path / "a.db"), "--retries", "0"),
                     "connection refused", "Check the address")


def test_not_a_wordpress_site(make_server, tmp_path) -> None:
    server = make_server(link_header=False, link_tag=False)
    server.fault = lambda path, query: (200, {"Content-Type": "text/html"}, b"<html><h1>Plain</h1></html>")
    _one_clear_error(_run("harvest", server.home + "/", "--db", str(tmp_path / "a.db"), "--retries", "0"),
                     "no WordPress REST API found")


def _config_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    shutil.copytree(config_dir(), folder)
    return folder


@pytest.mark.parametrize("name, text, phrase", [
    ("boilerplate.toml", "selectors = [\n", "boilerplate.toml"),
    ("boilerplate.toml", 'selectors = ["div[[["]\n', "selector"),
    ("boilerplate.toml", 'phrases = ["(unclosed"]\n', "phrase"),
    ("sites.toml", "[[site]]\nurl = 3\n", "sites.toml"),
])
def test_broken_config_files_stop_the_harvest_before_it_writes(server, tmp_path, name, text, phrase) -> None:
    folder = _config_copy(tmp_path)
    (folder / name).write_text(text)
    db = tmp_path / "archive.db"
    args = ["harvest", "--config", str(folder), "--db", str(db)] + ([] if name == "sites.toml" else [server.home + "/"])
    _one_clear_error(_run(*args), phrase, "Fix the file")
    assert not db.exists() and server.requests == []


@pytest.mark.parametrize("name, text", [("metadata.yml", "title: [unclosed\n"), ("settings.json", "{not json")])
def test_broken_datasette_config(server, client, db, db_path, tmp_path, name, text) -> None:
    folder = _config_copy(tmp_path)
    (folder / name).write_text(text)
    _one_clear_error(_run("serve", "--db", db_path, "--config", str(folder)), name, "Fix the file")


def test_a_database_of_another_tool_is_left_untouched(tmp_path) -> None:
    other = tmp_path / "other.db"
    sqlite_utils.Database(other)["notes"].insert({"text": "mine"})
    before = other.read_bytes()
    _one_clear_error(_run("harvest", "http://127.0.0.1:9/", "--db", str(other)), "not a wparchive archive")
    _one_clear_error(_run("serve", "--db", str(other)), "not a wparchive archive")
    assert other.read_bytes() == before


def test_an_archive_from_a_newer_wparchive(server, tmp_path) -> None:
    path = tmp_path / "future.db"
    assert _run("harvest", server.home + "/", "--db", str(path), "--delay", "0", "-q").exit_code == 0
    future = sqlite_utils.Database(path)
    future.execute("PRAGMA user_version = 99")
    future.conn.commit()
    future.conn.close()
    before = path.read_bytes()
    _one_clear_error(_run("harvest", server.home + "/", "--db", str(path)), "newer wparchive", "pip install -U")
    assert path.read_bytes() == before


def test_a_file_that_is_not_sqlite(tmp_path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("just some notes, long enough to be taken for a database file by mistake\n" * 10)
    _one_clear_error(_run("harvest", "http://127.0.0.1:9/", "--db", str(path)), "not a SQLite database")
