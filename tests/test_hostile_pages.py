"""Servers that lie about their pages, and pages that break: paging never loops or follows a made-up page
count, and a broken page costs only the items that cannot be read whole. Each test counts the requests."""

from __future__ import annotations

import json
import re
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

import pytest
from click.testing import CliRunner

from wparchive.cli import EXIT_PARTIAL, cli
from wparchive.client import Client
from wparchive.db import open_db
from wparchive.errors import FetchError, ItemCutOff, PageNarrowed, PaginationStopped
from wparchive.export import export_rows
from wparchive.harvest import harvest_site
from wparchive.pagination import MAX_BLIND_PAGES, MAX_NARROWING_REQUESTS, paginate
from wparchive.sample.server import WordPressServer
from wparchive.sample.site import CommentItem, Item, Site

FROST = "<p>The first frost came early this year, and the broad beans were lost.</p><p>We sowed again.</p>"
CUT_AFTER = "and the broad be"  # where the proxy's cut falls: mid-sentence, mid-word


def _site(posts: int = 250, comments: int = 0) -> Site:
    return Site(items=[Item(i, "post", f"Post {i}", FROST if i % 10 == 1 else f"<p>Text of post {i}.</p>",
                            date_gmt=f"2024-01-{1 + i % 28:02d}T12:00:00") for i in range(1, posts + 1)],
                comments=[CommentItem(c, 1, f"Comment {c} on the frost") for c in range(1, comments + 1)])


class Proxy:
    """Stands in front of the server like a proxy that truncates and rewrites responses: any list of
    `collection` that holds one of `ids` is cut in the content of the first of them, mid-sentence, with
    the opening tags stripped, so that its JSON never closes. The headers are the server's own."""

    def __init__(self, server: WordPressServer, ids: set[int], collection: str = "/wp/v2/posts",
                 cut: Callable[[str], int] | None = None) -> None:
        self.ids, self.on, self.bodies = ids, True, []  # type: ignore[var-annotated]
        self.cut = cut or (lambda text: text.index(CUT_AFTER) + len(CUT_AFTER))
        original = server.httpd.RequestHandlerClass._json
        proxy = self

        def send(handler, status, data, headers=None):  # type: ignore[no-untyped-def]
            path = handler.path.split("?")[0]
            if proxy.on and path.endswith(collection) and isinstance(data, list):
                hit = next((i for i, item in enumerate(data) if item.get("id") in proxy.ids and "content" in item),
                           None)
                if hit is not None:
                    body = proxy.cut_body(data, hit)
                    proxy.bodies.append(body)
                    return handler._send(status, {"Content-Type": "application/json; charset=UTF-8",
                                                  **(headers or {})}, body)
            return original(handler, status, data, headers)

        server.httpd.RequestHandlerClass._json = send

    def cut_body(self, data: list[dict[str, Any]], hit: int) -> bytes:
        item = dict(data[hit])
        item["content"] = {**item["content"], "rendered": re.sub(r"<[a-z][^>]*>", "", item["content"]["rendered"])}
        text = json.dumps(data[:hit] + [item], ensure_ascii=False)
        start = text.index(f'"id": {item["id"]},')
        return text[:start + self.cut(text[start:])].encode("utf-8")


def _posts_requests(server: WordPressServer) -> list[str]:
    return [p for p in server.requests if p.split("?")[0].endswith("/wp/v2/posts")]


def _asked(server: WordPressServer) -> list[str]:
    """The posts pages asked for, in order, as [_fields=…&][include=…&]PER_PAGE@PAGE."""
    shown = []
    for path in _posts_requests(server):
        query = dict(parse_qsl(urlsplit(path).query))
        shown.append("".join(f"{name}={query[name]}&" for name in ("_fields", "include") if name in query)
                     + f"{query['per_page']}@{query['page']}")
    return shown


def _errors(db, collection: str = "post") -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return [e for e in db["harvest_errors"].rows if e["collection"] == collection]


