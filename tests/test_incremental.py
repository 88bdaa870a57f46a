"""Archivists' runs: incremental by default, versions, tombstones, revivals, retries."""

from __future__ import annotations

import json
import re

import pytest

from wparchive.harvest import harvest_site
from wparchive.sample.site import CommentItem, Item, Site, TermItem

DISCOVERY_REQUESTS = 3  # the API index (its root known from the first run), /types, /taxonomies


def _rows(db, sql: str, params: list | None = None) -> list:
    return [tuple(row) for row in db.execute(sql, params or []).fetchall()]


def _site(posts: int = 150) -> Site:
    return Site(
        items=[Item(i, "post", f"Post {i}", f"<p>Body of post {i}.</p>", date_gmt=f"2024-01-01T{i % 24:02d}:00:00",
                    terms={"category": [1]}) for i in range(1, posts + 1)]
        + [Item(900, "page", "About", "<p>About us.</p>")],
        terms=[TermItem(1, "category", "News"), TermItem(2, "post_tag", "misc")],
        comments=[CommentItem(i, i, f"Comment {i}") for i in range(1, 6)],
    )


def _edit(site: Site, wp_id: int, content: str, when: str = "2025-06-01T10:00:00") -> None:
    item = next(i for i in site.items if i.id == wp_id)
    item.content, item.modified_gmt = content, when


def test_nothing_changed_costs_one_request_per_collection(make_server, client, db) -> None:
    server = make_server(_site())
    first = harvest_site(db, client, server.home + "/")
    assert {c["mode"] for c in first.counts.values()} == {"full"}
    server.requests.clear()
    second = harvest_site(db, client, server.home + "/")
    assert {c["mode"] for c in second.counts.values()} == {"incremental"}
    collections = len(second.counts)
    assert len(server.requests) == DISCOVERY_REQUESTS + collections == 10, server.requests
    assert all(c["new"] == c["updated"] == c["deleted"] == 0 for c in second.counts.values())


def test_edits_deletions_unpublishing_and_additions(make_server, client, db) -> None:
    site = _site()
    server = make_server(site)
    harvest_site(db, client, server.home + "/")
    for wp_id in (3, 77, 140):
        _edit(site, wp_id, f"<p>Revised text of post {wp_id}.</p>")
    site.items = [i for i in site.items if i.id != 10]  # deleted
    next(i for i in site.items if i.id == 20).status = "private"  # unpublished
    site.items += [Item(501, "post", "Fresh one", "<p>New.</p>", date_gmt="2025-06-02T00:00:00"),
                   Item(502, "post", "Fresh two", "<p>New too.</p>", date_gmt="2025-06-02T01:00:00")]
    server.requests.clear()
    result = harvest_site(db, client, server.home + "/")
    posts = result.counts["post"]
    assert (posts["new"], posts["updated"], posts["deleted"]) == (2, 3, 2)
    # Only what changed was fetched in full: the probe, one include= request, and the id sweep.
    full_fetches = [p for p in server.requests if "/wp/v2/posts" in p and "_fields" not in p]
    assert len(full_fetches) == 1 and "include=" in full_fetches[0]
    fetched_ids = sorted(int(i) for i in full_fetches[0].split("include=")[1].split("&")[0].replace("%2C", ",").split(","))
    assert fetched_ids == [3, 77, 140, 501, 502]
    run = result.run_id
    versions = _rows(db, 'SELECT key, run_id, replaced_by_run_id FROM versions WHERE "table" = \'posts\' ORDER BY key')
    assert versions == [("1-140", 1, run), ("1-3", 1, run), ("1-77", 1, run)]
    old = json.loads(db.execute("SELECT json FROM versions WHERE key = '1-3'").fetchone()[0])
    assert old["content"]["rendered"] == "<p>Body of post 3.</p>\n"
    assert db["posts"].get("1-3")["content_text"] == "Revised text of post 3."
    tombstones = _rows(db, "SELECT key, deleted_run_id FROM posts WHERE deleted_at IS NOT NULL ORDER BY key")
    assert tombstones == [("1-10", run), ("1-20", run)]
    assert db["posts"].get("1-10")["title"] == "Post 10"  # rows are never deleted
    changes = _rows(db, "SELECT change, count(*) FROM changes WHERE run_id = ? AND \"table\" = 'posts' "
                        "GROUP BY change ORDER BY change", [run])
    assert changes == [("deleted", 2), ("new", 2), ("updated", 3)]


