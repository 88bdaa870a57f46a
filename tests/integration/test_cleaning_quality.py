"""Both theme-test corpora rendered by a real WordPress, harvested, and held to the cleaning bar:
no shortcode debris, no boilerplate phrases, every caption kept."""

from __future__ import annotations

import re
from typing import Iterator

import pytest
from bs4 import BeautifulSoup
from sqlite_utils.db import Database

from harness import RealWordPress, Unavailable
from shared_fixtures import WPTT
from wparchive.client import Client
from wparchive.config import load_boilerplate
from wparchive.paths import config_dir
from wparchive.db import open_db
from wparchive.harvest import harvest_site

pytestmark = pytest.mark.integration

CORPORA = ("themeunittestdata.wordpress.xml", "64-block-test-data.xml")
# What a shortcode left in text looks like: [name ...], [/name], for the names WordPress core and
# the corpora use; not a Markdown link such as [gallery](https://…/tag/gallery/).
DEBRIS = re.compile(r"\[/?(caption|wp_caption|gallery|embed|audio|video|playlist)(\s[^\]]*)?\](?!\()", re.I)


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    corpora = [WPTT / name for name in CORPORA]
    for corpus in corpora:
        if not corpus.exists():
            pytest.skip(f"{corpus} is not available")
    site = RealWordPress(tmp_path_factory.mktemp("corpora"), title="Both corpora")
    try:
        site.start()
        for corpus in corpora:
            site.load_wxr(corpus)
        site.set_permalinks("pretty")
    except Unavailable as exc:
        site.stop()
        pytest.skip(f"no real WordPress here: {exc}")
    try:
        db = open_db(str(tmp_path_factory.mktemp("corpora-db") / "archive.db"))
        result = harvest_site(db, Client(delay=0, timeout=60), site.home + "/")
        assert result.status == "ok", result.errors
        yield db
    finally:
        site.stop()


def _posts(db: Database) -> list[dict]:
    return [r for r in db["posts"].rows if r["content_html"]]


def test_the_corpora_are_there(archive: Database) -> None:
    assert len(_posts(archive)) > 120
    assert archive.execute("SELECT count(*) FROM posts WHERE content_html LIKE '%wp-block-%'").fetchone()[0] > 50


def test_no_shortcode_debris(archive: Database) -> None:
    leaked = {r["key"]: DEBRIS.findall(r["content_text"]) for r in _posts(archive) if DEBRIS.search(r["content_text"])}
    assert leaked == {}
    leaked_md = [(r["key"], DEBRIS.search(r["content_markdown"]).group(0))
                 for r in _posts(archive) if DEBRIS.search(r["content_markdown"])]
    assert leaked_md == []


def test_no_boilerplate_phrases(archive: Database) -> None:
    rules = load_boilerplate(config_dir())
    leaked = [(r["key"], line) for r in _posts(archive) for line in r["content_text"].split("\n")
              if line.strip() and rules.is_phrase(line.strip())]
    assert leaked == []


def test_every_caption_is_kept(archive: Database) -> None:
    captions = 0
    missing = []
    for row in _posts(archive):
        soup = BeautifulSoup(row["content_html"], "html.parser")
        for caption in soup.select("figcaption, .wp-caption-text, .gallery-caption"):
            text = " ".join(caption.get_text(" ").split())
            if not text:
                continue
            captions += 1
            if text not in " ".join(row["content_text"].split()):
                missing.append((row["key"], text))
    assert captions > 20
    assert missing == []


def test_galleries_embeds_and_images_are_recorded(archive: Database) -> None:
    gallery_posts = archive.execute(
        "SELECT count(DISTINCT post) FROM images WHERE post IN (SELECT key FROM posts WHERE content_html LIKE "
        "'%gallery%')").fetchone()[0]
    assert gallery_posts >= 3
    providers = {row[0] for row in archive.execute("SELECT DISTINCT provider FROM embeds")}
    assert {"YouTube", "Twitter"} <= providers, providers
    assert archive.execute("SELECT count(*) FROM images WHERE caption != ''").fetchone()[0] > 10
    assert archive.execute("SELECT count(*) FROM posts WHERE language = 'en'").fetchone()[0] > 100