def _count(db, where: str = "type = 'post'") -> int:  # type: ignore[no-untyped-def]
    return db.execute(f"SELECT count(*) FROM posts WHERE {where}").fetchone()[0]


def _rewrite_posts(server: WordPressServer, change: Callable[[dict[str, str], dict[str, str], Any], Any],
                   endpoint: str = "/wp/v2/posts") -> None:
    def rewrite(path, query, status, headers, data):  # type: ignore[no-untyped-def]
        if path.endswith(endpoint) and isinstance(data, list) and "page" in query:
            data = change(query, headers, data)
        return status, headers, data
    server.rewrite = rewrite


# --- A broken page costs only its broken items -------------------------------------------------------

def test_the_real_case_a_cut_off_first_page_keeps_every_good_item(make_server, client, db) -> None:
    """Page 1 of 3 is a single post object whose content.rendered breaks off mid-sentence, its opening
    tags stripped: pages 2 and 3 are still read, every other post of page 1 too, and what arrived of the
    cut post is kept, marked incomplete, until a run gets it whole."""
    server = make_server(_site())
    proxy = Proxy(server, {1})
    first = harvest_site(db, client, server.home + "/")
    assert proxy.bodies[0].startswith(b'[{"id": 1, "date": ') and proxy.bodies[0].endswith(b"and the broad be")
    assert first.status == "partial" and first.counts["post"]["failed_pages"] == 0
    assert first.counts["post"]["incomplete"] == 1 and first.counts["post"]["total"] == 250
    assert _count(db, "type = 'post' AND incomplete IS NULL") == 249  # every good item, whole
    cut = db["posts"].get("1-1")
    assert (cut["wp_id"], cut["title"], cut["date_gmt"], cut["slug"], cut["status"]) == (
        1, "Post 1", "2024-01-02T12:00:00", "post-1", "publish")
    assert cut["content_html"] == "The first frost came early this year, and the broad be"
    assert cut["incomplete"] == ("the response broke off in content.rendered: content.rendered is cut short and the "
                                 "fields after it are missing")
    page, item = _errors(db)
    assert page["body"] == item["body"] == proxy.bodies[0]  # the raw bytes
    assert page["reason"] == item["reason"] == "truncated_json" and "read again in smaller pages" in page["message"]
    assert "per_page=100&page=1" in page["url"] and page["retry"] == 0
    assert "include=1&per_page=1&page=1" in item["url"] and item["retry"] == 1 and "item 1 " in item["message"]
    # page 1, post 1 alone, posts 2-100 in 8 pages of 1, 2, 4, 8, 16, 32, 32 and 4, then pages 2 and 3
    assert _asked(server) == [
        "100@1", "include=1&1@1", "1@2", "2@2", "4@2", "8@2", "16@2", "32@2", "32@3", "4@25", "100@2", "100@3"]
    assert db["sync_state"].get((1, "post"))["complete_run_id"] == first.run_id  # no post was missed
    exported = [row["key"] for row in export_rows(db, post_type="post")]
    assert len(exported) == 249 and "1-1" not in exported  # what is incomplete is not exported

    proxy.on = False
    server.requests.clear()
    second = harvest_site(db, client, server.home + "/")
    assert second.status == "ok" and second.counts["post"]["mode"] == "incremental"
    whole = db["posts"].get("1-1")
    assert whole["incomplete"] is None and whole["content_text"] == "The first frost came early this year, and the " \
        "broad beans were lost.\n\nWe sowed again."
    assert db["harvest_errors"].get(item["id"])["resolved_run_id"] == second.run_id
    assert _count(db, "type = 'post' AND incomplete IS NULL") == 250


