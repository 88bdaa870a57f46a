"""Signed-in harvests with an application password: checked first, never stored, never logged."""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from wparchive.cli import EXIT_FAILED, cli
from wparchive.client import Client
from wparchive.config import load_credentials
from wparchive.errors import AuthenticationFailed, ConfigError, NotSignedIn
from wparchive.harvest import harvest_site
from wparchive.sample.content import sample_site

USER, PASSWORD = "margit", "abcd EFGH 1234 ijkl MNOP 5678"


def _signed_in_site():  # type: ignore[no-untyped-def]
    site = sample_site()
    post = next(i for i in site.items if i.id == 1002)
    post.revisions = ["<p>First thoughts on compost.</p>", "<p>Second thoughts on compost.</p>"]
    return site


def _secret_traces() -> list[bytes]:
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    return [PASSWORD.encode(), token.encode(), PASSWORD.split()[0].encode() + b" " + PASSWORD.split()[1].encode()]


def test_private_items_and_revisions_when_signed_in(make_server, db, caplog) -> None:
    server = make_server(_signed_in_site(), credentials=(USER, PASSWORD))
    client = Client(delay=0, auth=(USER, PASSWORD))
    with caplog.at_level(logging.DEBUG, logger="wparchive"):
        result = harvest_site(db, client, server.home + "/", private=True, revisions=True)
    assert result.status == "ok", result.errors
    assert "signed in as Margit Okafor" in result.notes
    statuses = db.execute("SELECT status, count(*) FROM posts GROUP BY status ORDER BY status").fetchall()
    assert statuses == [("draft", 2), ("future", 1), ("publish", 29)]
    assert db["posts"].get("1-1099")["title"] == "Draft: the shed roof"
    revisions = [row[0] for row in db.execute(
        "SELECT json_extract(json, '$.content.rendered') FROM versions WHERE source = 'revision' AND key = '1-1002' "
        "ORDER BY revision_id")]
    assert revisions == ["<p>First thoughts on compost.</p>\n", "<p>Second thoughts on compost.</p>\n"]
    # A second run keeps each revision once.
    harvest_site(db, Client(delay=0, auth=(USER, PASSWORD)), server.home + "/", private=True, revisions=True)
    assert db.execute("SELECT count(*) FROM versions WHERE source = 'revision'").fetchone()[0] == 2
    # The secret is nowhere: not in the database file, not in the logs, not in a repr.
    db.conn.commit()
    raw = Path(db.conn.execute("PRAGMA database_list").fetchone()[2]).read_bytes()
    for trace in _secret_traces():
        assert trace not in raw
        assert trace.decode() not in caplog.text
    assert PASSWORD not in repr(client)


def test_signed_in_the_raw_markup_and_what_editors_see_are_kept(make_server, db) -> None:
    site = _signed_in_site()
    blocks = "<!-- wp:paragraph -->\n<p>Blocks survive.</p>\n<!-- /wp:paragraph -->"
    next(i for i in site.items if i.id == 1002).content = blocks
    site.comments[0].status = "hold"
    server = make_server(site, credentials=(USER, PASSWORD))
    result = harvest_site(db, Client(delay=0, auth=(USER, PASSWORD)), server.home + "/", private=True)
    assert result.status == "ok", result.errors
    raw = json.loads(db.execute("SELECT json FROM raw_json WHERE \"table\" = 'posts' AND key = '1-1002'").fetchone()[0])
    assert raw["content"]["raw"] == blocks and raw["title"]["raw"] == raw["title"]["rendered"]
    assert "Blocks survive." in db["posts"].get("1-1002")["content_text"]  # cleaned from the rendered HTML
    emails = [json.loads(j).get("email") for (j,) in db.execute("SELECT json FROM raw_json WHERE \"table\" = 'users'")]
    assert emails and all(emails)
    assert all("context=edit" in url for (url,) in db.execute("SELECT response_url FROM posts"))
    # a comment held for moderation comes along with --private
    assert db["comments"].get(f"1-{site.comments[0].id}")["status"] == "hold"


def test_a_user_who_may_not_edit_gets_what_readers_see(make_server, db) -> None:
    server = make_server(_signed_in_site(), credentials=(USER, PASSWORD), may_edit=False)
    result = harvest_site(db, Client(delay=0, auth=(USER, PASSWORD)), server.home + "/")
    assert result.status == "ok", result.errors
    assert any("may not edit these" in note for note in result.notes)
    assert db.execute("SELECT count(*) FROM posts").fetchone()[0] == 29
    assert not db.execute("SELECT 1 FROM raw_json WHERE json_extract(json, '$.content.raw') IS NOT NULL").fetchall()


