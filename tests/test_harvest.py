"""End-to-end harvests of the WordPress-like server into a tmp archive."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from typing import Any

import pytest
import sqlite_utils

from wparchive.harvest import harvest_site
from wparchive.sample.site import CORE_TAXONOMIES, CORE_TYPES, Item, Site, TermItem, TypeInfo


def _count(db, table: str, where: str = "1", params: list | None = None) -> int:
    return db.execute(f"SELECT count(*) FROM {table} WHERE {where}", params or []).fetchone()[0]


@pytest.mark.parametrize("permalinks", ["pretty", "plain"])
def test_stores_every_public_item_and_counts_match_x_wp_total(make_server, client, db, permalinks) -> None:
    server = make_server(permalinks=permalinks, subdir="garden")
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "ok", result.errors
    site = server.site
    expected = {
        "post": len(site.public_items("post")), "page": len(site.public_items("page")),
        "media": len(site.public_items("attachment")), "comments": len(site.counted_comments()),
        "users": len(site.public_users()), "category": sum(t.taxonomy == "category" for t in site.terms),
        "post_tag": sum(t.taxonomy == "post_tag" for t in site.terms),
    }
    assert {name: counts["total"] for name, counts in result.counts.items()} == expected
    assert _count(db, "posts", "type = 'post'") == expected["post"] == 24
    assert _count(db, "posts", "type = 'page'") == expected["page"] == 5
    assert _count(db, "media") == expected["media"]
    # WordPress counts comments on protected and draft posts in X-WP-Total, then hides them.
    assert _count(db, "comments") == len(site.public_comments()) == expected["comments"] - 2
    assert result.counts["comments"]["seen"] == len(site.public_comments())
    assert _count(db, "users") == expected["users"] == 3
    assert _count(db, "terms") == expected["category"] + expected["post_tag"]


def test_a_second_harvest_adds_no_duplicates_and_rewrites_nothing(server, client, db) -> None:
    harvest_site(db, client, server.home + "/")
    before = {t: list(db[t].rows) for t in ("posts", "terms", "users", "media", "comments", "links", "post_terms")}
    second = harvest_site(db, client, server.home + "/")
    assert second.status == "ok"
    assert {name: (c["new"], c["updated"], c["deleted"]) for name, c in second.counts.items()} == {
        name: (0, 0, 0) for name in ("category", "post_tag", "users", "post", "page", "media", "comments")}
    after = {t: list(db[t].rows) for t in before}
    assert after == before
    assert db["harvest_runs"].count == 2


def test_a_changed_post_is_updated_in_place(server, client, db) -> None:
    harvest_site(db, client, server.home + "/")
    post = next(i for i in server.site.items if i.id == 1002)
    post.content = "<p>Compost, revised: always use a lid.</p>"
    post.modified_gmt = "2025-01-01T00:00:00"
    result = harvest_site(db, client, server.home + "/")
    assert result.counts["post"]["updated"] == 1
    row = db["posts"].get("1-1002")
    assert row["content_text"] == "Compost, revised: always use a lid."
    assert _count(db, "posts", "wp_id = 1002") == 1


def test_content_is_cleaned_and_related(server, client, db) -> None:
    harvest_site(db, client, server.home + "/")
    tomatoes = db["posts"].get("1-1003")
    assert tomatoes["title"] == "Tomatoes: twelve varieties, one summer"
    assert "Gardener’s Delight 6.2 sweet" in tomatoes["content_text"]
    assert tomatoes["content_markdown"] == (
        "We grew twelve varieties side by side. Here is how they did.\n\n"
        "| Variety            | Yield (kg) | Flavour  |\n| ------------------ | ---------- | -------- |\n"
        "| Gardener’s Delight | 6.2        | sweet    |\n| Black Krim         | 4.8        | smoky    |\n"
        "| Sungold            | 7.1        | tropical |\n\n"
        f"![Ripe tomatoes on the vine]({server.home}/wp-content/uploads/2024/04/tomatoes.jpg)\n\n"
        "Sungold, late July.")
    assert tomatoes["content_html"] == server.site.render_item(
        next(i for i in server.site.items if i.id == 1003), server.home, "")["content"]["rendered"]
    assert json.loads(tomatoes["categories"]) == ["Vegetables"]
    assert json.loads(tomatoes["tags"]) == ["tomatoes"]
    assert tomatoes["author"] == "1-2" and db["users"].get("1-2")["name"] == "Tomás Ferreira"
    assert (tomatoes["word_count"], tomatoes["reading_minutes"]) == (33, 1)
    images = list(db["images"].rows_where("post = ?", ["1-1003"]))
    assert [(i["alt"], i["width"]) for i in images] == [("Ripe tomatoes on the vine", 1024)]
    links = list(db["links"].rows_where("post = ?", ["1-1001"], order_by="position"))
    assert [(l["href"], l["internal"]) for l in links] == [
        (server.home + "/about/", 1), (server.home + "/2023/03/the-compost-question/", 1)]


def test_threads_hierarchies_and_flags_survive(server, client, db) -> None:
    harvest_site(db, client, server.home + "/")
    assert db["comments"].get("1-3")["parent"] == "1-2"
    assert db["comments"].get("1-2")["parent"] == "1-1"
    assert db["comments"].get("1-1")["parent"] is None
    assert db["terms"].get("1-3")["parent"] == "1-2"  # Vegetables under Growing
    assert db["posts"].get("1-51")["parent"] == "1-50"  # The committee under About us
    assert db["posts"].get("1-1001")["sticky"] == 1
    protected = db["posts"].get("1-1017")
    assert protected["protected"] == 1 and protected["content_text"] == "" and protected["content_html"] == ""
    assert _count(db, "posts", "status != 'publish'") == 0  # drafts and scheduled posts are not public
    assert _count(db, "comments", "status = 'spam'") == 0


def test_every_record_carries_its_provenance(server, client, db) -> None:
    result = harvest_site(db, client, server.home + "/")
    checked = {}
    for table in ("posts", "terms", "users", "media", "comments"):
        checked[table] = 0
        for row in db[table].rows:
            checked[table] += 1
            assert row["run_id"] == result.run_id
            assert row["response_url"].startswith(server.home + "/wp-json/wp/v2/")
            assert row["fetched_at"].endswith("+00:00")
            raw = db["raw_json"].get((table, row["key"]))
            assert hashlib.sha256(raw["json"].encode("utf-8")).hexdigest() == row["raw_sha256"] == raw["sha256"]
            assert json.loads(raw["json"])["id"] == row["wp_id"]
    assert checked == {"posts": 29, "terms": 17, "users": 3, "media": 4, "comments": 19}


def test_harvest_runs_record_counts_and_status(server, client, db) -> None:
    result = harvest_site(db, client, server.home + "/")
    run = db["harvest_runs"].get(result.run_id)
    assert run["status"] == "ok" and run["finished_at"] >= run["started_at"]
    assert json.loads(run["counts"])["post"]["total"] == 24
    assert run["requests"] == client.requests_made and run["error_count"] == 0
    site = db["sites"].get(run["site_id"])
    assert site["name"] == "The Allotment Almanac" and site["gmt_offset"] == "1"
    assert site["description"] == "News &amp; notes from the Elm Street community garden"


def _holds(query: dict[str, str], wp_id: int) -> bool:
    """Whether a request for posts 1, 2, 3… in id order gets the post wp_id, whatever the page size."""
    if "include" in query:
        return str(wp_id) in query["include"].split(",")
    per_page, page = int(query.get("per_page", "10")), int(query.get("page", "1"))
    return (page - 1) * per_page < wp_id <= page * per_page


def test_a_failing_page_keeps_what_was_saved_and_records_the_bytes(make_server, client, db) -> None:
    site = Site(items=[Item(i, "post", f"Post {i}", f"<p>word{i}</p>") for i in range(1, 251)]
                + [Item(300, "page", "About", "<p>About us.</p>")])
    server = make_server(site)
    body = b'[{"id": 201, "title": {"rendered": "cut of'
    # every answer that holds post 201 breaks off in it, whatever the page size
    server.fault = lambda path, query: (200, {"Content-Type": "application/json"}, body) \
        if path.endswith("/wp/v2/posts") and "_fields" not in query and _holds(query, 201) else None
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "partial"
    # page three is read again in smaller pages: only post 201 is not whole, and what arrived of it is kept
    assert _count(db, "posts", "type = 'post' AND incomplete IS NULL") == 249
    assert db["posts"].get("1-201")["title"] == "cut of"
    assert (result.counts["post"]["seen"], result.counts["post"]["failed_pages"]) == (250, 0)
    assert result.counts["post"]["incomplete"] == 1
    error = next(db["harvest_errors"].rows)
    assert error["collection"] == "post" and "page=3" in error["url"] and error["body"] == body
    assert error["reason"] == "truncated_json"
    assert db["harvest_runs"].get(result.run_id)["status"] == "partial"
    # the collections after it were still harvested
    assert result.counts["page"]["new"] == 1 and db["posts"].get("1-300")["title"] == "About"


def test_custom_types_taxonomies_and_refused_collections(make_server, client, db) -> None:
    site = Site(
        items=[Item(1, "post", "A post", "<p>x</p>", terms={"category": [9]}),
               Item(2, "book", "A book", "<p>Chapter one.</p>", terms={"genre": [5]})],
        terms=[TermItem(5, "genre", "Crime"), TermItem(9, "category", "News")],
        types=CORE_TYPES + [TypeInfo("book", "Books", "books", related=["genre"]),
                            TypeInfo("secret", "Secrets", "secrets", refuse_with="rest_forbidden")],
        taxonomies=CORE_TAXONOMIES + [TypeInfo("genre", "Genres", "genres", related=["book"])],
    )
    server = make_server(site)
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "ok" and result.errors == []
    assert result.notes == ["skipped secret: rest_forbidden (not public)"]
    book = db["posts"].get("1-2")
    assert book["type"] == "book"
    assert [r["term"] for r in db["post_terms"].rows_where("post = ?", ["1-2"])] == ["1-5"]
    assert db["terms"].get("1-5")["taxonomy"] == "genre"


def test_items_with_missing_fields_are_stored_and_broken_ones_recorded(make_server, client, db) -> None:
    server = make_server(Site(items=[Item(1, "post", "One", "<p>one</p>"), Item(2, "post", "Two")]))
    original = server.site.render_item

    def damaged(item, home, api):  # type: ignore[no-untyped-def]
        data = original(item, home, api)
        if item.id == 1:
            data = {"id": 1, "title": "flattened title", "new_field_from_plugin": "hello"}
        if item.id == 2:
            data.pop("id")
        return data

    server.site.render_item = damaged  # type: ignore[method-assign]
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "partial"
    row = db["posts"].get("1-1")
    assert row["title"] == "flattened title" and row["wp_new_field_from_plugin"] == "hello"
    (error,) = db["harvest_errors"].rows_where("reason = 'invalid_item'")
    assert error["message"] == "ContentItem item None: Field required"
    kept = json.loads(error["body"])  # the item as served, for a later look
    assert "id" not in kept and kept["title"] == {"rendered": "Two"} and kept["slug"] == "two"


def test_limit_makes_a_cheap_trial_run(server, client, db) -> None:
    result = harvest_site(db, client, server.home + "/", limit=2)
    assert result.counts["post"]["seen"] == 2
    assert _count(db, "posts", "type = 'post'") == 2


def test_full_text_search_finds_a_post_by_a_word_of_its_body(server, client, db) -> None:
    harvest_site(db, client, server.home + "/")
    found = [r["title"] for r in db["posts"].search("beekeeper")]
    assert found == ["Bees on plot 17"]
    found = [r["author_name"] for r in db["comments"].search("paprika")]
    assert found == ["Lena"]
    # the triggers keep the index current on later runs
    post = next(i for i in server.site.items if i.id == 1009)
    post.content, post.modified_gmt = "<p>Hailstones like marbles.</p>", "2025-02-02T00:00:00"
    harvest_site(db, client, server.home + "/")
    assert [r["title"] for r in db["posts"].search("hailstones")] == ["Rain, at last"]
    assert list(db["posts"].search("rivers")) == []


def test_databases_of_other_tools_are_refused(tmp_path) -> None:
    from wparchive.db import open_db
    from wparchive.errors import NotAnArchive

    other = sqlite_utils.Database(tmp_path / "other.db")
    other["posts"].insert({"id": 1})
    with pytest.raises(NotAnArchive):
        open_db(str(tmp_path / "other.db"))
    (tmp_path / "text.db").write_text("not a database at all, just some text that is long enough" * 20)
    with pytest.raises(NotAnArchive):
        open_db(str(tmp_path / "text.db"))


def test_an_interruption_loses_at_most_the_page_in_flight(make_server, client, db, interrupt_after) -> None:
    server = make_server(Site(items=[Item(i, "post", f"Post {i}", f"<p>word{i}</p>") for i in range(1, 251)]))
    with pytest.raises(KeyboardInterrupt):
        harvest_site(db, client, server.home + "/", progress=interrupt_after("post", 1))
    assert _count(db, "posts") == 100  # the first page was committed on its own
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert next(db["harvest_runs"].rows)["status"] == "interrupted"
    again = harvest_site(db, client, server.home + "/")
    assert again.status == "ok" and _count(db, "posts") == 250
    assert again.counts["post"]["unchanged"] == 100 and again.counts["post"]["new"] == 150


def test_links_between_posts_form_a_queryable_graph(server, client, db) -> None:
    harvest_site(db, client, server.home + "/")
    edges = db.execute("SELECT post, target FROM links WHERE target IS NOT NULL ORDER BY post, position").fetchall()
    assert edges == [
        ("1-1001", "1-50"),  # "about us" → the About page
        ("1-1001", "1-1002"),  # → the compost question
        ("1-1006", "1-1005"),  # part two → part one
        ("1-1024", "1-52"),  # the open day → the visit page
    ]
    external = db.execute("SELECT count(*) FROM links WHERE internal = 0 AND target IS NOT NULL").fetchone()[0]
    assert external == 0
    apple = db["posts"].get("1-1012")
    assert "[caption" not in apple["content_text"] and "The Bramley in September." in apple["content_text"]
    assert db["images"].get(("1-1012", 0))["caption"] == "The Bramley in September."
    assert db["images"].get(("1-1012", 0))["media"] == "1-102"
    assert apple["language"] == "en" and apple["reading_minutes"] == 1


def test_cleaning_in_worker_processes_gives_the_same_archive(make_server, client, tmp_path) -> None:
    from wparchive.db import open_db
    from wparchive.parallel import POOL_THRESHOLD

    posts = POOL_THRESHOLD + 50
    prose = "The garden lies behind the library, and anyone may grow vegetables there in summer."
    site = Site(items=[Item(i, "post", f"Post {i}", f'<p>Text {i} <a href="/?p={i + 1}">next</a></p>'
                                                     f'<figure><img src="/i{i}.jpg" alt="a"><figcaption>c{i}</figcaption>'
                                                     f"</figure>") for i in range(1, posts + 1)]
                + [Item(posts + i, "page", f"Page {i}", f"<p>{prose}</p>") for i in range(1, 4)])
    server = make_server(site)
    archives = {}
    for workers in (1, 2):
        db = open_db(str(tmp_path / f"w{workers}.db"))
        result = harvest_site(db, client, server.home + "/", workers=workers)
        assert result.status == "ok" and result.counts["post"]["new"] == posts
        # the pages, too few for the workers alone, are cleaned by them once they run: in either
        # place with the language model
        assert [r[0] for r in db.execute("SELECT language FROM posts WHERE type = 'page'")] == ["en"] * 3
        archives[workers] = _rows_but_times(db, ("posts", "links", "images"))
    for table in ("posts", "links", "images"):
        assert len(archives[1][table]) == posts + (3 if table == "posts" else 0)
    assert archives[1] == archives[2]


def _rows_but_times(db: Any, tables: tuple[str, ...]) -> dict[str, list[str]]:
    """Each table's rows as text, sorted, every time in them blanked: archives harvested apart, identical
    but for when each row was fetched, compare equal."""
    return {table: sorted(re.sub(r"'20\d\d-\d\d-\d\dT[^']*'", "T", str(row))
                          for row in db.execute(f"SELECT * FROM {table}").fetchall()) for table in tables}


def test_the_first_large_collection_starts_the_workers_which_then_clean_collections_of_any_size() -> None:
    from wparchive import clean
    from wparchive.parallel import POOL_THRESHOLD, CleaningPool
    from wparchive.records import SiteContext
    from wparchive.rows import Provenance

    assert not CleaningPool(1).wanted(POOL_THRESHOLD * 10)  # one worker: always in-process
    pool = CleaningPool(2)
    try:
        assert not pool.wanted(3) and not pool.wanted(POOL_THRESHOLD - 1) and not pool.wanted(None)
        prose = "<p>The garden lies behind the library, and anyone may grow vegetables there in summer.</p>"
        item = {"id": 7, "type": "post", "title": {"rendered": "T"}, "content": {"rendered": prose}}
        ctx = SiteContext(site_id=1, home="http://h", hosts=frozenset())
        provenance = Provenance("http://h/p", "2024-01-01T00:00:00+00:00", 1)
        records, failures = pool.clean_here("posts", [item], ctx, provenance)  # a small collection's page
        assert records[0].row["language"] == "en" and not failures and clean._language_identifier is not None
        # the first page of a large collection starts the workers and goes to them; this process's
        # language model goes as they start: the workers have their own
        assert pool.wanted(POOL_THRESHOLD)
        assert clean._language_identifier is None
        # every page of any size after goes to the workers
        assert pool.wanted(POOL_THRESHOLD) and pool.wanted(3)
        (records, failures), = [future.result() for future in pool.submit("posts", [item], ctx, provenance)]
        assert [r.key for r in records] == ["1-7"] and records[0].row["language"] == "en" and not failures
        assert clean._language_identifier is None
        assert pool.wanted(3)  # the model lives in the workers now, not in this process
    finally:
        pool.close()


# A harvest through the command line in a fresh interpreter, which then names the processes it
# started that still run: the forkserver the workers are forked from lives as long as it does.
HARVEST_THEN_CHILDREN = """
import json, os, sys
from wparchive.cli import cli