def test_an_item_that_comes_back_is_revived(make_server, client, db) -> None:
    site = _site(posts=20)
    server = make_server(site)
    harvest_site(db, client, server.home + "/")
    post = next(i for i in site.items if i.id == 5)
    post.status = "draft"
    unpublished = harvest_site(db, client, server.home + "/")
    tombstone = db["posts"].get("1-5")
    assert tombstone["deleted_run_id"] == unpublished.run_id
    deleted = _rows(db, "SELECT run_id, at FROM changes WHERE \"table\" = 'posts' AND key = '1-5' "
                        "AND change = 'deleted'")
    assert deleted == [(unpublished.run_id, tombstone["deleted_at"])]
    post.status, post.modified_gmt = "publish", "2025-07-01T00:00:00"
    result = harvest_site(db, client, server.home + "/")
    assert result.counts["post"]["revived"] == 1
    assert (db["posts"].get("1-5")["deleted_at"], db["posts"].get("1-5")["deleted_run_id"]) == (None, None)
    history = _rows(db, "SELECT change FROM changes WHERE \"table\" = 'posts' AND key = '1-5' ORDER BY id")
    assert history == [("new",), ("deleted",), ("revived",), ("updated",)]


def test_full_refetches_everything_and_still_tombstones(make_server, client, db) -> None:
    site = _site(posts=30)
    server = make_server(site)
    harvest_site(db, client, server.home + "/")
    site.items = [i for i in site.items if i.id != 7]
    result = harvest_site(db, client, server.home + "/", full=True)
    assert result.counts["post"]["mode"] == "full"
    assert result.counts["post"]["seen"] == 29 and result.counts["post"]["deleted"] == 1
    assert _rows(db, "SELECT key, deleted_run_id FROM posts WHERE deleted_at IS NOT NULL") == [("1-7", result.run_id)]


def test_new_comments_terms_and_users_are_found_incrementally(make_server, client, db) -> None:
    site = _site(posts=10)
    server = make_server(site)
    harvest_site(db, client, server.home + "/")
    site.comments.append(CommentItem(6, 2, "A late reply", parent=2))
    site.terms.append(TermItem(3, "post_tag", "later"))
    result = harvest_site(db, client, server.home + "/")
    assert result.counts["comments"]["new"] == 1 and result.counts["post_tag"]["new"] == 1
    assert db["comments"].get("1-6")["parent"] == "1-2"
    site.comments = [c for c in site.comments if c.id != 4]
    result = harvest_site(db, client, server.home + "/")
    assert result.counts["comments"]["deleted"] == 1
    gone = _rows(db, "SELECT key, deleted_run_id FROM comments WHERE deleted_at IS NOT NULL")
    assert gone == [("1-4", result.run_id)]


def test_a_failed_page_is_retried_by_the_next_run(make_server, client, db) -> None:
    server = make_server(_site(posts=250))
    failing = {"on": True}
    server.fault = lambda path, query: (502, {}, b"<h1>Bad gateway</h1>") \
        if failing["on"] and path.endswith("/wp/v2/posts") and query.get("page") == "2" else None
    first = harvest_site(db, client, server.home + "/")
    assert first.status == "partial" and first.counts["post"]["failed_pages"] == 1
    assert db.execute("SELECT count(*) FROM posts WHERE type = 'post'").fetchone()[0] == 150
    error = next(db["harvest_errors"].rows)
    assert error["status"] == 502 and error["body"] == b"<h1>Bad gateway</h1>" and error["retry"] == 1
    failing["on"] = False
    second = harvest_site(db, client, server.home + "/")
    assert second.status == "ok"
    assert db.execute("SELECT count(*) FROM posts WHERE type = 'post'").fetchone()[0] == 250
    assert db["harvest_errors"].get(error["id"])["resolved_run_id"] == second.run_id
    # the pass that page belonged to is now complete, so the next run is incremental
    assert harvest_site(db, client, server.home + "/").counts["post"]["mode"] == "incremental"