def test_the_real_case_from_the_command_line_is_one_line_and_exit_code_3(make_server, db_path) -> None:
    server = make_server(_site())
    Proxy(server, {1})
    result = CliRunner().invoke(cli, ["harvest", server.home + "/", "--db", db_path, "--delay", "0", "-q"])
    assert result.exit_code == EXIT_PARTIAL, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith("Error: post: item 1 of ")
    assert _count(open_db(db_path), "type = 'post' AND incomplete IS NULL") == 249


def test_two_bad_items_on_one_page(make_server, client, db) -> None:
    server = make_server(_site(posts=250))
    Proxy(server, {30, 70}, cut=lambda text: text.index('"content": {"rendered": "') + 40)
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "partial" and result.counts["post"]["incomplete"] == 2
    assert _count(db, "type = 'post' AND incomplete IS NULL") == 248
    assert {key for key, in db.execute("SELECT key FROM posts WHERE incomplete IS NOT NULL")} == {"1-30", "1-70"}
    assert _asked(server) == [
        "100@1", "29@1", "include=30&1@1", "30@2", "30@3", "6@11", "3@23", "include=70&1@1", "14@6", "14@7", "2@50",
        "100@2", "100@3"]


def test_an_item_that_breaks_before_its_id_is_a_failed_page_and_the_next_run_mends_it(make_server, client, db) -> None:
    server = make_server(_site())
    proxy = Proxy(server, {50}, cut=lambda text: 3)  # '{"i': not even the id arrived
    first = harvest_site(db, client, server.home + "/")
    assert first.status == "partial" and first.counts["post"]["failed_pages"] == 1
    assert first.counts["post"]["incomplete"] == 0 and _count(db) == 249 and db["posts"].count_where("wp_id = 50") == 0
    [item] = [e for e in _errors(db) if e["retry"]]
    assert "per_page=1&page=50" in item["url"] and "not even its id arrived" in item["message"]
    assert _asked(server) == [
        "100@1", "49@1", "1@50", "50@2", "100@2", "100@3"]
    assert db["sync_state"].get((1, "post"))["pass_run_id"] == first.run_id  # the pass stays open
    proxy.on = False
    second = harvest_site(db, client, server.home + "/")
    assert second.status == "ok" and _count(db) == 250
    assert db["sync_state"].get((1, "post"))["complete_run_id"] == second.run_id


def test_a_cut_never_replaces_what_the_archive_has_whole(make_server, client, db) -> None:
    site = _site(posts=30)
    server = make_server(site)
    assert harvest_site(db, client, server.home + "/").status == "ok"
    site.items[0].content = FROST.replace("We sowed again.", "We sowed again in April.")
    site.items[0].modified_gmt = "2024-04-01T00:00:00"
    proxy = Proxy(server, {1})
    server.requests.clear()
    second = harvest_site(db, client, server.home + "/")  # incremental: post 1 changed, and arrives cut short
    assert second.status == "partial" and second.counts["post"]["incomplete"] == 1
    kept = db["posts"].get("1-1")
    assert kept["incomplete"] is None and kept["content_text"].endswith("We sowed again.")  # the whole old one
    assert _asked(server) == ["_fields=id,modified_gmt&100@1", "include=1&100@1", "include=1&1@1"]
    proxy.on = False
    third = harvest_site(db, client, server.home + "/")
    assert third.status == "ok" and db["posts"].get("1-1")["content_text"].endswith("We sowed again in April.")


def test_a_page_broken_everywhere_costs_a_bounded_number_of_requests(make_server, client, db) -> None:
    server = make_server(_site())
    Proxy(server, set(range(1, 101)), cut=lambda text: text.index('"content": {"rendered": "') + 30)
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "partial" and _count(db, "type = 'post' AND incomplete IS NULL") == 150
    assert len(_posts_requests(server)) == 1 + MAX_NARROWING_REQUESTS + 2  # page 1, narrowing, pages 2 and 3
    stopped = [e for e in _errors(db) if e["reason"] == "narrowing_stopped"]
    assert len(stopped) == 1 and stopped[0]["retry"] == 1 and "per_page=100&page=1" in stopped[0]["url"]
    salvaged = result.counts["post"]["incomplete"]
    assert 15 <= salvaged < MAX_NARROWING_REQUESTS and _count(db, "incomplete IS NOT NULL") == salvaged
    assert result.counts["post"]["failed_pages"] == 1


