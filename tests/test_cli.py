"""The command line through click's CliRunner: exit codes, quiet mode, messages."""

from __future__ import annotations

import asyncio
import json
import re
import shlex

import click
import sqlite_utils
from click.testing import CliRunner

from wparchive.cli import EXIT_FAILED, EXIT_PARTIAL, cli
from wparchive.sample.site import Item, Site, TermItem
from wparchive.serve import build_datasette


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_harvest_then_again_without_duplicates(server, db_path) -> None:
    result = _run("harvest", server.home + "/", "--db", db_path, "--delay", "0")
    assert result.exit_code == 0, result.output
    assert f"{server.home}/: run 1 ok: category 7 new; post_tag 10 new; users 3 new; post 24 new;" in result.stderr
    assert result.stdout == ""  # progress and summaries go to stderr
    again = _run("harvest", server.home + "/", "--db", db_path, "--delay", "0")
    assert again.exit_code == 0
    assert again.stderr == f"{server.home}/: run 2 ok: nothing changed (10 requests) → {db_path}\n"
    db = sqlite_utils.Database(db_path)
    assert db.execute("SELECT count(*) FROM posts WHERE type = 'post'").fetchone()[0] == 24
    assert [r["status"] for r in db["harvest_runs"].rows] == ["ok", "ok"]


def test_the_summary_says_what_changed_in_each_collection(make_server, db_path) -> None:
    site = Site(items=[Item(i, "post", f"Post {i}", f"<p>Text {i}.</p>") for i in range(1, 151)],
                terms=[TermItem(1000 + i, "post_tag", f"tag {i}") for i in range(1, 131)])
    server = make_server(site)
    first = _run("harvest", server.home + "/", "--db", db_path, "--delay", "0")
    assert ": run 1 ok: post_tag 130 new; post 150 new (" in first.stderr
    edited = next(i for i in site.items if i.id == 7)
    edited.content, edited.modified_gmt = "<p>Revised.</p>", "2030-01-01T00:00:00"
    site.items = [i for i in site.items if i.id not in (8, 9)] + [Item(500, "post", "New", "<p>New.</p>")]
    again = _run("harvest", server.home + "/", "--db", db_path, "--delay", "0")
    assert again.stderr.startswith(f"{server.home}/: run 2 ok: post 1 new, 1 updated, 2 removed (")
    # however far each run reads of a collection of more than a page, an unchanged one is not said
    for run in (3, 4):
        same = _run("harvest", server.home + "/", "--db", db_path, "--delay", "0")
        assert same.stderr.startswith(f"{server.home}/: run {run} ok: nothing changed ("), same.stderr


def test_the_summary_of_a_failed_collection_says_so(server, db_path) -> None:
    server.fault = lambda path, query: (500, {}, b"oops") if path.endswith("/wp/v2/comments") else None
    result = _run("harvest", server.home + "/", "--db", db_path, "--delay", "0", "--retries", "0")
    assert result.exit_code == EXIT_PARTIAL
    assert "; media 4 new; comments 2 failed pages (" in result.stderr.splitlines()[0]


def test_quiet_prints_nothing_when_all_is_well(server, db_path) -> None:
    result = _run("harvest", server.home + "/", "--db", db_path, "--delay", "0", "--quiet")
    assert result.exit_code == 0
    assert result.output == ""


def test_unreachable_site_is_one_clear_error_and_exit_1(db_path) -> None:
    result = _run("harvest", "http://127.0.0.1:9/", "--db", db_path, "--retries", "0", "--quiet")
    assert result.exit_code == EXIT_FAILED
    assert result.stderr.startswith("Error: could not reach http://127.0.0.1:9/: connection refused")
    assert "Traceback" not in result.output
    db = sqlite_utils.Database(db_path)
    run = next(db["harvest_runs"].rows)
    assert run["status"] == "failed" and run["error_count"] == 1


def test_a_site_that_is_down_fails_at_once_not_after_retries(server, db_path, monkeypatch) -> None:
    port = server.port
    server.stop()  # nothing listens on its port any more
    result = _run("harvest", f"http://127.0.0.1:{port}/", "--db", db_path)  # the default --retries
    assert result.exit_code == EXIT_FAILED
    error, hint = result.stderr.splitlines()
    assert error == f"Error: could not reach http://127.0.0.1:{port}/: connection refused (http://127.0.0.1:{port})"
    assert "Check the address" in hint
    assert next(sqlite_utils.Database(db_path)["harvest_runs"].rows)["requests"] == 1