@pytest.mark.parametrize("stop_after_pages", [1, 2])
def test_an_interrupted_pass_resumes_where_it_stopped(make_server, client, db, interrupt_after,
                                                      stop_after_pages) -> None:
    server = make_server(_site(posts=350))
    with pytest.raises(KeyboardInterrupt):
        harvest_site(db, client, server.home + "/", progress=interrupt_after("post", stop_after_pages))
    server.requests.clear()
    resumed = harvest_site(db, client, server.home + "/")
    assert resumed.counts["post"]["mode"] == "resumed"
    post_pages = sorted(int(m.group(1)) for p in server.requests if "/wp/v2/posts" in p
                        for m in [re.search(r"[?&]page=(\d+)", p)] if m)
    assert post_pages == list(range(stop_after_pages, 5))  # from the last committed page on
    assert db.execute("SELECT count(*) FROM posts WHERE type = 'post' AND deleted_at IS NULL").fetchone()[0] == 350


def test_runs_and_history_are_one_query_away(make_server, client, db_path, db) -> None:
    import asyncio

    from wparchive.serve import build_datasette

    site = _site(posts=12)
    server = make_server(site)
    harvest_site(db, client, server.home + "/")
    _edit(site, 4, "<p>Second draft.</p>")
    site.items = [i for i in site.items if i.id != 9]
    second = harvest_site(db, client, server.home + "/")
    summary = db.execute("SELECT new, updated, removed, status FROM run_summary WHERE run_id = ?",
                         [second.run_id]).fetchone()
    assert tuple(summary) == (0, 2, 1, "ok")  # the post, and its category's count
    row = db.execute("SELECT total, stored, mode FROM run_collections WHERE run_id = ? AND collection = 'post'",
                     [second.run_id]).fetchone()
    assert tuple(row) == (11, 11, "incremental")

    async def fetch(path: str):  # type: ignore[no-untyped-def]
        ds = build_datasette(db_path)
        await ds.invoke_startup()
        return await ds.client.get(path)

    history = asyncio.run(fetch("/archive/post_versions.json?key=1-4&_shape=array")).json()
    assert [(h["state"], h["content_html"].strip()) for h in history] == [
        ("current", "<p>Second draft.</p>"), ("rest", "<p>Body of post 4.</p>")]
    runs = asyncio.run(fetch("/archive/site_runs.json?_shape=array")).json()
    assert [r["run_id"] for r in runs] == [second.run_id, second.run_id - 1]
    changes = asyncio.run(fetch("/archive/recent_changes.json?_shape=array&change=deleted")).json()
    assert [(c["key"], c["label"]) for c in changes] == [("1-9", "Post 9")]


def test_a_hundred_changes_are_one_request_each_hundred(make_server, client, db) -> None:
    site = _site(250)
    server = make_server(site)
    harvest_site(db, client, server.home + "/")
    for wp_id in range(1, 201):
        _edit(site, wp_id, f"<p>Revised text of post {wp_id}.</p>", when=f"2025-06-01T10:{wp_id % 60:02d}:00")
    server.requests.clear()
    result = harvest_site(db, client, server.home + "/")
    assert result.counts["post"]["updated"] == 200
    full_fetches = [p for p in server.requests if "/wp/v2/posts" in p and "_fields" not in p]
    # two full pages of include=, and no look past either of them
    assert len(full_fetches) == 2 and all("include=" in p for p in full_fetches), full_fetches
