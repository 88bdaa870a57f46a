"""The archive in Datasette: ranked safe search, facets, home page, post pages, canned queries."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import shutil
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import lxml.html
import pytest
from datasette import hookimpl
from datasette.plugins import pm
from datasette.utils import PrefixedUrlString
from datasette.utils.asgi import Response

from wparchive.harvest import harvest_site
from wparchive.paths import config_dir
from wparchive.sample.content import sample_site
from wparchive.sample.site import Item
from wparchive.serve import build_datasette
from wparchive.web import render_markdown
from wparchive.web.search import fts_query, highlight

HOSTILE = Item(
    2001, "post", "Compost &lt;script&gt;alert(1)&lt;/script&gt; and safety",
    '<p>A compost heap. Literal markup in the text: &lt;img src=x onerror=alert(1)&gt; and &lt;b&gt;bold&lt;/b&gt;.</p>'
    '<p><a href="javascript:alert(2)">click me</a> <img src="x" onerror="alert(3)"></p>'
    '<script>alert(4)</script>',
    date_gmt="2024-07-01T10:00:00", terms={"category": [2]},
)


@pytest.fixture
def archive(make_server, client, db, db_path) -> str:  # type: ignore[no-untyped-def]
    site = sample_site()
    site.items.append(HOSTILE)
    server = make_server(site)
    harvest_site(db, client, server.home + "/")
    return db_path


def _get(db_path: str, path: str):  # type: ignore[no-untyped-def]
    async def fetch():  # type: ignore[no-untyped-def]
        ds = build_datasette(db_path)
        await ds.invoke_startup()
        return await ds.client.get(path)
    return asyncio.run(fetch())


@pytest.mark.parametrize("text, expected", [
    ("compost heap", '"compost" "heap"'),
    ('"compost heap" rats', '"compost heap" "rats"'),
    ("well-known node.js", '"well known" "node js"'),
    ('unbalanced "quote', '"unbalanced" "quote"'),
    ("AND OR NOT * ( ) : ^", '"AND" "OR" "NOT"'),
    ("", ""),
])
def test_users_words_become_a_query_that_cannot_fail(text: str, expected: str) -> None:
    assert fts_query(text) == expected


def test_highlighting_escapes_everything_but_our_markers() -> None:
    assert highlight("a \x02<script>\x03 & b") == "a <mark>&lt;script&gt;</mark> &amp; b"


def test_search_is_ranked_with_highlighted_snippets(archive) -> None:
    page = _get(archive, "/-/wparchive/search?q=compost").text
    titles = re.findall(r'class="result-title"[^>]*>([^<]*)<', page)
    assert titles[0] == "The compost question"  # the word is in its title: weighted ten times
    assert "<mark>compost</mark>" in page.lower() or "<mark>Compost</mark>" in page
    assert "result" in page and "best first" in page


@pytest.mark.parametrize("query", ['"compost heap', "well-known", "node.js", '"', "a-", "compost -heap",
                                   "NEAR(compost", "title:compost", "'; drop table posts; --"])
def test_no_query_gives_an_error_page(archive, query) -> None:
    response = _get(archive, "/-/wparchive/search?" + __import__("urllib.parse").parse.urlencode({"q": query}))
    assert response.status_code == 200
    assert "error" not in response.text.lower() or "message-error" not in response.text


def test_a_quoted_phrase_with_a_hyphen_is_found_ranked_and_highlighted(archive) -> None:
    page = _get(archive, "/-/wparchive/search?q=" + "%22twelve+varieties%22+one-summer").text
    assert "Tomatoes: twelve varieties, one summer" in page
    assert "<mark>" in page


def test_advanced_mode_keeps_fts5_syntax_and_explains_its_errors(archive) -> None:
    ok = _get(archive, "/-/wparchive/search?advanced=1&q=compost+NOT+rats").text
    assert "The compost question" in ok
    broken = _get(archive, "/-/wparchive/search?advanced=1&q=compost+AND+(")
    assert broken.status_code == 200 and "not a valid search in advanced mode" in broken.text


def test_hostile_text_is_shown_as_text(archive) -> None:
    page = _get(archive, "/-/wparchive/search?q=onerror").text
    assert "&lt;img src=x <mark>onerror</mark>=alert(1)&gt;" in page  # the words are there, as text
    assert "<img src=x" not in page and "<script>alert" not in page


def test_facets_narrow_a_search(archive) -> None:
    page = _get(archive, "/-/wparchive/search?q=garden").text
    for facet in ("Type", "Year", "Author", "Category", "Tag"):
        assert re.search(rf"<h3[^>]*>{facet}</h3>", page)
    total = int(re.search(r'class="wparchive-count">([\d,]+) result', page).group(1))
    narrowed = _get(archive, "/-/wparchive/search?q=garden&type=page").text
    count = int(re.search(r'class="wparchive-count">([\d,]+) result', narrowed).group(1))
    assert 0 < count < total
    assert set(re.findall(r'<div class="meta">(\w+) ·', narrowed)) == {"page"}


def test_home_page_says_what_the_archive_is(archive) -> None:
    page = _get(archive, "/").text
    assert "The Allotment Almanac" in page
    # posts, pages, other types (none), comments, media, deleted
    assert re.search(r"<td>25</td><td>5</td>\s*<td></td>\s*<td>19</td><td>4</td><td>0</td>", page)
    assert "2023-02-01" in page and "2024-07-01" in page  # the date range
    assert '<svg class="wparchive-chart"' in page and "2023-03: 2 posts" in page
    assert 'action="/-/wparchive/search"' in page


def test_home_page_lists_the_main_tables_and_leaves_other_databases_to_datasette(archive, tmp_path) -> None:
    import sqlite3

    from datasette.app import Datasette

    page = _get(archive, "/").text
    listed = re.search(r"<h2>Tables</h2>\s*<p>(.*?)</p>", page, re.S).group(1)
    assert re.findall(r'href="/archive/(\w+)"', listed) == ["posts", "comments", "terms", "users", "media"]
    assert '<a href="/archive">all tables, views and queries</a>' in listed
    assert _get(archive, "/.json").json()["archive"]["tables_count"] > 5  # Datasette's, untouched
    other = tmp_path / "birds.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE sightings (name TEXT)")

    async def fetch():  # type: ignore[no-untyped-def]
        return await Datasette([str(other)]).client.get("/")
    response = asyncio.run(fetch())
    assert response.status_code == 200 and 'href="/birds/sightings"' in response.text


def test_a_post_page_renders_markdown_safely(archive) -> None:
    page = _get(archive, "/-/wparchive/post/1-1003").text
    assert "<table>" in page and "<td>Sungold</td>" in page  # Markdown tables rendered
    hostile = _get(archive, "/-/wparchive/post/1-2001").text
    assert "<script>alert" not in hostile and "onerror=\"alert" not in hostile
    assert 'href="javascript:' not in hostile
    assert "&lt;img src=x onerror=alert(1)&gt;" in hostile
    assert "Compost &lt;script&gt;alert(1)&lt;/script&gt; and safety" in hostile
    assert _get(archive, "/-/wparchive/post/1-424242").status_code == 404


def test_footnotes_render_as_notes_and_stay_safe() -> None:
    html = str(render_markdown("Compost needs air[^1].\n\n[^1]: Turn it [weekly](javascript:alert(1)), "
                               "see [the RHS](https://www.rhs.org.uk/)."))
    assert '<sup class="footnote-ref"><a href="#fn1" id="fnref1">[1]</a></sup>' in html
    assert '<li id="fn1" class="footnote-item">' in html and 'href="https://www.rhs.org.uk/"' in html
    assert 'href="javascript:' not in html and "[weekly](javascript:alert(1))" in html  # shown as text


def test_canned_queries(archive) -> None:
    rows = _get(archive, "/archive/search.json?q=compost&_shape=array").json()
    assert rows[0]["title"] == "The compost question" and "[[compost" in rows[0]["snippet"].lower()
    assert not any("\x02" in row["snippet"] or "\x03" in row["snippet"] for row in rows)
    assert _get(archive, "/archive/search?q=compost").text.count("<mark>") >= 1
    csv_text = _get(archive, "/archive/search.csv?q=compost&_size=max").text
    assert len(list(csv.DictReader(io.StringIO(csv_text)))) == len(rows)
    months = _get(archive, "/archive/posts_per_month.json?_shape=array").json()
    assert {"site": "The Allotment Almanac", "month": "2023-03", "posts": 2} in months
    tags = _get(archive, "/archive/most_used_tags.json?_shape=array").json()
    assert tags[0]["tag"] == "volunteers"
    domains = _get(archive, "/archive/linked_domains.json?_shape=array").json()
    assert "en.wikipedia.org" in {d["host"] for d in domains}
    linking = _get(archive, "/archive/linking_posts.json?_shape=array&url=https://en.wikipedia.org/wiki/Compost").json()
    assert [r["key"] for r in linking] == ["1-1002"]
    assert _get(archive, "/archive/search.json?q=&_shape=array").status_code == 200


def test_table_facets_include_year_and_category_and_tag_facets(archive) -> None:
    data = _get(archive, "/archive/posts.json?_extra=facet_results").json()
    facets = _facets(data)
    assert {"type", "year", "author", "categories", "tags"} <= set(facets)
    compost = next(r for r in facets["tags"]["results"] if r["value"] == "compost")
    assert urlsplit(compost["toggle_url"]).query.endswith("tags__arraycontains=compost")
    filtered = _get(archive, "/archive/posts.json?tags__arraycontains=compost&_shape=array").json()
    assert [r["key"] for r in filtered] == ["1-1002"]


def _facets(data: dict) -> dict:  # type: ignore[type-arg]
    return data["facet_results"].get("results", data["facet_results"])


@pytest.mark.parametrize("filters", ["", "&type=post", "&tags__arraycontains=compost"])
def test_category_and_tag_facets_count_post_terms_as_the_arrays_hold_them(archive, filters) -> None:
    from collections import Counter

    data = _get(archive, f"/archive/posts.json?_extra=facet_results{filters}").json()
    facets = _facets(data)
    rows = _get(archive, f"/archive/posts.json?_shape=array&_size=max{filters}").json()
    assert rows
    for column in ("categories", "tags"):
        assert facets[column]["type"] == "terms"  # from post_terms, not a scan of every post's JSON
        expected = Counter(name for row in rows for name in json.loads(row[column] or "[]"))
        counted = {r["value"]: r["count"] for r in facets[column]["results"]}
        assert counted and counted == {name: expected[name] for name in counted}
        assert len(counted) == min(len(expected), 30)
    selected = [r for r in facets["tags"]["results"] if r["selected"]]
    assert [r["value"] for r in selected] == (["compost"] if "compost" in filters else [])


def test_tag_facet_counts_the_names_of_posts_the_fallback_read_without_terms(archive) -> None:
    import sqlite3

    with sqlite3.connect(archive) as conn:  # as the fallback stores a post: names, no post_terms rows
        conn.execute("UPDATE posts SET source = 'feed' WHERE key = '1-1002'")
        conn.execute("DELETE FROM post_terms WHERE post = '1-1002'")
    for filters in ("", "&key=1-1002"):
        facets = _facets(_get(archive, f"/archive/posts.json?_extra=facet_results{filters}").json())
        assert "compost" in {r["value"] for r in facets["tags"]["results"]}


def test_whole_tables_and_views_stream_as_json_and_jsonl(archive, monkeypatch) -> None:
    import json as jsonlib

    monkeypatch.setattr("wparchive.web.stream.CHUNK", 7)  # several chunks even on a small archive
    lines = _get(archive, "/-/wparchive/stream/posts.jsonl").text.splitlines()
    assert len(lines) == 30 and len({jsonlib.loads(line)["key"] for line in lines}) == 30
    assert "__position" not in jsonlib.loads(lines[0])
    whole = _get(archive, "/-/wparchive/stream/comments.json").json()
    assert len(whole) == 19
    view = _get(archive, "/-/wparchive/stream/run_summary.json").json()
    assert view[0]["status"] == "ok"
    csv_text = _get(archive, "/archive/posts.csv?_stream=on&_size=max").text
    assert len(list(csv.DictReader(io.StringIO(csv_text)))) == 30
    assert _get(archive, "/-/wparchive/stream/nope.json").status_code == 404


def test_whole_tables_stream_as_csv_that_spreadsheets_open_without_running_formulas(archive, db, monkeypatch) -> None:
    monkeypatch.setattr("wparchive.web.stream.CHUNK", 7)
    with db.conn:
        db.execute("UPDATE posts SET title = '=HYPERLINK(\"https://example.org\")' WHERE wp_id = 1001")
        db.execute("UPDATE posts SET title = '@SUM(A1)', excerpt_text = '-1+2' WHERE wp_id = 1002")
        db.execute("UPDATE posts SET title = 'Κήποι – 東京' WHERE wp_id = 1003")
    plain = _get(archive, "/-/wparchive/stream/posts.csv")
    assert plain.headers["content-type"] == "text/csv; charset=utf-8"
    rows = {row["wp_id"]: row for row in csv.DictReader(io.StringIO(plain.text))}
    assert len(rows) == 30 and "__position" not in rows["1001"]
    assert rows["1001"]["title"] == "'=HYPERLINK(\"https://example.org\")"
    assert (rows["1002"]["title"], rows["1002"]["excerpt_text"]) == ("'@SUM(A1)", "'-1+2")
    assert rows["1003"]["title"] == "Κήποι – 東京"
    excel = _get(archive, "/-/wparchive/stream/posts.csv?bom=1").content
    assert excel == "\ufeff".encode("utf-8") + plain.content


def test_the_search_page_leaves_datasette_search_all_its_route(archive) -> None:
    class SearchAll:  # /-/search as datasette-search-all registers it (a prefix, not anchored at the end)
        __name__ = "search_all_stand_in"  # Datasette lists plugins by their module's name

        @hookimpl
        def register_routes(self):  # type: ignore[no-untyped-def]
            return [("/-/search", lambda: Response.html("Search all tables"))]

    pm.register(SearchAll(), name="search-all-stand-in")
    try:
        assert _get(archive, "/-/search?q=compost").text == "Search all tables"
        assert _get(archive, "/-/search.json?q=compost").text == "Search all tables"
        assert "The compost question" in _get(archive, "/-/wparchive/search?q=compost").text
        assert _get(archive, "/-/wparchive/search.json?q=compost").json()["rows"][0]["title"] == "The compost question"
    finally:
        pm.unregister(name="search-all-stand-in")


PREFIX = "/archive-prefix/"


@pytest.fixture
def prefixed(archive: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The archive served with Datasette's base_url set, from a copy of the bundled config."""
    config = tmp_path / "config"
    shutil.copytree(config_dir(), config)
    settings = json.loads((config / "settings.json").read_text(encoding="utf-8"))
    (config / "settings.json").write_text(json.dumps({**settings, "base_url": PREFIX}), encoding="utf-8")
    return build_datasette(archive, config=config)