def test_a_cut_comment_is_kept_incomplete_and_out_of_search(make_server, client, db) -> None:
    server = make_server(_site(posts=3, comments=120))
    Proxy(server, {7}, collection="/wp/v2/comments", cut=lambda text: text.index("on the fr") + 9)
    result = harvest_site(db, client, server.home + "/")
    assert result.counts["comments"]["incomplete"] == 1 and result.status == "partial"
    comment = db["comments"].get("1-7")
    assert comment["content_html"] == "Comment 7 on the fr" and comment["incomplete"].startswith(
        "the response broke off in content.rendered")
    assert db.execute("SELECT count(*) FROM comments WHERE incomplete IS NULL").fetchone()[0] == 119
    hits = db.execute("SELECT count(*) FROM comments_fts JOIN comments c ON c.rowid = comments_fts.rowid "
                      "WHERE comments_fts MATCH 'comment' AND c.incomplete IS NULL").fetchone()[0]
    from wparchive.db.queries import live_count_sql
    assert db.execute(live_count_sql({}), {"q": "comment"}).fetchone()[0] == hits == 119


def test_with_concurrency_a_cut_page_costs_nothing_more(make_server, db) -> None:
    server = make_server(_site())
    Proxy(server, {1})
    client = Client(delay=0, timeout=5, concurrency=4)
    assert harvest_site(db, client, server.home + "/").counts["post"]["incomplete"] == 1
    assert _count(db, "type = 'post' AND incomplete IS NULL") == 249
    assert len(_posts_requests(server)) == 12  # as without concurrency: pages 2 and 3 were fetched once


def test_a_failed_first_page_without_headers_is_probed_past(make_server, client, db) -> None:
    """A cache that strips X-WP-* and a first page that fails for good: page 2 is looked at anyway."""
    server = make_server(_site())

    def strip(query, headers, data):  # type: ignore[no-untyped-def]
        for name in ("X-WP-Total", "X-WP-TotalPages", "Link"):
            headers.pop(name, None)
        return data

    _rewrite_posts(server, strip)
    failing = {"on": True}
    server.fault = lambda path, query: (502, {}, b"<h1>Bad gateway</h1>") if failing["on"] and path.endswith(
        "/wp/v2/posts") and query.get("page") == "1" else None
    first = harvest_site(db, Client(delay=0, timeout=5, retries=0), server.home + "/")
    assert first.status == "partial" and _count(db) == 150 and first.counts["post"]["failed_pages"] == 1
    assert [p.rsplit("page=", 1)[1] for p in _posts_requests(server)] == ["1", "2", "3"]
    [error] = _errors(db)
    assert error["status"] == 502 and error["retry"] == 1
    failing["on"] = False
    assert harvest_site(db, client, server.home + "/").status == "ok" and _count(db) == 250


def test_a_failed_middle_page_without_headers_is_probed_past(make_server, client, db) -> None:
    server = make_server(_site())
    _rewrite_posts(server, lambda query, headers, data: [headers.clear(), data][1])
    server.fault = lambda path, query: (200, {"Content-Type": "text/html"}, b"<h1>Maintenance</h1>") if path.endswith(
        "/wp/v2/posts") and query.get("page") == "2" else None
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "partial" and _count(db) == 150  # pages 1 and 3: before, page 3 was lost
    assert [p.rsplit("page=", 1)[1] for p in _posts_requests(server)] == ["1", "2", "3"]


# --- Paging that cannot be lied into loops ----------------------------------------------------------