def test_a_site_that_goes_down_mid_harvest_stops_the_run(server, db_path) -> None:
    def go_down(path, query):  # type: ignore[no-untyped-def]
        if path.endswith("/wp/v2/media"):
            server.stop()  # the listening socket closes; this last answer still goes out, and its connection ends
            return 503, {"Connection": "close"}, b"going down"
        return None

    server.fault = go_down
    result = _run("harvest", server.home + "/", "--db", db_path, "--delay", "0")
    assert result.exit_code == EXIT_FAILED
    assert result.stderr.splitlines()[-2:] == [
        f"Error: connection refused ({server.home})",
        "Check the address (host name and port) and that the site is up, then run again."]
    assert not any("/wp/v2/comments" in path for path in server.requests)  # not tried, one by one, after it
    run = next(sqlite_utils.Database(db_path)["harvest_runs"].rows)
    assert run["status"] == "failed"


def test_a_host_name_not_found_fails_at_once(db_path, monkeypatch) -> None:
    import socket

    def no_such_host(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)  # the resolver's answer for a name that is no host
    result = _run("harvest", "http://wp.example.invalid/", "--db", db_path, "-q")
    assert result.exit_code == EXIT_FAILED
    assert result.stderr.startswith("Error: could not reach http://wp.example.invalid/: host name not found")
    assert next(sqlite_utils.Database(db_path)["harvest_runs"].rows)["requests"] == 1


def test_partial_harvest_exits_3_and_says_where_to_look(server, db_path) -> None:
    server.fault = lambda path, query: (500, {}, b"oops") if path.endswith("/wp/v2/comments") else None
    result = _run("harvest", server.home + "/", "--db", db_path, "--delay", "0", "--retries", "0")
    assert result.exit_code == EXIT_PARTIAL
    assert "harvest_errors" in result.stderr and "comments" in result.stderr
    db = sqlite_utils.Database(db_path)
    assert db.execute("SELECT count(*) FROM posts").fetchone()[0] == 29
    error = next(db["harvest_errors"].rows)
    assert error["status"] == 500 and error["body"] == b"oops"
    assert json.loads(next(db["harvest_runs"].rows)["counts"])["post"]["new"] == 24


def test_a_database_of_another_tool_is_refused(server, tmp_path) -> None:
    other = tmp_path / "other.db"
    sqlite_utils.Database(other)["posts"].insert({"id": 1})
    result = _run("harvest", server.home + "/", "--db", str(other), "--delay", "0")
    assert result.exit_code == EXIT_FAILED
    assert "not a wparchive archive" in result.stderr and "--db" in result.stderr


def test_serve_refuses_a_missing_database(tmp_path) -> None:
    result = _run("serve", "--db", str(tmp_path / "missing.db"))
    assert result.exit_code == EXIT_FAILED
    assert "run 'wparchive harvest" in result.stderr


def test_demo_harvests_the_sample_site(tmp_path) -> None:
    result = _run("demo", "--db", str(tmp_path / "demo.db"), "--no-serve", "--site-port", "0")
    assert result.exit_code == 0, result.output
    db = sqlite_utils.Database(tmp_path / "demo.db")
    assert db.execute("SELECT count(*) FROM posts").fetchone()[0] == 29
    assert db["sites"].get(1)["name"] == "The Allotment Almanac"


def test_every_command_explains_itself_with_an_example() -> None:
    for name, command in cli.commands.items():
        result = _run(name, "--help")
        assert result.exit_code == 0
        assert "Example" in result.output, f"{name} --help has no example"
        summary = (command.help or "").strip().splitlines()[0]
        assert len(summary.split()) >= 5 and summary.endswith("."), f"{name}: no sentence saying what it does"
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts[0]} does not say what it is for"
        examples = _examples(command.help or "")
        assert any(args[0] == name for args in examples), f"{name}: no example runs 'wparchive {name}'"
        for args in examples:  # each example is a command line that parses as written
            cli.commands[args[0]].make_context(f"wparchive {args[0]}", args[1:])