def _get_exactly(ds, path: str):  # type: ignore[no-untyped-def]
    async def fetch():  # type: ignore[no-untyped-def]
        await ds.invoke_startup()
        return await ds.client.get(PrefixedUrlString(path))  # as given: the client adds no base_url
    return asyncio.run(fetch())


# Each page, and links of the plugin's it must have (after the prefix); every link must start with the prefix.
PAGES = {
    "/": ["-/wparchive/search", "archive/sites/1", "archive/posts", "archive/comments", "archive/posts_per_month",
          "archive/site_runs"],
    "/-/wparchive/search?q=compost": [
        "-/wparchive/search", "-/wparchive/post/1-1002", "archive/comments/", "-/wparchive/results.csv?q=compost",
        "-/wparchive/results.json?q=compost",
        "-/wparchive/search?q=compost&type=post"],
    "/-/wparchive/search?q=garden&type=page": ["-/wparchive/search?q=garden"],
    "/-/wparchive/post/1-1003": [
        "archive/posts/1-1003", "archive/post_versions?key=1-1003", "archive/posts?categories__arraycontains=",
        "archive/posts?tags__arraycontains="],
    "/archive/posts/1-1002": ["-/wparchive/post/1-1002"],
    "/archive/search?q=compost": [],
}


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("proxy_strips_the_prefix", [False, True])
def test_every_link_keeps_datasettes_base_url(prefixed, path: str, proxy_strips_the_prefix: bool) -> None:
    # As Datasette's own tests do: the page is asked for with the prefix and without it (a proxy
    # may strip it or not); either way every link in it starts with the prefix.
    response = _get_exactly(prefixed, path if proxy_strips_the_prefix else PREFIX + path.lstrip("/"))
    assert response.status_code == 200
    page = lxml.html.fromstring(response.text)
    links = page.xpath("//a/@href | //link/@href | //script/@src | //img/@src | //form/@action")
    # Absolute addresses are the harvested sites' (and Datasette's own absolute ones), anchors stay on the page.
    ours = [link for link in links if not link.startswith("#") and not urlsplit(link).scheme]
    assert [link for link in ours if not link.startswith(PREFIX)] == []
    for wanted in PAGES[path]:
        assert any(link.startswith(PREFIX + wanted) for link in ours), (wanted, ours)