try:
    code = cli.main(sys.argv[1:], prog_name="wparchive", standalone_mode=False)
except SystemExit as exit:
    code = exit.code
children = []
for entry in os.listdir("/proc"):
    try:
        with open(f"/proc/{entry}/stat") as stat:
            state, parent = stat.read().rsplit(")", 1)[1].split()[:2]
    except (OSError, ValueError):
        continue
    if int(parent) == os.getpid() and state != "Z":
        children.append(int(entry))
print(json.dumps({"code": code, "children": children}))
"""


def _harvest_in_a_fresh_process(url: str, db_path: str, workers: int, *extra: str) -> list[int]:
    """The harvest's children still running as it ends (see HARVEST_THEN_CHILDREN)."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", HARVEST_THEN_CHILDREN, "harvest", url, "--db", db_path,
                          "--delay", "0", "-q", "--workers", str(workers), *extra], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["code"] in (None, 0), run.stderr
    return list(report["children"])


def test_a_small_first_harvest_starts_no_worker_and_cleans_as_the_workers_would(server, tmp_path) -> None:
    archives = {}
    for workers in (2, 1):
        db_path = str(tmp_path / f"w{workers}.db")
        # every collection of the sample site is far below the pool's threshold: all is cleaned here
        assert _harvest_in_a_fresh_process(server.home + "/", db_path, workers) == []
        db = sqlite_utils.Database(db_path)
        archives[workers] = _rows_but_times(db, ("posts", "links", "images", "terms"))
        assert "en" in {r[0] for r in db.execute("SELECT language FROM posts")}  # with the language model
    assert all(archives[1].values()) and archives[1] == archives[2]


