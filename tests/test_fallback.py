"""A site whose REST API is switched off is archived from its feed, its sitemaps and its pages."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from wparchive.cli import cli
from wparchive.harvest import harvest_site


def _rows(db, sql: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [tuple(r) for r in db.execute(sql).fetchall()]


@pytest.mark.parametrize("full_text", [True, False])
def test_feed_sitemaps_and_pages_replace_the_api(make_server, client, db, full_text) -> None:
    server = make_server(rest_disabled=True, feed_full_text=full_text)
    result = harvest_site(db, client, server.home + "/2023/03/the-compost-question/")
    assert result.status == "ok", result.errors
    assert any("no usable REST API" in note and "rest_cannot_access" in note for note in result.notes)
    site = db["sites"].get(result.site_id)
    assert site["name"] == "The Allotment Almanac" and site["home"] == server.home
    counts = dict(_rows(db, "SELECT type, count(*) FROM posts GROUP BY type"))
    assert counts == {"post": 24, "page": 5}
    from_pages = [key for (key,) in _rows(db, "SELECT key FROM posts WHERE type = 'post' AND source = 'html' ORDER BY key")]
    # a feed with full text leaves only what it cannot show (the password-protected post) to the pages
    assert from_pages == (["1-1017"] if full_text else [f"1-{i}" for i in range(1001, 1025)])
    assert _rows(db, "SELECT DISTINCT source FROM posts WHERE type = 'page'") == [("html",)]
    compost = db["posts"].get("1-1002")  # WordPress ids come from the guid or the page itself
    assert compost["title"] == "The compost question"
    assert compost["content_text"].startswith("Hot or cold? We tried both.")
    assert "Margit Okafor" == compost["author_name"]
    assert compost["date_gmt"] == "2023-03-08T18:30:00"
    if full_text:  # RSS has one list for categories and tags alike
        assert json.loads(compost["categories"]) == ["Growing", "compost"] and json.loads(compost["tags"]) == []
    else:  # the theme's links say which is which
        assert json.loads(compost["categories"]) == ["Growing"] and json.loads(compost["tags"]) == ["compost"]
    about = db["posts"].get("1-50")
    assert about["title"] == "About us" and "growing food since 1921" in about["content_text"]
    # page furniture is not the author's text
    for row in db["posts"].rows:
        for furniture in ("Share this:", "Leave a Reply", "Post Comment", "Proudly powered", "thoughts"):
            assert furniture not in row["content_text"], (row["key"], furniture)
    assert db["posts"].get("1-1017")["content_text"] == ""  # password-protected: nothing invented


def test_the_fallback_again_changes_nothing(make_server, client, db) -> None:
    server = make_server(rest_disabled=True)
    harvest_site(db, client, server.home + "/")
    before = {table: list(db[table].rows) for table in ("posts", "links", "images", "raw_json")}
    second = harvest_site(db, client, server.home + "/")
    assert {name: (c["mode"], c["seen"], c["new"], c["updated"], c["unchanged"])
            for name, c in second.counts.items()} == {"post": ("fallback", 24, 0, 0, 24),
                                                      "page": ("fallback", 5, 0, 0, 5)}
    assert {table: list(db[table].rows) for table in before} == before


def test_searchable_and_exportable_like_any_archive(make_server, tmp_path) -> None:
    server = make_server(rest_disabled=True)
    db_path = str(tmp_path / "closed.db")
    result = CliRunner().invoke(cli, ["harvest", server.home + "/", "--db", db_path, "--delay", "0"])
    assert result.exit_code == 0, result.output
    assert "reading the feed, sitemaps and pages" in result.stderr
    export = CliRunner().invoke(cli, ["export", "-", "--db", db_path])
    rows = [json.loads(line) for line in export.stdout.splitlines()]
    assert {r["source"] for r in rows} == {"feed", "html"}
    assert next(r for r in rows if r["key"] == "1-1002")["author_label"] == "Margit Okafor"


def test_no_feed_either_is_a_clear_failure(make_server, client, db) -> None:
    server = make_server(rest_disabled=True)
    server.fault = lambda path, query: (404, {"Content-Type": "text/html"}, b"<h1>Not found</h1>") \
        if path.startswith("/feed") else None
    from wparchive.errors import RestDisabled

    with pytest.raises(RestDisabled, match="refuses anonymous visitors"):
        harvest_site(db, client, server.home + "/")


def test_a_page_that_fails_costs_only_itself(make_server, client, db) -> None:
    server = make_server(rest_disabled=True, feed_full_text=False)
    broken = "/2023/03/the-compost-question/"
    server.fault = lambda path, query: (404, {"Content-Type": "text/html"}, b"<h1>Gone</h1>") \
        if path == broken else None
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "partial"
    assert result.errors == [f"post: HTTP 404 from {server.home}{broken}"]
    assert _rows(db, "SELECT collection, url, status, reason, body, retry FROM harvest_errors") == [
        ("post", server.home + broken, 404, "http_404", b"<h1>Gone</h1>", 0)]
    assert _rows(db, "SELECT collection, seen, new, failed_pages FROM run_collections ORDER BY collection") == [
        ("page", 5, 5, 0), ("post", 23, 23, 1)]
    assert db["posts"].count == 28 and "1-1002" not in {r["key"] for r in db["posts"].rows}