def test_the_plugins_routes_answer_under_base_url(prefixed) -> None:
    for path in (PREFIX + "-/wparchive/search.json?q=compost", "/-/wparchive/search.json?q=compost"):
        assert _get_exactly(prefixed, path).json()["rows"][0]["title"] == "The compost question"
    assert len(_get_exactly(prefixed, PREFIX + "-/wparchive/stream/comments.json").json()) == 19
    assert _get_exactly(prefixed, PREFIX + "-/wparchive/post/1-424242").status_code == 404
    canned = _get_exactly(prefixed, PREFIX + "archive/search?q=compost").text
    assert f"for the search page with facets go to {PREFIX}-/wparchive/search" in canned


def test_the_posts_table_opens_on_the_columns_one_reads(archive) -> None:
    from wparchive.web.readable import READABLE_COLUMNS

    bare = _get(archive, "/archive/posts")
    assert bare.status_code == 302
    readable = bare.headers["location"]
    page = _get(archive, readable)
    assert page.status_code == 200
    tree = lxml.html.fromstring(page.text)
    assert tree.xpath("//table[contains(@class, 'rows-and-columns')]//th/@data-column") == ["key", *READABLE_COLUMNS]
    # each title leads to its reader page; each category to the readable posts of that category
    title = tree.xpath("//td[contains(@class, 'col-title')]/a")[0]
    reader = lxml.html.fromstring(_get(archive, title.get("href")).text)
    assert title.get("href").startswith("/-/wparchive/post/") and reader.xpath("//h1/text()") == [title.text]
    category = tree.xpath("//td[contains(@class, 'col-categories')]/a")[0]
    assert f"categories__arraycontains={category.text}" in category.get("href") and "_col=title" in category.get("href")
    # Datasette's facets are still there, as the metadata configures them
    as_json = readable.replace("/archive/posts?", "/archive/posts.json?") + "&_extra=facet_results"
    facets = _facets(_get(archive, as_json).json())
    assert {"type", "year", "author", "categories", "tags"} <= set(facets)
    # every other column one click away, with the JSON and CSV of every column
    [everything] = tree.xpath("//p[@class='wparchive-columns']/a[text()='All columns']/@href")
    full = lxml.html.fromstring(_get(archive, everything).text)
    assert len(full.xpath("//table[contains(@class, 'rows-and-columns')]//th")) > 30
    [csv_link] = full.xpath("//p[@class='export-links']/a[text()='CSV']/@href")
    assert "content_text" in next(csv.DictReader(io.StringIO(_get(archive, csv_link).text)))
    [back] = full.xpath("//p[@class='wparchive-columns']/a[text()='Readable columns']/@href")
    assert "_col=title" in back
    # what Datasette's "Show all columns" leaves (the readable page without its _col) is every column too
    assert _get(archive, "/archive/posts?_sort_desc=date_gmt").text.count('data-column="content_text"') == 1
    assert _get(archive, "/archive/posts.json").json()["columns"][:3] == ["key", "site_id", "wp_id"]