def test_a_collection_at_the_threshold_is_cleaned_by_workers_unless_limit_cleans_fewer(make_server, tmp_path) -> None:
    from wparchive.parallel import POOL_THRESHOLD

    site = Site(items=[Item(i, "post", f"Post {i}", f"<p>Text {i}</p>") for i in range(1, POOL_THRESHOLD + 1)])
    server = make_server(site)
    db_path = str(tmp_path / "archive.db")
    assert _harvest_in_a_fresh_process(server.home + "/", db_path, 2) != []  # the workers' forkserver
    assert sqlite_utils.Database(db_path).execute("SELECT count(*) FROM posts").fetchone()[0] == POOL_THRESHOLD
    # a trial run cleans too few of them to repay the workers
    trial = str(tmp_path / "trial.db")
    assert _harvest_in_a_fresh_process(server.home + "/", trial, 2, "--limit", "150") == []
    assert sqlite_utils.Database(trial).execute("SELECT count(*) FROM posts").fetchone()[0] == 150


def test_a_page_is_saved_whole_or_not_at_all(server, client, db) -> None:
    # The links of a page are written after its posts: make that write fail.
    db.execute("CREATE TRIGGER links_fail BEFORE INSERT ON links BEGIN SELECT RAISE(ABORT, 'the disk is full'); END")
    with pytest.raises(sqlite3.DatabaseError, match="disk is full"):
        harvest_site(db, client, server.home + "/")
    # the posts of the page whose links failed are not there without their links
    assert _count(db, "posts") == 0 and _count(db, "raw_json", "\"table\" = 'posts'") == 0
    # earlier pages, each whole, are kept: the terms and users, saved before the posts
    assert (_count(db, "terms"), _count(db, "users")) == (len(server.site.terms), 3) == (17, 3)


def test_rows_of_one_page_may_differ_in_their_columns_and_types(db) -> None:
    # A plugin field in one item only; a list where the first row has nothing; a new column.
    from wparchive.db.save import write_rows as _insert

    _insert(db, "embeds", [{"post": "1-1", "position": 0, "provider": None, "url": "a"},
                           {"post": "1-2", "position": 0, "provider": ["x", "y"], "url": "b", "wp_extra": 3},
                           {"post": "1-3", "position": 1, "url": "c"}])
    # the column exists now: the same kind of page goes through the fast path
    _insert(db, "embeds", [{"post": "2-1", "position": 0, "provider": None, "url": "d"},
                           {"post": "2-2", "position": 0, "provider": {"n": 1}, "url": "e", "wp_extra": 4},
                           {"url": "f", "post": "2-3", "position": 1}])
    rows = [tuple(r) for r in db.execute("SELECT post, provider, url, wp_extra FROM embeds ORDER BY post")]
    assert rows == [("1-1", None, "a", None), ("1-2", '["x", "y"]', "b", 3), ("1-3", None, "c", None),
                    ("2-1", None, "d", None), ("2-2", '{"n": 1}', "e", 4), ("2-3", None, "f", None)]
