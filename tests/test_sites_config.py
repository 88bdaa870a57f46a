"""Many sites from sites.toml: per-site options, one failure does not stop the others."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from wparchive.cli import EXIT_FAILED, EXIT_OK, cli
from wparchive.config import load_sites
from wparchive.errors import ConfigError
from wparchive.sample.site import Item, Site


def _write(folder: Path, text: str) -> str:
    folder.mkdir(exist_ok=True)
    (folder / "sites.toml").write_text(text, encoding="utf-8")
    return str(folder)


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_every_configured_site_is_harvested_and_a_failure_does_not_stop_the_others(make_server, tmp_path) -> None:
    one = make_server()
    two = make_server(Site(name="Second", items=[Item(1, "post", "Only post", "<p>alone</p>")]))
    config = _write(tmp_path / "config", f"""
[defaults]
delay = 0

[[site]]
url = "{one.home}/"
exclude = ["users", "comments"]

[[site]]
url = "http://127.0.0.1:9/"
timeout = 2

[[site]]
url = "{two.home}/"
include = ["posts"]
""")
    db_path = str(tmp_path / "archive.db")
    result = _run("harvest", "--config", config, "--db", db_path, "--retries", "0", "--quiet")
    assert result.exit_code == EXIT_FAILED
    assert "http://127.0.0.1:9/: could not reach" in result.stderr
    db = sqlite_utils.Database(db_path)
    assert [r["name"] for r in db["sites"].rows] == ["The Allotment Almanac", "Second"]
    assert db.execute("SELECT count(*) FROM comments").fetchone()[0] == 0  # excluded
    assert db.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM posts WHERE site_id = 2").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM terms WHERE site_id = 2").fetchone()[0] == 0  # only posts
    statuses = [r["status"] for r in db["harvest_runs"].rows]
    assert statuses == ["ok", "failed", "ok"]


def test_all_well_exits_0_and_quiet_says_nothing(make_server, tmp_path) -> None:
    server = make_server()
    config = _write(tmp_path / "config", f'[[site]]\nurl = "{server.home}/"\ndelay = 0\n')
    result = _run("harvest", "--config", config, "--db", str(tmp_path / "a.db"), "--quiet")
    assert result.exit_code == EXIT_OK and result.output == ""


def test_each_site_is_named_in_what_its_run_did(make_server, tmp_path) -> None:
    one, two = make_server(), make_server(Site(name="Second", items=[Item(1, "post", "Only post", "<p>alone</p>")]))
    config = _write(tmp_path / "config", f'[defaults]\ndelay = 0\n\n[[site]]\nurl = "{one.home}/"\n\n'
                                         f'[[site]]\nurl = "{two.home}/"\ninclude = ["posts"]\n')
    result = _run("harvest", "--config", config, "--db", str(tmp_path / "a.db"))
    assert result.exit_code == EXIT_OK
    first, second = result.stderr.splitlines()
    assert first.startswith(f"{one.home}/: run 1 ok: category 7 new;")
    assert second.startswith(f"{two.home}/: run 2 ok: post 1 new (")
    again = _run("harvest", "--config", config, "--db", str(tmp_path / "a.db"))
    assert [line.split(" (")[0] for line in again.stderr.splitlines()] == [
        f"{one.home}/: run 3 ok: nothing changed", f"{two.home}/: run 4 ok: nothing changed"]


def test_no_url_and_no_sites_says_what_to_do(tmp_path) -> None:
    config = _write(tmp_path / "config", "[defaults]\ndelay = 1\n")
    result = _run("harvest", "--config", config, "--db", str(tmp_path / "a.db"))
    assert result.exit_code == EXIT_FAILED
    assert "lists no [[site]]" in result.stderr and "give a URL" in result.stderr


@pytest.mark.parametrize("text, message", [
    ("[[site]]\nurl = 'ftp://x'\n", "[[site]] number 1: url: Value error, must start with http:// or https://"),
    ("[[site]]\nurl = 'https://x'\ndelay = -1\n", "[[site]] number 1: delay: Input should be greater than or equal to 0"),
    ("[[site]]\nurl = 'https://x'\ncolour = 'red'\n", "[[site]] number 1: colour: Extra inputs are not permitted"),
    ("[[site]\nurl = 'https://x'\n", "Expected ']]' at the end of an array declaration (at line 1, column 7)"),
])
def test_a_broken_sites_file_is_one_clear_error(tmp_path, text, message) -> None:
    path = Path(_write(tmp_path / "config", text)) / "sites.toml"
    with pytest.raises(ConfigError, match="sites.toml: .*"):
        load_sites(path)
    result = _run("harvest", "--config", str(path.parent), "--db", str(tmp_path / "a.db"))
    assert result.exit_code == EXIT_FAILED
    assert message in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "a.db").exists()  # nothing half-written


def test_the_bundled_sites_file_parses() -> None:
    from wparchive.paths import config_dir

    sites = load_sites(config_dir() / "sites.toml")
    assert sites == []


def test_the_boilerplate_rules_of_the_config_folder_are_used(make_server, tmp_path) -> None:
    import shutil

    from wparchive.paths import config_dir

    server = make_server()
    folder = tmp_path / "config"
    shutil.copytree(config_dir(), folder)
    (folder / "boilerplate.toml").write_text('phrases = ["Soup\\\\. Fritters\\\\. Cake\\\\..*"]\n')
    db_path = str(tmp_path / "a.db")
    result = _run("harvest", server.home + "/", "--config", str(folder), "--db", db_path, "--delay", "0", "-q")
    assert result.exit_code == 0, result.output
    text = sqlite_utils.Database(db_path)["posts"].get("1-1011")["content_text"]
    assert "Soup. Fritters. Cake." not in text and "courgettes = 20" in text


def test_opening_a_finished_archive_writes_nothing(server, tmp_path) -> None:
    import sqlite3

    from sqlite_utils.db import Database

    from wparchive.db import ensure_tables

    db_path = str(tmp_path / "done.db")
    assert _run("harvest", server.home + "/", "--db", db_path, "--delay", "0", "-q").exit_code == 0
    read_only = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    db = Database(read_only)
    statements: list[str] = []
    read_only.set_trace_callback(statements.append)
    # ensure_tables lets a write refused as read-only pass (an archive on read-only storage is
    # served as it is), so what it ran is looked at: the version and the table names, read only.
    ensure_tables(db)
    read_only.close()
    assert "PRAGMA user_version" in statements
    assert [s for s in statements if not re.fullmatch(r"(?is)\s*(select\b.*|pragma user_version)\s*", s)] == []
