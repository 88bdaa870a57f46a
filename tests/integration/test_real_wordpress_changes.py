"""Incremental harvests of a real WordPress whose content changes between runs."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Iterator

import pytest
import requests

from harness import RealWordPress, Unavailable
from shared_fixtures import WPTT
from wparchive.client import Client
from wparchive.db import open_db
from wparchive.harvest import harvest_site

pytestmark = pytest.mark.integration

EDITED = [1241, 1178, 1177]  # sticky, HTML tags showcase, image alignment
DELETED = 1174
UNPUBLISHED = 1175
DISCOVERY = 3  # the API index (its root known from the first run), /types, /taxonomies


class CountingClient(Client):
    """A client that keeps the URL of every request it makes."""

    def __init__(self) -> None:
        super().__init__(delay=0, timeout=60)
        self.urls: list[str] = []

    def get(self, url, params=None):  # type: ignore[no-untyped-def]
        response = super().get(url, params)
        self.urls.append(response.url)
        return response


@pytest.fixture(scope="module")
def wordpress(tmp_path_factory) -> Iterator[RealWordPress]:  # type: ignore[no-untyped-def]
    """A WordPress of its own: these tests change its content."""
    corpus = WPTT / "themeunittestdata.wordpress.xml"
    if not corpus.exists():
        pytest.skip(f"{corpus} is not available")
    site = RealWordPress(tmp_path_factory.mktemp("changing"))
    try:
        site.start()
        site.load_wxr(corpus)
        site.set_permalinks("pretty")
    except Unavailable as exc:
        site.stop()
        pytest.skip(f"no real WordPress here: {exc}")
    yield site
    site.stop()


def _collection_of(url: str) -> str:
    match = re.search(r"/wp/v2/([\w-]+)", url)
    return match.group(1) if match else "discovery"


def test_second_run_fetches_only_what_changed_and_records_it(wordpress, tmp_path) -> None:
    db = open_db(str(tmp_path / "archive.db"))
    start = requests.get(f"{wordpress.home}/?p=1241", timeout=30).url
    first = harvest_site(db, CountingClient(), start)
    assert first.status == "ok"

    quiet = CountingClient()
    unchanged = harvest_site(db, quiet, start)
    per_collection = Counter(_collection_of(url) for url in quiet.urls)
    discovery = per_collection.pop("discovery") + per_collection.pop("types") + per_collection.pop("taxonomies")
    assert discovery <= DISCOVERY
    assert max(per_collection.values()) == 1, per_collection
    assert all(c["new"] == c["updated"] == c["deleted"] == 0 for c in unchanged.counts.values())
    print(f"\nnothing changed: {len(quiet.urls)} requests ({discovery} discovery, "
          f"{sum(per_collection.values())} for {len(per_collection)} collections)")

    added = wordpress.php("mutate.php", json.dumps(
        {"edit": EDITED, "delete": [DELETED], "unpublish": [UNPUBLISHED], "add": 2}))["added"]
    changed = CountingClient()
    result = harvest_site(db, changed, start)
    assert result.status == "ok", result.errors
    posts = result.counts["post"]
    assert (posts["new"], posts["updated"], posts["deleted"]) == (2, 3, 2)
    full_fetches = [url for url in changed.urls if "/wp/v2/posts" in url and "_fields" not in url]
    assert len(full_fetches) == 1
    fetched = sorted(int(i) for i in re.search(r"include=([\d%C,]+)", full_fetches[0]).group(1)
                     .replace("%2C", ",").split(","))
    assert fetched == sorted(EDITED + added)
    assert sorted(r["key"] for r in db["versions"].rows_where("\"table\" = 'posts'")) == sorted(f"1-{i}" for i in EDITED)
    tombstoned = sorted(r["wp_id"] for r in db["posts"].rows_where("deleted_at IS NOT NULL"))
    assert tombstoned == sorted([DELETED, UNPUBLISHED])
    assert db["posts"].get("1-1241")["content_text"].endswith("Edited between harvests.")
    print(f"after 3 edits, 1 deletion, 1 unpublishing, 2 additions: {len(changed.urls)} requests")


def test_signed_in_with_an_application_password(wordpress, tmp_path) -> None:
    """Drafts, scheduled posts and revisions, which an anonymous harvest cannot see."""
    credentials = wordpress.php("app_password.php")
    wordpress.php("mutate.php", json.dumps({"edit": [1241]}))  # make sure a revision exists
    db = open_db(str(tmp_path / "signed-in.db"))
    client = Client(delay=0, timeout=60, auth=(credentials["user"], credentials["password"]))
    result = harvest_site(db, client, f"{wordpress.home}/", private=True, revisions=True)
    assert result.status == "ok", result.errors
    assert "signed in as admin" in result.notes
    statuses = {row[0] for row in db.execute("SELECT status FROM posts")}
    assert {"draft", "future", "publish"} <= statuses
    assert db["posts"].get("1-1164")["title"] == "Draft"  # the WXR's draft
    revisions = db.execute("SELECT count(*) FROM versions WHERE source = 'revision' AND key = '1-1241'").fetchone()[0]
    assert revisions >= 1
    raw = (tmp_path / "signed-in.db").read_bytes()
    assert credentials["password"].encode() not in raw
