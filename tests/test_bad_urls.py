"""Every command against a catalogue of bad URLs, ports and paths: one line of error that says
what to do, exit code 1 (or 2 for click's usage errors), never a traceback.

Nothing here leaves the test's own folder or 127.0.0.1: the site that is not there is port 9 of
127.0.0.1 (connection refused at once), and serve and demo are stopped before they would listen.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from wparchive.cli import cli
from wparchive.db import open_db

UNREACHABLE = "http://127.0.0.1:9/"

BAD_URLS = {
    "port too large": ("http://127.0.0.1:99999/", "its port must be a number from 1 to 65535"),
    "port not a number": ("http://127.0.0.1:abc/", "its port must be a number from 1 to 65535"),
    "port zero": ("http://127.0.0.1:0/", "its port must be a number from 1 to 65535"),
    "IPv6 unclosed": ("http://[::1/", "not a valid IPv6 address"),
    "IPv6 not an address": ("http://[zz]/", "not a valid IPv6 address"),
    "ftp": ("ftp://127.0.0.1/", "must start with http:// or https://"),
    "javascript": ("javascript:alert(1)", "must start with http:// or https://"),
    "data": ("data:text/html,<b>x</b>", "must start with http:// or https://"),
    "mailto": ("mailto:someone@127.0.0.1", "must start with http:// or https://"),
    "no scheme, slashes": ("//127.0.0.1/", "must start with http:// or https://"),
    "space": ("http://127.0.0.1 /blog/", "a space or a control character"),
    "NUL": ("http://127.0.0.1/\x00blog/", "a space or a control character"),
    "bell": ("http://127.0.0.1/\x07", "a space or a control character"),
    "newline in the host": ("http://127.0.0.1\n.evil/", "a space or a control character"),
    "DEL": ("http://127.0.0.1/\x7f", "a space or a control character"),
    "empty": ("", "it is empty"),
    "blank": ("   ", "it is empty"),
    "no host": ("http://", "it names no host"),
    "no dot": ("http://intranet/", "its host name has no dot"),
    "very long": ("http://" + "x" * 5000, "its host name has no dot"),
    "password and a bad port": ("http://me:secret@127.0.0.1:99999/", "its port must be"),
}


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _no_traceback(result: Result, codes: tuple[int, ...] = (1, 2)) -> None:
    # an exit with a message (or a command that did its work), not a crash
    assert result.exception is None if result.exit_code == 0 else isinstance(result.exception, SystemExit), \
        result.exception
    assert "Traceback" not in result.output
    assert result.exit_code in codes, result.output
    if result.exit_code == 1:  # wparchive's own: the error on one line, then what to do
        error = result.stderr[result.stderr.index("Error: "):]
        assert len(error.strip().splitlines()) <= 2, error
    if result.exit_code == 2:  # click's usage error
        assert "Error: " in result.stderr and "Usage: " in result.stderr


@pytest.mark.parametrize("name", list(BAD_URLS))
def test_harvest_refuses_a_bad_url_before_anything_is_written(tmp_path, name) -> None:
    url, reason = BAD_URLS[name]
    db = tmp_path / "archive.db"
    result = _run("harvest", url, "--db", str(db), "--retries", "0")
    _no_traceback(result, (1,))
    assert result.stderr.startswith("Error: ") and "is not a web address" in result.stderr
    assert reason in result.stderr and "https://example.org/" in result.stderr  # the hint
    assert "secret" not in result.output
    assert not db.exists()


@pytest.mark.parametrize("url", [
    "http://[::1]:9/",  # an IPv6 literal is an address
    "127.0.0.1:9",  # no scheme: http:// is added
    "HTTP://127.0.0.1:9/",
])
def test_unusual_but_good_urls_get_as_far_as_the_network(tmp_path, url) -> None:
    result = _run("harvest", url, "--db", str(tmp_path / "a.db"), "--retries", "0")
    _no_traceback(result, (1,))
    assert "could not reach" in result.stderr and "is not a web address" not in result.stderr


def test_a_bad_url_in_sites_toml_is_named_with_its_site(tmp_path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "sites.toml").write_text('[[site]]\nurl = "http://me:secret@127.0.0.1:99999/"\n', encoding="utf-8")
    result = _run("harvest", "--config", str(config), "--db", str(tmp_path / "a.db"))
    _no_traceback(result, (1,))
    assert "[[site]] number 1: url: Value error, its port must be a number from 1 to 65535" in result.stderr
    assert "secret" not in result.output and not (tmp_path / "a.db").exists()


# --- paths and ports, for every command that takes one --------------------------------------------------


@pytest.fixture
def place(tmp_path, monkeypatch) -> Path:
    """The test's folder, made the working directory, with a directory, a file that is not an
    archive, and an archive in it; serve and demo fail the test if they get as far as serving."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "not-sqlite.txt").write_text("hello\n", encoding="utf-8")
    open_db(str(tmp_path / "archive.db")).conn.close()

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail("a bad input got as far as serving")

    monkeypatch.setattr("wparchive.serve.listen", refuse)
    monkeypatch.setattr("wparchive.serve.run_server", refuse)
    monkeypatch.setattr("wparchive.cli._sample_server", refuse)
    return tmp_path