def _examples(help_text: str) -> list[list[str]]:
    """The wparchive command lines of a help text's Example block, without environment variables, comments or &."""
    block = help_text.split("Example", 1)[1].split("\n", 1)[1]
    found = []
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        while words and "=" in words[0]:
            words.pop(0)  # VAR=value before the command
        if words[:1] == ["wparchive"]:
            found.append([word for word in words[1:] if word != "&"])
    return found


def test_a_second_harvest_of_the_same_archive_exits_at_once(server, db_path) -> None:
    from wparchive.cli import EXIT_LOCKED
    from wparchive.db import archive_lock

    with archive_lock(db_path):
        result = _run("harvest", server.home + "/", "--db", db_path, "--delay", "0")
    assert result.exit_code == EXIT_LOCKED
    assert "being harvested by another process" in result.stderr
    assert server.requests == []  # it did not even start
    again = _run("harvest", server.home + "/", "--db", db_path, "--delay", "0", "--quiet")
    assert again.exit_code == 0  # the lock is gone with its holder


def test_full_refetches(server, db_path) -> None:
    _run("harvest", server.home + "/", "--db", db_path, "--delay", "0", "--quiet")
    server.requests.clear()
    result = _run("harvest", server.home + "/", "--db", db_path, "--delay", "0", "--full")
    assert result.exit_code == 0
    assert sum("/wp/v2/posts" in p for p in server.requests) == 1
    assert "_fields" not in next(p for p in server.requests if "/wp/v2/posts" in p)


def test_status_shows_what_the_home_page_shows_as_text_and_json(server, db_path, tmp_path) -> None:
    server.fault = lambda path, query: (500, {}, b"oops") if path.endswith("/wp/v2/comments") else None
    assert _run("harvest", server.home + "/", "--db", db_path, "--delay", "0", "--retries", "0").exit_code == 3
    with sqlite_utils.Database(db_path).conn as conn:
        conn.execute("UPDATE posts SET type = 'book' WHERE wp_id IN (1001, 1003)")
        conn.execute("UPDATE posts SET deleted_at = '2025-01-01T00:00:00+00:00' WHERE wp_id = 1002")
        conn.execute("UPDATE sites SET name = 'The Allotment\x1b[31m Almanac'")  # from the site: no escapes pass

    failed = sqlite_utils.Database(db_path).execute("SELECT count(*) FROM harvest_errors").fetchone()[0]
    assert failed >= 1
    text = _run("status", "--db", db_path)
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0] == f"Site 1: The Allotment?[31m Almanac ({server.home})"
    assert lines[1] == "  posts 21, pages 5, book 2; comments 0, media 4; deleted 1"
    assert lines[2].startswith("  published 2023-02-01 to 2024-06-15; last harvest 20")
    assert lines[2].endswith(f"(partial); open errors {failed}")
    assert lines[3] == "Last runs:" and lines[4].startswith("  run 1 20")
    assert f"partial: 53 new, 0 updated, 0 removed; errors {failed} - The Allotment?[31m Almanac" in lines[4]
    assert lines[5] == "Open errors (newest first):"
    assert len(lines) == 6 + failed
    assert all(line.startswith("  run 1 comments: 500 http_500") and "/wp/v2/comments" in line for line in lines[6:])

    state = json.loads(_run("status", "--db", db_path, "--format", "json").stdout)
    site = state["sites"][0]
    assert (site["posts"], site["pages"], site["other_types"], site["media"], site["deleted"]) == (21, 5, {"book": 2},
                                                                                                   4, 1)
    assert [(run["run_id"], run["status"]) for run in state["runs"]] == [(1, "partial")]
    assert [(error["collection"], error["status"]) for error in state["errors"]] == [("comments", 500)] * failed

    async def home() -> str:
        ds = build_datasette(db_path)
        await ds.invoke_startup()
        return (await ds.client.get("/")).text
    page = asyncio.run(home())
    assert re.search(r"<td>21</td><td>5</td>\s*<td>book 2</td>\s*<td>0</td><td>4</td><td>1</td>", page)
    assert "<h2>Last harvests</h2>" in page and "<td>partial</td>" in page
    assert "<h2>Open errors</h2>" in page and "/wp/v2/comments" in page

    missing = _run("status", "--db", str(tmp_path / "missing.db"))
    assert missing.exit_code == EXIT_FAILED and len(missing.stderr.splitlines()) == 1
    assert "missing.db does not exist" in missing.stderr