def test_the_posts_table_opens_readable_under_base_url_too(prefixed) -> None:
    for path in (PREFIX + "archive/posts", "/archive/posts"):
        response = _get_exactly(prefixed, path)
        assert response.status_code == 302 and response.headers["location"].startswith(PREFIX + "archive/posts?")
    page = _get_exactly(prefixed, response.headers["location"]).text
    assert f'href="{PREFIX}-/wparchive/post/1-' in page and f'href="{PREFIX}archive/posts?_sort_desc=date_gmt"' in page


@pytest.fixture
def media_archive(make_server, client, db, db_path) -> tuple[str, Path]:  # type: ignore[no-untyped-def]
    """The sample site harvested with its media files downloaded beside the archive, then gone."""
    from wparchive.media import download_media
    from wparchive.paths import media_folder

    server = make_server(sample_site())
    result = harvest_site(db, client, server.home + "/")
    download_media(db, client, result.site_id, media_folder(db_path))
    server.stop()
    return db_path, media_folder(db_path)


def test_post_pages_show_the_archived_images_not_the_sites(media_archive) -> None:
    archive, folder = media_archive
    tree = lxml.html.fromstring(_get(archive, "/-/wparchive/post/1-1003").text)
    [src] = tree.xpath("//article//img/@src")
    assert src.startswith("/-/wparchive/media/")
    image = _get(archive, src)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content == (folder / src.removeprefix("/-/wparchive/media/")).read_bytes()
    assert image.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in image.headers["content-security-policy"]
    # without the folder (an archive copied alone), the site's address is kept
    shutil.rmtree(folder)
    [src] = lxml.html.fromstring(_get(archive, "/-/wparchive/post/1-1003").text).xpath("//article//img/@src")
    assert src.startswith("http://127.0.0.1:") and src.endswith("/tomatoes.jpg")
    assert _get(archive, image.url.path).status_code == 404