def test_a_server_that_answers_every_page_with_page_one(make_server, client, db) -> None:
    server = make_server(_site())
    first_page: dict[str, Any] = {}
    _rewrite_posts(server, lambda query, headers, data: first_page.setdefault("data", data))
    result = harvest_site(db, client, server.home + "/")
    assert [p.rsplit("page=", 1)[1] for p in _posts_requests(server)] == ["1", "2"]
    assert result.status == "partial" and _count(db) == 100 and result.counts["post"]["failed_pages"] == 1
    [stop] = _errors(db)
    assert stop["reason"] == "repeated_page" and "page=2" in stop["url"] and stop["retry"] == 0
    assert "holds only items of earlier pages" in stop["message"]
    assert db["sync_state"].get((1, "post"))["pass_run_id"] == result.run_id  # nothing tombstoned on its word
    server.rewrite = None
    assert harvest_site(db, client, server.home + "/").status == "ok" and _count(db) == 250


def test_pages_that_go_round_in_a_cycle(make_server, client) -> None:
    server = make_server(_site())
    seen: dict[int, Any] = {}

    def cycle(query, headers, data):  # type: ignore[no-untyped-def]
        page = int(query["page"])
        seen.setdefault(page, data)
        headers["X-WP-TotalPages"] = "10000000"
        return seen[(page - 1) % 2 + 1]  # 1, 2, 1, 2…

    _rewrite_posts(server, cycle)
    stops: list[FetchError] = []
    pages = list(paginate(client, server.api_url("wp/v2/posts"), {"orderby": "id", "order": "asc"},
                          on_failed_page=lambda n, exc: stops.append(exc)))
    assert [p.number for p in pages] == [1, 2] and len(_posts_requests(server)) == 3
    assert [(type(e), e.reason) for e in stops] == [(PaginationStopped, "repeated_page")]


def test_the_same_short_page_with_ten_million_pages_announced(make_server, client) -> None:
    server = make_server(_site())
    first: list[Any] = []

    def same(query, headers, data):  # type: ignore[no-untyped-def]
        headers.update({"X-WP-Total": "1000000000", "X-WP-TotalPages": "10000000"})
        first.extend([] if first else data[:3])
        return first  # the same three posts, whatever the page number

    _rewrite_posts(server, same)
    stops: list[FetchError] = []
    pages = list(paginate(client, server.api_url("wp/v2/posts"), {"orderby": "id", "order": "asc"},
                          on_failed_page=lambda n, exc: stops.append(exc)))
    assert [len(p.items) for p in pages] == [3] and len(_posts_requests(server)) == 2
    assert [(type(e), e.reason) for e in stops] == [(PaginationStopped, "repeated_page")]


def test_a_narrowed_page_interrupted_is_read_again_by_the_next_run(make_server, client, db, interrupt_after) -> None:
    server = make_server(_site())
    Proxy(server, {1})
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C after the third of page 1's smaller pages is saved
        harvest_site(db, client, server.home + "/", progress=interrupt_after("post", 3))
    assert 0 < _count(db) < 100
    server.requests.clear()
    resumed = harvest_site(db, client, server.home + "/")
    # the cut post retried by itself first (still cut), then page 1 again, from its start
    assert resumed.counts["post"]["mode"] == "resumed" and _asked(server)[:2] == ["include=1&1@1", "100@1"]
    assert _count(db, "type = 'post' AND incomplete IS NULL") == 249 and _count(db, "incomplete IS NOT NULL") == 1


