"""wparchive against a real WordPress on loopback, loaded with the theme-unit-test corpus.

Each check runs in both permalink modes: pretty (/wp-json/) and plain (?rest_route= only).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlite_utils.db import Database

from wparchive.cli import EXIT_FAILED, cli
from wparchive.clean import title_text
from wparchive.client import Client
from wparchive.db import open_db
from wparchive.harvest import HarvestResult, harvest_site
from wparchive.serve import build_datasette

pytestmark = pytest.mark.integration

# Collections whose X-WP-Total WordPress computes before hiding what an anonymous visitor
# may not read (comments on protected or draft posts, attachments of drafts).
COUNTED_BEFORE_FILTERING = {"comments", "media"}
STICKY_POST = 1241
PROTECTED_POST = 1168


@dataclass
class Harvest:
    mode: str
    start_url: str
    db: Database
    result: HarvestResult
    witness: dict[str, Any]


@pytest.fixture(scope="module", params=["pretty", "plain"])
def harvest(request: pytest.FixtureRequest, wordpress, tmp_path_factory) -> Harvest:  # type: ignore[no-untyped-def]
    mode = request.param
    wordpress.set_permalinks(mode)
    # A post's page, as a person would copy it from the browser: the API is found from there.
    start_url = requests.get(f"{wordpress.home}/?p={STICKY_POST}", timeout=30).url
    db = open_db(str(tmp_path_factory.mktemp(mode) / "archive.db"))
    result = harvest_site(db, Client(delay=0, timeout=60), start_url)
    return Harvest(mode, start_url, db, result, wordpress.witness())


def _count(db: Database, table: str, where: str = "1") -> int:
    return db.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]


def test_starts_from_a_page_url_and_finds_the_api_of_its_permalink_mode(harvest: Harvest) -> None:
    assert "wp-json" not in harvest.start_url and "rest_route" not in harvest.start_url
    assert harvest.result.status == "ok", harvest.result.errors
    if harvest.mode == "pretty":
        assert harvest.result.api_root.endswith("/wp-json/")
        assert "/20" in harvest.start_url  # a /%year%/%monthnum%/%postname%/ permalink
    else:
        assert harvest.result.api_root.endswith("?rest_route=/")
        assert f"?p={STICKY_POST}" in harvest.start_url


def test_stored_rows_equal_what_wordpress_serves(harvest: Harvest) -> None:
    stored = {
        "post": _count(harvest.db, "posts", "type = 'post'"),
        "page": _count(harvest.db, "posts", "type = 'page'"),
        "media": _count(harvest.db, "media"),
        "category": _count(harvest.db, "terms", "taxonomy = 'category'"),
        "post_tag": _count(harvest.db, "terms", "taxonomy = 'post_tag'"),
        "users": _count(harvest.db, "users"),
        "comments": _count(harvest.db, "comments"),
    }
    # Witness one: WordPress's own database, read by PHP with WordPress's rules.
    assert stored == harvest.witness["counts"]
    # Witness two: X-WP-Total.
    totals = {name: counts["total"] for name, counts in harvest.result.counts.items()}
    for name, count in stored.items():
        if name in COUNTED_BEFORE_FILTERING:
            assert totals[name] >= count
        else:
            assert totals[name] == count, name
    assert stored["post"] > 50 and stored["page"] > 20 and stored["category"] > 60 and stored["comments"] > 20


def test_protected_draft_and_future_posts(harvest: Harvest) -> None:
    protected = harvest.db["posts"].get(f"1-{PROTECTED_POST}")
    assert protected["protected"] == 1
    assert protected["content_html"] == "" and protected["content_text"] == "" and protected["excerpt_text"] == ""
    assert harvest.witness["protected"] == [PROTECTED_POST]
    for hidden in harvest.witness["hidden"]:
        assert harvest.db.execute("SELECT count(*) FROM posts WHERE wp_id = ?", [hidden]).fetchone()[0] == 0
    assert {1153, 1164} <= set(harvest.witness["hidden"])  # the WXR's future and draft posts


def test_threads_hierarchies_and_sticky(harvest: Harvest) -> None:
    stored_comments = {row["wp_id"]: row["parent"] for row in harvest.db["comments"].rows}
    threaded = {int(c): p for c, p in harvest.witness["comment_parents"].items() if int(c) in stored_comments}
    assert len(threaded) >= 5
    for comment, parent in threaded.items():
        assert stored_comments[comment] == f"1-{parent}"
    parents = {row["wp_id"]: row["parent"] for row in harvest.db["terms"].rows_where("taxonomy = 'category'")}
    nested = {int(t): p for t, p in harvest.witness["category_parents"].items() if p}
    assert len(nested) >= 10
    for term, parent in nested.items():
        assert parents[term] == f"1-{parent}"
    assert [row["wp_id"] for row in harvest.db["posts"].rows_where("sticky = 1")] == harvest.witness["sticky"]
    assert harvest.db["posts"].get("1-1811")["parent"] == "1-1809"  # a Greek page under its parent


def test_titles_arrive_intact(harvest: Harvest) -> None:
    stored = {row["wp_id"]: row["title"] for row in harvest.db["posts"].rows}
    for wp_id, rendered in harvest.witness["titles"].items():
        assert stored[int(wp_id)] == title_text(rendered)
    assert stored[1809] == "Ελληνικά-Greek"
    assert stored[1813] == "Επίπεδο 3"
    assert stored[1173] == "Markup: Title With Markup"
    assert stored[1174].startswith("Markup: Title With Special Characters ~`!@#$%^&*()-_=+{}[]/")
    assert not any("&#" in title or "&amp;" in title for title in stored.values())


def _text(harvest: Harvest, wp_id: int) -> str:
    return harvest.db["posts"].get(f"1-{wp_id}")["content_text"]


def test_shortcodes_captions_and_showcases_become_clean_text(harvest: Harvest) -> None:
    for wp_id in (555, 1031, 568, 1163, 1177, 1133):  # galleries and captions
        text = _text(harvest, wp_id)
        assert "[gallery" not in text and "[caption" not in text and "[/caption]" not in text, wp_id
    assert "Look at 580×300 getting some caption love." in _text(harvest, 1177)
    markup = _text(harvest, 1178)
    html = harvest.db["posts"].get("1-1178")["content_html"]
    assert "<h1>Header one</h1>" in html and "Header one\n\nHeader two" in markup
    # The showcase names elements in its prose ("The HTML <blockquote> Element"): those stay,
    # decoded; markup, attributes, comments and entities do not.
    assert "&lt;blockquote&gt;" in html and "The HTML <blockquote> Element" in markup
    for debris in ("<h1>", "</p>", "<strong>", "class=", "<!--", "&lt;", "&amp;", "&#"):
        assert debris not in markup, debris
    images = _count(harvest.db, "images", "post = '1-1177'")
    assert images >= 5


def test_a_paginated_post_keeps_every_page(harvest: Harvest) -> None:
    text = _text(harvest, 1171)
    assert "Post Page 1" in text and "Post Page 2" in text and "Post Page 3" in text
    assert text.index("Post Page 1") < text.index("Post Page 2") < text.index("Post Page 3")
    assert "nextpage" not in text


def test_a_second_harvest_changes_nothing(harvest: Harvest) -> None:
    tables = ("posts", "terms", "users", "media", "comments", "links", "images", "post_terms", "raw_json")
    before = {table: list(harvest.db[table].rows) for table in tables}
    again = harvest_site(harvest.db, Client(delay=0, timeout=60), harvest.start_url)
    assert again.status == "ok"
    assert all(c["new"] == 0 and c["updated"] == 0 for c in again.counts.values()), again.counts
    assert {table: list(harvest.db[table].rows) for table in tables} == before


def test_datasette_finds_a_post_by_a_word_in_its_body(harvest: Harvest) -> None:
    ds = build_datasette(str(harvest.db.conn.execute("PRAGMA database_list").fetchone()[2]))

    async def search() -> Any:
        await ds.invoke_startup()
        return await ds.client.get("/archive/posts.json?_search=Taumatawhakatangihangakoauauotamateaturipukakapikimaungahoronukupokaiwhenuakitanatahu&_shape=array")

    response = asyncio.run(search())
    assert response.status_code == 200
    assert [row["wp_id"] for row in response.json()] == [1175]
    assert json.loads(harvest.db["harvest_runs"].get(1)["counts"])["post"]["total"] == harvest.witness["counts"]["post"]


def test_a_harvest_with_concurrency_stores_the_same(harvest: Harvest, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = open_db(str(tmp_path / "concurrent.db"))
    result = harvest_site(db, Client(delay=0, timeout=60, concurrency=4), harvest.start_url)
    assert result.status == "ok"
    # Not content_text itself: a gallery in random order differs on every request, harvest or not.
    tables = {"posts": "key, title, modified_gmt, word_count", "terms": "key, name", "users": "key, name",
              "media": "key, source_url", "comments": "key, content_text", "links": "post, href"}
    for table, columns in tables.items():
        query = f"SELECT DISTINCT {columns} FROM {table} ORDER BY 1, 2"
        assert db.execute(query).fetchall() == harvest.db.execute(query).fetchall(), table
    assert db.execute("SELECT count(*) FROM posts").fetchone()[0] > 50


@pytest.mark.parametrize("user", ["admin", "nobody-of-that-name"])  # admin: the administrator of install.php
def test_wrong_credentials_stop_a_quiet_harvest_with_an_error(wordpress, tmp_path, monkeypatch, user) -> None:  # type: ignore[no-untyped-def]
    # Before the site has an application password in use, WordPress takes none and answers a wrong
    # one as it answers an anonymous visitor; after, it refuses it. Neither may pass in silence.
    for _ in range(2):
        monkeypatch.setenv("WP_AUTH", f"{user}:abcd efgh ijkl mnop qrst uvwx")
        result = CliRunner().invoke(cli, ["harvest", wordpress.home + "/", "--db", str(tmp_path / "a.db"),
                                          "--delay", "0", "--auth-env", "WP_AUTH", "-q"])
        assert result.exit_code == EXIT_FAILED, result.output
        assert result.stderr.startswith("Error: ") and "application password" in result.stderr
        assert "abcd efgh" not in result.output
        wordpress.app_password()  # now one is in use