def _record_file(archive: str, folder: Path, body: bytes, content_type: str, *, name: str = "") -> str:
    import hashlib
    import sqlite3

    digest = hashlib.sha256(body).hexdigest()
    path = f"{digest[:2]}/{digest}{name}"
    (folder / digest[:2]).mkdir(parents=True, exist_ok=True)
    (folder / path).write_bytes(body)
    with sqlite3.connect(archive) as conn:
        conn.execute("INSERT INTO files (url, sha256, size, content_type, path) VALUES (?, ?, ?, ?, ?)",
                     (f"https://gone.example/{digest}", digest, len(body), content_type, path))
    return "/-/wparchive/media/" + path


def test_media_files_are_served_so_that_nothing_in_them_runs(media_archive, tmp_path) -> None:
    archive, folder = media_archive
    svg = _get(archive, _record_file(archive, folder, b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)'
                                     b'</script></svg>', "image/svg+xml"))
    assert svg.headers["content-type"] == "image/svg+xml"
    assert "script-src" not in svg.headers["content-security-policy"]  # default-src 'none' covers scripts
    assert svg.headers["content-security-policy"].startswith("default-src 'none'")
    page = _get(archive, _record_file(archive, folder, b"<html><script>alert(1)</script>", "text/html"))
    assert page.headers["content-type"] == "application/octet-stream"
    assert page.headers["content-disposition"].startswith("attachment;")
    # only files media.py wrote and recorded, inside the folder
    digest = "ab" * 32
    (folder / "ab").mkdir(exist_ok=True)
    (folder / "ab" / f"{digest}.png").write_bytes(b"not recorded")
    assert _get(archive, f"/-/wparchive/media/ab/{digest}.png").status_code == 404
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"secret")
    linked = _record_file(archive, folder, b"will be a link", "image/png", name=".png")
    (folder / linked.removeprefix("/-/wparchive/media/")).unlink()
    (folder / linked.removeprefix("/-/wparchive/media/")).symlink_to(outside)
    assert _get(archive, linked).status_code == 404
    for path in ("../archive.db", "ab/..%2F..%2Farchive.db"):
        assert _get(archive, "/-/wparchive/media/" + path).status_code in (302, 404)
        assert b"SQLite" not in _get(archive, "/-/wparchive/media/" + path).content


