"""The archive as a person uses it: headless Chromium (Debian's) driven by Playwright.

Screenshots go to test-artifacts/. A post whose content carries <script>, onerror= and
javascript: links must not run anything on any page: the test fails on any dialog, console
error or page error.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from harness import Unavailable, ensure_debian_packages
from wparchive.harvest import harvest_site
from wparchive.sample.content import sample_site
from wparchive.sample.site import Item

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE = Item(
    2001, "post", "Compost and &lt;script&gt;alert(&#039;title&#039;)&lt;/script&gt;",
    '<p>Compost notes. <script>alert("script")</script></p>'
    '<p><img src="/nothing.png" onerror="alert(\'onerror\')" alt="x"></p>'
    '<p><a href="javascript:alert(\'link\')">a javascript: link about compost</a></p>'
    '<p>Literal text: &lt;img src=x onerror=alert(1)&gt;</p>',
    date_gmt="2024-07-01T10:00:00", terms={"category": [2], "post_tag": [20]},
)


@pytest.fixture(scope="module")
def browser_ready() -> None:
    try:
        ensure_debian_packages(["chromium"], lambda: bool(shutil.which("chromium")))
    except Unavailable as exc:
        pytest.skip(str(exc))
    pytest.importorskip("playwright.sync_api")


@contextmanager
def _serve(db_path: str, *more: str) -> Iterator[str]:
    """`wparchive serve` on the archive (and more, served with it): its address, until the block ends."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "wparchive", "serve", "--db", db_path, *more,
                                "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def served(browser_ready, make_server, client, db, db_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    site = sample_site()
    site.items.append(HOSTILE)
    harvest_site(db, client, make_server(site).home + "/")
    with _serve(db_path) as address:
        yield address


@pytest.fixture
def site_gone(browser_ready, make_server, client, db,  # type: ignore[no-untyped-def]
              db_path) -> Iterator[tuple[str, str]]:
    """An archive harvested with --media's files, served after its site went away: (address, the site's)."""
    from wparchive.media import download_media
    from wparchive.paths import media_folder

    server = make_server(sample_site())
    result = harvest_site(db, client, server.home + "/")
    download_media(db, client, result.site_id, media_folder(db_path))
    server.stop()  # its port is dead: an image still linked to the site would not load
    with _serve(db_path) as address:
        yield address, server.home