def test_credentials_answered_as_anonymous_stop_the_harvest(make_server, db) -> None:
    # WordPress answers so when the Authorization header is stripped (Apache with PHP as CGI), and
    # when the site has no application password in use or allows none: a wrong password then looks
    # like no password at all, and harvesting on would quietly archive only what is public.
    server = make_server(_signed_in_site(), credentials=(USER, PASSWORD), strip_authorization=True)
    with pytest.raises(NotSignedIn, match="rest_not_logged_in") as raised:
        harvest_site(db, Client(delay=0, auth=(USER, PASSWORD)), server.home + "/", private=True)
    assert "Authorization header" in raised.value.hint and "application password" in raised.value.hint
    assert db.execute("SELECT count(*) FROM posts").fetchone()[0] == 0
    assert db.execute("SELECT status FROM harvest_runs").fetchone()[0] == "failed"


def test_credentials_that_do_not_get_past_a_disabled_rest_api_stop_the_harvest(make_server, db) -> None:
    # Without them the feed and pages would be read instead; with them, the API was what was asked for.
    server = make_server(credentials=(USER, PASSWORD), rest_disabled=True, strip_authorization=True)
    with pytest.raises(NotSignedIn, match="refuses anonymous visitors .*, and the credentials did not sign in"):
        harvest_site(db, Client(delay=0, auth=(USER, PASSWORD)), server.home + "/")
    assert db.execute("SELECT count(*) FROM posts").fetchone()[0] == 0
    signed_in = make_server(credentials=(USER, PASSWORD), rest_disabled=True)
    result = harvest_site(db, Client(delay=0, auth=(USER, PASSWORD)), signed_in.home + "/")
    assert result.status == "ok" and "signed in as Margit Okafor" in result.notes


def test_wrong_credentials_fail_with_a_clear_error(make_server, db) -> None:
    server = make_server(credentials=(USER, PASSWORD))
    with pytest.raises(AuthenticationFailed, match="incorrect_password"):
        harvest_site(db, Client(delay=0, auth=(USER, "wrong")), server.home + "/")


@pytest.mark.parametrize("strip_authorization", [False, True], ids=["refused", "answered-as-anonymous"])
def test_wrong_credentials_are_an_error_even_when_quiet(make_server, tmp_path, monkeypatch,
                                                        strip_authorization) -> None:
    server = make_server(credentials=(USER, PASSWORD), strip_authorization=strip_authorization)
    monkeypatch.setenv("WP_AUTH", f"{USER}:wrong password")
    result = CliRunner().invoke(cli, ["harvest", server.home + "/", "--db", str(tmp_path / "a.db"), "--delay", "0",
                                      "--auth-env", "WP_AUTH", "-q"])
    assert result.exit_code == EXIT_FAILED
    error, hint = result.stderr.splitlines()
    assert error.startswith("Error: ") and ("incorrect_password" in error or "rest_not_logged_in" in error)
    assert "application password" in hint
    assert "wrong password" not in result.output
    assert not any("/wp/v2/posts" in path for path in server.requests)  # stopped before any collection


def test_without_credentials_private_is_explained_not_attempted(make_server, db) -> None:
    server = make_server(credentials=(USER, PASSWORD))
    result = harvest_site(db, Client(delay=0), server.home + "/", private=True, revisions=True)
    assert result.status == "ok"
    assert any("need credentials" in note for note in result.notes)
    assert not any("status=" in path for path in server.requests)


def test_credentials_from_the_environment_or_a_private_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WP_AUTH", f"{USER}:{PASSWORD}")
    assert load_credentials("WP_AUTH") == (USER, PASSWORD)
    secret = tmp_path / "site.auth"
    secret.write_text(f"{USER}:{PASSWORD}\n")
    os.chmod(secret, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_credentials(file=str(secret))
    os.chmod(secret, 0o600)
    assert load_credentials(file=str(secret)) == (USER, PASSWORD)
    monkeypatch.setenv("BAD", "no-colon")
    with pytest.raises(ConfigError, match="user:application-password"):
        load_credentials("BAD")
    with pytest.raises(ConfigError, match="is not set"):
        load_credentials("UNSET_VARIABLE_FOR_TEST")


def test_the_cli_reads_credentials_only_from_env_or_file(make_server, tmp_path, monkeypatch) -> None:
    server = make_server(_signed_in_site(), credentials=(USER, PASSWORD))
    monkeypatch.setenv("WP_AUTH", f"{USER}:{PASSWORD}")
    db_path = str(tmp_path / "a.db")
    result = CliRunner().invoke(cli, ["harvest", server.home + "/", "--db", db_path, "--delay", "0",
                                      "--auth-env", "WP_AUTH", "--private", "-v"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "signed in as Margit Okafor" in result.stderr
    for trace in _secret_traces():
        assert trace.decode() not in result.output
    wrong = CliRunner().invoke(cli, ["harvest", server.home + "/", "--db", db_path, "--auth-env", "NOT_SET_X"])
    assert wrong.exit_code == EXIT_FAILED and "NOT_SET_X" in wrong.stderr