BAD_PATHS = {
    "empty": "",
    "NUL": "ar\x00chive.db",
    "newline": "archive\n.db",
    "escape": "archive\x1b[31m.db",
    "missing folder": "no/such/folder/archive.db",
    "a directory": "a-directory",
    "not an archive": "not-sqlite.txt",
    "under a file": "not-sqlite.txt/archive.db",
    "too long": "x" * 5000,
}

# Each command with a path in it; PATH is replaced by the bad path.
PATH_COMMANDS = {
    "harvest --db": ["harvest", UNREACHABLE, "--retries", "0", "--db", "PATH"],
    "harvest --config": ["harvest", "--config", "PATH", "--db", "h.db"],
    "harvest --warc": ["harvest", UNREACHABLE, "--retries", "0", "--db", "h.db", "--warc", "PATH"],
    "harvest --media-dir": ["harvest", UNREACHABLE, "--retries", "0", "--db", "h.db", "--media", "--media-dir", "PATH"],
    "harvest --auth-file": ["harvest", UNREACHABLE, "--retries", "0", "--db", "h.db", "--auth-file", "PATH"],
    "export OUT": ["export", "PATH", "--db", "archive.db"],
    "export OUT markdown": ["export", "PATH", "--db", "archive.db", "--format", "markdown"],
    "export --db": ["export", "out.jsonl", "--db", "PATH"],
    "export --media-dir": ["export", "md", "--format", "markdown", "--db", "archive.db", "--media-dir", "PATH"],
    "serve --db": ["serve", "--db", "PATH"],
    "serve --config": ["serve", "--db", "archive.db", "--config", "PATH"],
    "rebuild --db": ["rebuild", "--db", "PATH"],
    "demo --db": ["demo", "--no-serve", "--db", "PATH"],
}

# What is fine to do with such a path, and so may exit 0: exporting (nothing: the archive is empty)
# over a file, into a folder that is there or can be made, without images from a folder that is not.
SUCCEEDS = {
    ("export OUT", "not an archive"), ("export OUT markdown", "missing folder"), ("export OUT markdown", "a directory"),
    *(("export --media-dir", name) for name in ("missing folder", "a directory", "under a file", "too long")),
}


@pytest.mark.parametrize("path_name", list(BAD_PATHS))
@pytest.mark.parametrize("command", list(PATH_COMMANDS))
def test_every_command_with_a_bad_path_says_so_in_one_line(place, command, path_name) -> None:
    args = [BAD_PATHS[path_name] if a == "PATH" else a for a in PATH_COMMANDS[command]]
    result = _run(*args)
    _no_traceback(result, (0, 1, 2) if (command, path_name) in SUCCEEDS else (1, 2))


@pytest.mark.parametrize("port", ["99999", "-1", "abc", "", "1e3", "8080.5"])
@pytest.mark.parametrize("command", [["serve", "--port"], ["sample-site", "--port"], ["demo", "--port"],
                                     ["demo", "--site-port"]])
def test_every_command_with_a_bad_port_is_a_usage_error(place, command, port) -> None:
    result = _run(*command, port)
    _no_traceback(result, (2,))
    assert "Invalid value for" in result.stderr