def test_search_facet_csv_and_post_as_a_person_would(served: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
                if msg.type == "error" and "nothing.png" not in msg.text and "404" not in msg.text else None)
        try:
            page.goto(served + "/")
            assert "The Allotment Almanac" in page.content()
            assert page.locator("svg.wparchive-chart rect").count() > 5
            page.screenshot(path=str(ARTIFACTS / "1-home.png"), full_page=True)

            page.fill("input[name=q]", "compost")
            page.click("input[type=submit]")
            page.wait_for_selector(".wparchive-results")
            titles = page.locator(".result-title").all_inner_texts()
            # the two posts with the word in their title come first; the hostile title is text
            assert set(titles[:2]) == {"The compost question", "Compost and <script>alert('title')</script>"}
            assert page.locator(".snippet mark").count() >= 3
            page.screenshot(path=str(ARTIFACTS / "2-search.png"), full_page=True)

            before = len(titles)
            page.click(".wparchive-facets a.facet >> text=compost")  # the tag facet
            page.wait_for_selector(".remove-facet")
            after = page.locator(".result-title").count()
            assert 0 < after < before
            page.screenshot(path=str(ARTIFACTS / "3-facet.png"), full_page=True)

            with page.expect_download() as download:
                page.click("a.csv")
            saved = tmp_path / "results.csv"
            download.value.save_as(saved)
            rows = saved.read_text(encoding="utf-8").splitlines()
            assert rows[0].startswith("kind,key,title") and len(rows) > 2

            page.goto(served + "/-/wparchive/search?q=compost")
            page.click(".result-title >> text=The compost question")
            page.wait_for_selector(".wparchive-post article")
            assert page.locator("article li").count() == 3  # the Markdown list, rendered
            page.screenshot(path=str(ARTIFACTS / "4-post.png"), full_page=True)

            for path in ("/-/wparchive/post/1-2001", "/-/wparchive/search?q=compost+javascript",
                         "/archive/posts/1-2001", "/archive/posts?_search=compost", "/archive/search?q=onerror"):
                page.goto(served + path)
                page.wait_for_load_state("networkidle")
            page.goto(served + "/-/wparchive/post/1-2001")
            assert page.locator("article script").count() == 0
            assert page.locator("article [onerror]").count() == 0
            assert page.locator("a[href^='javascript:']").count() == 0
            page.screenshot(path=str(ARTIFACTS / "5-hostile-post.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []


def test_posts_read_as_a_table_and_show_their_pictures_when_the_site_is_gone(site_gone, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    served, site = site_gone
    ARTIFACTS.mkdir(exist_ok=True)
    asked: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("request", lambda request: asked.append(request.url))
        try:
            page.goto(served + "/archive/posts")
            assert "_col=title" in page.url  # the readable columns
            columns = page.locator("table.rows-and-columns th").count()
            assert columns == 8 and page.locator("table.rows-and-columns").bounding_box()["width"] < 1600
            page.screenshot(path=str(ARTIFACTS / "6-posts-table.png"), full_page=True)
            page.click("td.col-title a >> text=Tomatoes: twelve varieties, one summer")
            page.wait_for_selector(".wparchive-post article")
            assert "/-/wparchive/post/" in page.url
            assert page.locator("article table td >> text=Sungold").count() == 1  # the Markdown table, rendered
            image = page.locator("article img")
            image.scroll_into_view_if_needed()
            page.wait_for_function("document.querySelector('article img').complete")
            assert image.get_attribute("src").startswith("/-/wparchive/media/")
            assert image.evaluate("img => img.naturalWidth") > 0  # loaded, from the archive
            page.screenshot(path=str(ARTIFACTS / "7-post-site-gone.png"), full_page=True)
            page.go_back()
            page.click("p.wparchive-columns a >> text=All columns")
            page.wait_for_load_state()
            assert page.locator("table.rows-and-columns th").count() > 30
        finally:
            browser.close()
    assert [url for url in asked if url.startswith(site)] == []  # nothing asked of the site


def test_the_downloads_of_a_filtered_search_carry_its_filters(served: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        try:
            page.goto(served + "/-/wparchive/search?q=compost")
            page.wait_for_selector(".wparchive-results")
            everything = page.locator(".result-title").count()
            # narrowed as a person narrows it: a facet, dates in the form, an order
            page.click(".wparchive-facets a.facet >> text=The Allotment Almanac")  # the site facet
            page.wait_for_selector(".remove-facet")
            page.fill("input[name=from]", "2023-01-01")
            page.fill("input[name=to]", "2023-12-31")
            page.select_option("select[name=sort]", "oldest")
            page.click("input[type=submit]")
            page.wait_for_selector(".wparchive-results")
            shown = page.locator(".result-title").all_inner_texts()
            dates = [meta.split(" · ")[1] for meta in page.locator(".wparchive-results .meta").all_inner_texts()]
            assert 0 < len(shown) < everything and dates == sorted(dates) and dates[0] >= "2023-01-01"
            page.screenshot(path=str(ARTIFACTS / "8-filtered-search.png"), full_page=True)
            downloaded = {}
            for fmt in ("csv", "json"):
                with page.expect_download() as download:
                    page.click(f"a.{fmt}")
                saved = tmp_path / f"results.{fmt}"
                download.value.save_as(saved)
                downloaded[fmt] = saved.read_text(encoding="utf-8")
        finally:
            browser.close()
    assert problems == []
    rows = json.loads(downloaded["json"])
    assert [row["title"] for row in rows] == shown  # every row the page shows, in its order, and no other
    assert all(row["site_name"] == "The Allotment Almanac" and "2023-01-01" <= row["date_gmt"] < "2024" for row in rows)
    table = list(csv.DictReader(io.StringIO(downloaded["csv"])))
    assert [row["key"] for row in table] == [row["key"] for row in rows]


@pytest.fixture
def served_three(browser_ready, server, client, db, db_path, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Three archives served as one: copies of one harvest, each of another garden."""
    import sqlite_utils

    harvest_site(db, client, server.home + "/")
    db.close()
    paths = []
    for name in ("north", "south", "west"):
        path = str(tmp_path / f"{name}.db")
        shutil.copy(db_path, path)
        sqlite_utils.Database(path)["sites"].update(1, {"name": f"The {name} garden"})
        paths.append(path)
    with _serve(*paths) as address:
        yield address


def test_a_search_of_several_archives_names_each_hits_database(served_three: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_page()
        try:
            page.goto(served_three + "/-/wparchive/search?q=compost")
            page.wait_for_selector(".wparchive-results")
            # the best hit of each archive first, in the order they were given, each named
            assert page.locator(".wparchive-results .database").all_inner_texts()[:3] == ["north", "south", "west"]
            assert page.locator(".wparchive-results .meta").nth(1).inner_text().endswith("The south garden · in south")
            page.screenshot(path=str(ARTIFACTS / "9-several-archives.png"), full_page=True)
            title = page.locator(".result-title").nth(2)
            expected = title.inner_text()
            title.click()
            page.wait_for_selector(".wparchive-post article")
            assert "database=west" in page.url and page.locator("h1").inner_text() == expected
            assert "The west garden" in page.content()  # read from that archive
        finally:
            browser.close()