@pytest.mark.parametrize("concurrency", [1, 4])
def test_ten_million_pages_announced_are_followed_no_further_than_x_wp_total(make_server, db, concurrency) -> None:
    site = _site(posts=250, comments=150)
    server = make_server(site)

    def rewrite(path, query, status, headers, data):  # type: ignore[no-untyped-def]
        if "X-WP-TotalPages" in headers:
            headers["X-WP-TotalPages"] = "10000000"
        return status, headers, data

    server.rewrite = rewrite
    result = harvest_site(db, Client(delay=0, timeout=5, concurrency=concurrency), server.home + "/")
    assert result.status == "ok" and _count(db) == 250 and db["comments"].count == 150
    pages = {name: [p for p in server.requests if p.split("?")[0].endswith(f"/wp/v2/{name}")]
             for name in ("posts", "tags", "comments")}
    # posts: 3 pages and the look past the last (400); comments: 2 pages and one empty (200 []) past
    # them, where X-WP-Total's 150 comments say there is nothing more
    assert (len(pages["posts"]), len(pages["comments"])) == (4, 3)
    notes = [e for e in db["harvest_errors"].rows if e["reason"] == "implausible_total_pages"]
    assert [n["collection"] for n in notes] == ["comments"] and notes[0]["retry"] == 0
    assert "announces 10000000 pages, but its 150 items fill 2 of 100" in notes[0]["message"]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_empty_pages_announced_without_end_stop_after_a_few(make_server, concurrency) -> None:
    """Comments are followed through empty pages (WordPress hides comments after paging), but not
    forever: X-WP-TotalPages 10,000,000 and no X-WP-Total."""
    server = make_server(_site(posts=3, comments=150))

    def endless(query, headers, data):  # type: ignore[no-untyped-def]
        headers.pop("X-WP-Total", None)
        headers["X-WP-TotalPages"] = "10000000"
        return data

    _rewrite_posts(server, endless, endpoint="/wp/v2/comments")
    client = Client(delay=0, timeout=5, concurrency=concurrency)
    stops: list[FetchError] = []
    pages = list(paginate(client, server.api_url("wp/v2/comments"), {"orderby": "id", "order": "asc"},
                          on_failed_page=lambda n, exc: stops.append(exc), trust_total_pages=True))
    assert sum(len(p.items) for p in pages) == 150
    asked = len([p for p in server.requests if "/wp/v2/comments" in p])
    expected = 2 + MAX_BLIND_PAGES  # two pages with comments, then the empty ones
    assert asked == expected if concurrency == 1 else expected <= asked <= expected + concurrency
    assert [(type(e), e.reason, e.complete) for e in stops] == [(PaginationStopped, "blind_pages", False)]  # type: ignore[attr-defined]


def test_failing_pages_announced_without_end_stop_after_a_few(make_server, db) -> None:
    server = make_server(_site())
    _rewrite_posts(server, lambda query, headers, data: [headers.update(
        {"X-WP-Total": "1000000000", "X-WP-TotalPages": "10000000"}), data][1])
    server.fault = lambda path, query: (500, {"Content-Type": "text/html"}, b"<h1>Error</h1>") if path.endswith(
        "/wp/v2/posts") and query.get("page") not in ("1", None) else None
    result = harvest_site(db, Client(delay=0, timeout=5, retries=0), server.home + "/")
    assert len(_posts_requests(server)) == 1 + MAX_BLIND_PAGES
    assert result.status == "partial" and _count(db) == 100
    reasons = [e["reason"] for e in _errors(db)]
    assert reasons == ["http_500"] * MAX_BLIND_PAGES + ["blind_pages"]
    assert result.counts["post"]["failed_pages"] == MAX_BLIND_PAGES + 1


def test_paging_reports_through_its_callback_in_order(make_server, client) -> None:
    server = make_server(_site())
    Proxy(server, {151})
    events: list[tuple[int, type, int | None]] = []
    pages = list(paginate(client, server.api_url("wp/v2/posts"), {"orderby": "id", "order": "asc"},
                          on_failed_page=lambda n, exc: events.append((n, type(exc), getattr(exc, "wp_id", None)))))
    assert events == [(2, PageNarrowed, None), (2, ItemCutOff, 151)]
    items = [item for page in pages for item in page.items]
    assert sorted(item["id"] for item in items) == list(range(1, 251))  # each once
    [cut] = [item for item in items if item.get("wparchive_incomplete")]
    assert cut["id"] == 151 and [p.number for p in pages] == [1] + [2] * 5 + [3]