def test_a_media_folder_elsewhere_is_served_when_named(media_archive, tmp_path) -> None:
    archive, folder = media_archive
    moved = shutil.move(folder, tmp_path / "pictures")

    async def fetch(ds, path: str):  # type: ignore[no-untyped-def]
        await ds.invoke_startup()
        return await ds.client.get(path)

    for media_dir, served in ((None, False), (moved, True)):
        ds = build_datasette(archive, media_dir=media_dir)
        page = lxml.html.fromstring(asyncio.run(fetch(ds, "/-/wparchive/post/1-1003")).text)
        [src] = page.xpath("//article//img/@src")
        assert src.startswith("/-/wparchive/media/") == served
    assert asyncio.run(fetch(ds, src)).status_code == 200


def test_a_database_closed_to_a_reader_stays_closed_on_the_plugins_pages(media_archive, tmp_path) -> None:
    """As `datasette garden.db bees.db -m meta.json` with bees open to its admin alone: every page of the
    plugin refuses bees to anyone else as Datasette's own do, and a search covers garden alone."""
    from datasette.app import Datasette

    from wparchive.paths import media_folder

    archive, folder = media_archive
    garden, bees = str(tmp_path / "garden.db"), str(tmp_path / "bees.db")
    for copy in (garden, bees):  # with what the harvest's connection still holds in its WAL
        with sqlite3.connect(archive) as source, sqlite3.connect(copy) as target:
            source.backup(target)
    shutil.copytree(folder, media_folder(bees))
    picture = lxml.html.fromstring(_get(archive, "/-/wparchive/post/1-1003").text).xpath("//article//img/@src")[0]
    ds = Datasette(files=[garden, bees], metadata={"databases": {"bees": {"allow": {"id": "admin"}}}})
    admin = {"ds_actor": ds.sign({"a": {"id": "admin"}}, "actor")}
    closed = ["/bees", "/-/wparchive/search.json?q=compost&database=bees", "/-/wparchive/search?q=compost&database=bees",
              "/-/wparchive/results.csv?q=compost&database=bees", "/-/wparchive/results.jsonl?q=compost&database=bees",
              "/-/wparchive/post/1-1002?database=bees", f"{picture}?database=bees",
              "/-/wparchive/stream/posts.jsonl?database=bees", "/-/wparchive/stream/files.csv?database=bees"]

    async def fetch() -> tuple[list[int], list[int], dict, dict, int]:  # type: ignore[type-arg]
        await ds.invoke_startup()
        anonymous = [(await ds.client.get(path)).status_code for path in closed]
        allowed = [(await ds.client.get(path, cookies=admin)).status_code for path in closed]
        searched = (await ds.client.get("/-/wparchive/search.json?q=compost")).json()
        everywhere = (await ds.client.get("/-/wparchive/search.json?q=compost", cookies=admin)).json()
        unknown = (await ds.client.get("/-/wparchive/post/1-1002?database=wasps")).status_code
        return anonymous, allowed, searched, everywhere, unknown

    async def home_pages() -> list[str]:  # bees given first
        bees_first = Datasette(files=[bees, garden], metadata={"databases": {"bees": {"allow": {"id": "admin"}}}})
        await bees_first.invoke_startup()
        its_admin = {"ds_actor": bees_first.sign({"a": {"id": "admin"}}, "actor")}
        return [(await bees_first.client.get("/", cookies=cookies)).text for cookies in ({}, its_admin)]

    anonymous_home, admin_home = asyncio.run(home_pages())
    # Every archive the reader may see is summed up, and nothing of the one closed to them
    assert "/garden/sites/1" in anonymous_home and "bees" not in anonymous_home
    assert "/bees/sites/1" in admin_home and "/garden/sites/1" in admin_home
    sites = lxml.html.fromstring(admin_home).xpath("//table[@class='wparchive-sites']")[0]
    assert [th.text for th in sites.xpath(".//th")][:2] == ["Site", "Database"]
    assert sorted(td.text for td in sites.xpath(".//tbody/tr/td[2]")) == ["bees", "garden"]
    assert "Database" not in lxml.html.tostring(lxml.html.fromstring(anonymous_home)).decode()  # one archive: no column
    anonymous, allowed, searched, everywhere, unknown = asyncio.run(fetch())
    assert dict(zip(closed, anonymous, strict=True)) == dict.fromkeys(closed, 403)
    assert dict(zip(closed, allowed, strict=True)) == dict.fromkeys(closed, 200)
    assert searched["databases"] == ["garden"] and {row["database"] for row in searched["rows"]} == {"garden"}
    assert everywhere["databases"] == ["garden", "bees"] and everywhere["total"] == 2 * searched["total"]
    assert unknown == 404  # a name served by no database is not read as the first one
