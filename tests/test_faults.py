"""The real web's faults, one test each: a clear message, nothing stored lost, the failure kept with
its bytes, and the next run trying again."""

from __future__ import annotations

import gzip
import json

import pytest
from click.testing import CliRunner

from wparchive.cli import EXIT_FAILED, cli
from wparchive.client import Client
from wparchive.errors import Blocked, FetchError, RedirectedElsewhere, RestDisabled
from wparchive.harvest import harvest_site
from wparchive.sample.server import RawAnswer
from wparchive.sample.site import Item, Site, TermItem


def _site(posts: int = 250) -> Site:
    return Site(items=[Item(i, "post", f"Post {i}", f"<p>Text of post {i}.</p>") for i in range(1, posts + 1)],
                terms=[TermItem(1000 + i, "post_tag", f"tag {i}") for i in range(1, 151)])


def _posts_page(path: str, query: dict[str, str], number: str) -> bool:
    return path.endswith("/wp/v2/posts") and query.get("page") == number and "_fields" not in query


def _count(db, where: str = "type = 'post'") -> int:  # type: ignore[no-untyped-def]
    return db.execute(f"SELECT count(*) FROM posts WHERE {where}").fetchone()[0]


def _errors(db) -> list[dict]:  # type: ignore[no-untyped-def]
    return list(db["harvest_errors"].rows)


def _page_two_fails_then_heals(make_server, client, db, answer, reason: str):  # type: ignore[no-untyped-def]
    """Page 2 of posts answers badly: pages 1 and 3 are kept, the bytes recorded, a rerun mends it."""
    server = make_server(_site())
    broken = {"on": True}
    server.fault = lambda path, query: answer if broken["on"] and _posts_page(path, query, "2") else None
    first = harvest_site(db, client, server.home + "/")
    assert first.status == "partial"
    assert _count(db) == 150
    error = next(e for e in _errors(db) if e["collection"] == "post")
    assert error["reason"] == reason and "page=2" in error["url"] and error["retry"] == 1
    broken["on"] = False
    second = harvest_site(db, client, server.home + "/")
    assert second.status == "ok" and _count(db) == 250
    assert db["harvest_errors"].get(error["id"])["resolved_run_id"] == second.run_id
    return error, first


def test_html_page_instead_of_json(make_server, client, db) -> None:
    page = b"<!DOCTYPE html><html><body><h1>Maintenance</h1></body></html>"
    error, _ = _page_two_fails_then_heals(make_server, client, db, (200, {"Content-Type": "text/html"}, page),
                                          "html_instead_of_json")
    assert error["body"] == page and "HTML page instead of JSON" in error["message"]


def test_body_cut_off_mid_string_records_the_byte_offset(make_server, client, db) -> None:
    # Every answer that holds post 101 breaks off in it, whatever the page size: the page is read again
    # in smaller pages, and only post 101 stays incomplete until the server mends.
    body = b'[{"id": 101, "title": {"rendered": "Post 101"}, "content": {"rendered": "<p>It broke off mid-sen'
    server = make_server(_site())
    broken = {"on": True}

    def cut(path, query):  # type: ignore[no-untyped-def]
        if not (broken["on"] and path.endswith("/wp/v2/posts") and "_fields" not in query):
            return None
        per_page, page = int(query.get("per_page", "10")), int(query.get("page", "1"))
        holds = query["include"] == "101" if "include" in query else (page - 1) * per_page < 101 <= page * per_page
        return (200, {"Content-Type": "application/json"}, body) if holds else None

    server.fault = cut
    first = harvest_site(db, client, server.home + "/")
    assert first.status == "partial"
    assert _count(db, "type = 'post' AND incomplete IS NULL") == 249
    page, item = [e for e in _errors(db) if e["collection"] == "post"]
    for error in (page, item):
        assert error["body"] == body and error["reason"] == "truncated_json"
        assert f"breaks off at byte {len(body)} of {len(body)}" in error["message"]
    assert "page=2" in page["url"] and page["retry"] == 0  # read again in smaller pages
    assert "include=101" in item["url"] and item["retry"] == 1  # the item alone: the next run asks again
    assert any("item 101" in e and "include=101" in e for e in first.errors)
    assert db["posts"].get("1-101")["content_html"] == "<p>It broke off mid-sen"
    broken["on"] = False
    second = harvest_site(db, client, server.home + "/")
    assert second.status == "ok" and _count(db, "type = 'post' AND incomplete IS NULL") == 250
    assert db["harvest_errors"].get(item["id"])["resolved_run_id"] == second.run_id


def test_one_page_failing_with_500_while_the_rest_succeed(make_server, client, db) -> None:
    error, _ = _page_two_fails_then_heals(make_server, client, db, (500, {"Content-Type": "text/html"}, b"<h1>500</h1>"),
                                          "http_500")
    assert error["status"] == 500 and error["body"] == b"<h1>500</h1>"


def test_json_behind_a_byte_order_mark_or_a_php_notice_is_read(make_server, client, db) -> None:
    server = make_server(_site(posts=30))
    notice = (b"<br />\n<b>Notice</b>:  Undefined index: foo in <b>/var/www/wp-content/plugins/x/x.php</b> on line "
              b"<b>12</b><br />\n")

    original_json = server.httpd.RequestHandlerClass._json

    def send_with_noise(handler, status, data, headers=None):  # type: ignore[no-untyped-def]
        body = json.dumps(data).encode()
        if handler.path.split("?")[0].endswith("/wp/v2/posts"):
            body = b"\xef\xbb\xbf" + body
        elif handler.path.split("?")[0].endswith("/wp/v2/tags"):
            body = notice + body
        else:
            return original_json(handler, status, data, headers)
        handler._send(status, {"Content-Type": "application/json", **(headers or {})}, body)

    server.httpd.RequestHandlerClass._json = send_with_noise
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "ok"
    assert _count(db) == 30 and db.execute("SELECT count(*) FROM terms").fetchone()[0] == 150
    repairs = {(e["collection"], e["message"]) for e in _errors(db) if e["reason"] == "repaired"}
    assert ("post", "byte-order mark before the JSON") in repairs
    assert ("post_tag", "PHP notice before the JSON") in repairs
    assert db["harvest_runs"].get(result.run_id)["error_count"] == 0


def test_invalid_utf8_is_replaced_and_the_bytes_kept(make_server, client, db) -> None:
    server = make_server(Site(items=[Item(1, "post", "Caf\u00e9", "<p>ok</p>")]))
    original_json = server.httpd.RequestHandlerClass._json

    def latin1(handler, status, data, headers=None):  # type: ignore[no-untyped-def]
        if handler.path.split("?")[0].endswith("/wp/v2/posts"):
            body = json.dumps(data, ensure_ascii=False).encode("utf-8").replace("Café".encode(), b"Caf\xe9")
            return handler._send(status, {"Content-Type": "application/json", **(headers or {})}, body)
        return original_json(handler, status, data, headers)

    server.httpd.RequestHandlerClass._json = latin1
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "ok"
    assert db["posts"].get("1-1")["title"] == "Caf\ufffd"
    repair = next(e for e in _errors(db) if e["reason"] == "repaired")
    assert "invalid UTF-8" in repair["message"] and b"Caf\xe9" in repair["body"]


def _raw(status: str, headers: dict[str, str], body: bytes, **options: object) -> RawAnswer:
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return RawAnswer(head.encode() + body, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("answer, retried_as", [
    (_raw("200 OK", {"Content-Type": "application/json", "Content-Length": "5000"}, b'[{"id": 1'), "length"),
    (_raw("200 OK", {"Content-Type": "application/json", "Content-Length": "5000"}, b'[{"id": 1', reset=True), "reset"),
    (_raw("200 OK", {"Content-Type": "application/json", "Content-Encoding": "gzip", "Content-Length": "20"},
          b"\x1f\x8b\x08\x00garbage-not-gzip"), "gzip"),
    (_raw("200 OK", {"Content-Type": "application/json", "Content-Length": "100"}, b"[", stall=10), "stall"),
])
def test_broken_transfers_are_retried_then_succeed(make_server, sleeps, db, answer, retried_as) -> None:
    server = make_server(_site(posts=30))
    failures = {"left": 1}

    def once(path, query):  # type: ignore[no-untyped-def]
        if _posts_page(path, query, "1") and failures["left"]:
            failures["left"] -= 1
            return answer
        return None

    server.fault = once
    # Only the stalled answer may run into the timeout: every other request of the harvest must
    # be far inside it, or a slow moment of the machine makes a second retry (and the counts below
    # fail). A short timeout for all of them was a race with the machine's load.
    client = Client(delay=0, timeout=3 if retried_as == "stall" else 30, retries=2, sleep=sleeps)
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "ok", result.errors
    assert _count(db) == 30
    # it waited once, then asked for the same page again
    assert len(sleeps.calls) == 1
    assert [p for p in server.requests if "/wp/v2/posts" in p].count(
        "/wp-json/wp/v2/posts?orderby=id&order=asc&per_page=100&page=1") == 2


def test_a_transfer_that_keeps_breaking_is_recorded(make_server, sleeps, db) -> None:
    server = make_server(_site())
    broken = _raw("200 OK", {"Content-Type": "application/json", "Content-Encoding": "gzip", "Content-Length": "20"},
                  b"\x1f\x8b\x08\x00garbage-not-gzip")
    server.fault = lambda path, query: broken if _posts_page(path, query, "2") else None
    result = harvest_site(db, Client(delay=0, timeout=2, retries=1, sleep=sleeps), server.home + "/")
    assert result.status == "partial" and _count(db) == 150
    error = next(e for e in _errors(db) if e["collection"] == "post")
    assert "compressed body is broken" in error["message"] and error["retry"] == 1


def test_gzip_that_is_whole_is_fine(make_server, client, db) -> None:
    server = make_server(_site(posts=3))

    def gzipped(handler, status, data, headers=None):  # type: ignore[no-untyped-def]
        body = gzip.compress(json.dumps(data).encode())
        handler._send(status, {"Content-Type": "application/json", "Content-Encoding": "gzip", **(headers or {})}, body)

    server.httpd.RequestHandlerClass._json = gzipped
    assert harvest_site(db, client, server.home + "/").status == "ok" and _count(db) == 3


def test_wordfence_503_page_is_named_after_retries(make_server, client, sleeps, db) -> None:
    server = make_server(_site(posts=10))
    page = b"<html><title>Your access to this site has been limited</title>Generated by Wordfence</html>"
    server.fault = lambda path, query: (503, {"Content-Type": "text/html"}, page) if path.endswith("/wp/v2/posts") else None
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "partial"
    assert len(sleeps.calls) == client.retries  # 503 is retried, with backoff
    message = next(e for e in result.errors if e.startswith("post:"))
    assert "Wordfence refused" in message and "User-Agent" in message
    assert next(e for e in _errors(db) if e["collection"] == "post")["body"] == page


def test_cloudflare_challenge_is_not_retried_and_is_named(make_server, client, sleeps, db_path) -> None:
    server = make_server(_site(posts=10))
    server.fault = lambda path, query: (403, {"cf-mitigated": "challenge", "Server": "cloudflare",
                                              "Content-Type": "text/html"}, b"<html>Just a moment...</html>")
    with pytest.raises(Blocked, match="Cloudflare challenge"):
        harvest_site(__import__("wparchive.db", fromlist=["open_db"]).open_db(db_path), client, server.home + "/")
    assert sleeps.calls == [] and len(server.requests) == 1
    result = CliRunner().invoke(cli, ["harvest", server.home + "/", "--db", db_path, "--delay", "0"])
    assert result.exit_code == EXIT_FAILED
    assert "Cloudflare challenge" in result.stderr and "cannot pass browser challenges" in result.stderr


def test_rest_disabled_is_diagnosed_and_the_fallback_used(make_server, client, db) -> None:
    server = make_server(_site(posts=5))
    refusal = json.dumps({"code": "rest_cannot_access", "message": "Only authenticated users can access the REST API.",
                          "data": {"status": 401}}).encode()
    server.fault = lambda path, query: (401, {"Content-Type": "application/json"}, refusal) \
        if "wp-json" in path or "rest_route" in query else None
    result = harvest_site(db, client, server.home + "/")
    assert any("rest_cannot_access" in note and "reading the feed" in note for note in result.notes)
    assert result.status == "ok" and _count(db) == 5
    server.fault = lambda path, query: (401, {"Content-Type": "application/json"}, refusal) \
        if "wp-json" in path or "rest_route" in query else (404, {}, b"") if path.startswith("/feed") else None
    with pytest.raises(RestDisabled, match="rest_cannot_access"):
        harvest_site(db, client, server.home + "/")


def test_wp_json_404_while_rest_route_works(make_server, client, db) -> None:
    server = make_server(_site(posts=5), permalinks="plain", link_header=False, link_tag=False)
    assert harvest_site(db, client, server.home + "/").status == "ok"
    assert _count(db) == 5


def test_redirects_within_the_site_are_followed_and_others_refused(make_server, client, db) -> None:
    server = make_server(_site(posts=5))
    server.fault = lambda path, query: (301, {"Location": f"http://localhost:{server.port}/"}, b"") \
        if path == "/moved/" else None
    with pytest.raises(RedirectedElsewhere) as caught:
        client.get(server.home + "/moved/")
    assert caught.value.target == f"http://localhost:{server.port}/" and "another host" in str(caught.value)
    assert not any(h.get("Host", "").startswith("localhost") for h in server.request_headers)
    server.fault = lambda path, query: {"/a": (302, {"Location": "/b"}, b""), "/b": (302, {"Location": "/a"}, b"")}.get(path)
    with pytest.raises(FetchError, match="redirect loop"):
        client.get(server.home + "/a")
    server.fault = lambda path, query: (301, {"Location": server.home + "/"}, b"") if path == "/old-home/" else None
    assert harvest_site(db, client, server.home + "/old-home/").status == "ok"


def test_redirect_to_https_without_tls_says_so(make_server, sleeps) -> None:
    server = make_server(_site(posts=1))
    server.fault = lambda path, query: (301, {"Location": f"https://127.0.0.1:{server.port}/"}, b"")
    with pytest.raises(FetchError, match="no TLS on that port|TLS/SSL error"):
        Client(delay=0, retries=0, sleep=sleeps, timeout=2).get(server.home + "/")


@pytest.mark.parametrize("lie, tag_pages", [(lambda pages: pages + 8, [1, 2, 3]), (lambda pages: 1, [1, 2])],
                         ids=["larger", "smaller"])
def test_x_wp_totalpages_larger_or_smaller_than_the_truth(make_server, client, db, lie, tag_pages) -> None:
    server = make_server(_site())

    def rewrite(path, query, status, headers, data):  # type: ignore[no-untyped-def]
        if "X-WP-TotalPages" in headers:
            headers["X-WP-TotalPages"] = str(lie(int(headers["X-WP-TotalPages"])))
        return status, headers, data

    server.rewrite = rewrite
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "ok"
    assert _count(db) == 250 and db.execute("SELECT count(*) FROM terms").fetchone()[0] == 150
    # 150 tags: a short page ends it when no more are announced, an empty one when more are
    assert [int(p.rsplit("page=", 1)[1]) for p in server.requests if "/wp/v2/tags" in p] == tag_pages


def test_the_same_item_on_two_pages_is_stored_once(make_server, client, db) -> None:
    server = make_server(_site())

    def repeat(path, query, status, headers, data):  # type: ignore[no-untyped-def]
        if _posts_page(path, query, "2") and isinstance(data, list):
            data = [{**data[0], "id": 100}] + data[1:]  # the last item of page 1, again
        return status, headers, data

    server.rewrite = repeat
    assert harvest_site(db, client, server.home + "/").status == "ok"
    assert db.execute("SELECT count(*) FROM posts WHERE wp_id = 100").fetchone()[0] == 1


def test_items_with_missing_fields_or_wrong_types(make_server, client, db) -> None:
    server = make_server(_site(posts=4))

    def damage(path, query, status, headers, data):  # type: ignore[no-untyped-def]
        if path.endswith("/wp/v2/posts") and isinstance(data, list) and len(data) == 4:
            data[0] = {"id": 1}  # almost nothing
            data[1] = {**data[1], "title": 5, "author": "nobody", "categories": "x", "content": None}
            data[2] = {**data[2], "id": "three"}  # no usable id
        return status, headers, data

    server.rewrite = damage
    result = harvest_site(db, client, server.home + "/")
    assert db["posts"].get("1-1")["title"] == ""
    damaged = db["posts"].get("1-2")
    assert damaged["title"] == "" and damaged["author"] is None
    assert json.loads(damaged["invalid_fields"]) == ["author", "title"]
    assert json.loads(db["raw_json"].get(("posts", "1-2"))["json"])["title"] == 5  # nothing lost
    assert result.status == "partial" and _count(db, "1") == 3  # the almost empty one has no type
    assert next(e for e in _errors(db) if e["reason"] == "invalid_item")["body"].startswith(b'{"id": "three"')


def test_a_10_mb_item(make_server, client, db) -> None:
    big = "<p>" + "compost " * 1_300_000 + "</p>"
    server = make_server(Site(items=[Item(1, "post", "Huge", big), Item(2, "post", "Small", "<p>x</p>")]))
    assert harvest_site(db, client, server.home + "/").status == "ok"
    assert db["posts"].get("1-1")["word_count"] == 1_300_000


def test_an_empty_collection(make_server, client, db) -> None:
    server = make_server(Site())
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "ok" and result.counts["post"]["total"] == 0 and _count(db) == 0


def test_a_plugin_lowered_per_page_maximum(make_server, client, db) -> None:
    server = make_server(_site())

    def cap(path, query):  # type: ignore[no-untyped-def]
        if path.startswith("/wp-json/wp/v2/") and int(query.get("per_page", "10")) > 40:
            body = json.dumps({"code": "rest_invalid_param", "message": "Invalid parameter(s): per_page",
                               "data": {"status": 400, "params": {
                                   "per_page": "per_page must be between 1 (inclusive) and 40 (inclusive)"}}})
            return 400, {"Content-Type": "application/json"}, body.encode()
        return None

    server.fault = cap
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "ok" and _count(db) == 250
    # refused at 100, then 40 a page to the end
    per_page = [int(p.split("per_page=")[1].split("&")[0]) for p in server.requests if "/wp/v2/posts" in p]
    assert per_page == [100] + [40] * 7


def test_wordpress_com_sites_go_through_its_public_api(make_server, client, db, monkeypatch) -> None:
    api = make_server()
    monkeypatch.setenv("WPARCHIVE_WPCOM_API", api.home)
    result = harvest_site(db, client, "https://allotment.wordpress.com/2023/03/the-compost-question/")
    assert result.status == "ok", result.errors
    assert result.api_root == f"{api.home}/wp/v2/sites/allotment.wordpress.com/"
    assert all(path.startswith(("/rest/v1.1/sites/allotment.wordpress.com", "/wp/v2/sites/allotment.wordpress.com/"))
               for path in api.requests)
    site = db["sites"].get(result.site_id)
    assert site["home"] == "https://allotment.wordpress.com" and site["name"] == "The Allotment Almanac"
    assert _count(db) == 24


def test_a_mapped_domain_with_the_wpcom_flag(make_server, db_path, monkeypatch) -> None:
    api = make_server()
    monkeypatch.setenv("WPARCHIVE_WPCOM_API", api.home)
    result = CliRunner().invoke(cli, ["harvest", "https://garden.example/", "--wpcom", "--db", db_path,
                                      "--delay", "0", "--quiet"])
    assert result.exit_code == 0, result.output
    assert any(path.startswith("/wp/v2/sites/garden.example/posts") for path in api.requests)


def test_an_item_listing_a_term_twice(make_server, client, db) -> None:
    server = make_server(Site(items=[Item(1, "post", "Twice", "<p>x</p>", terms={"post_tag": [5, 5]})],
                              terms=[TermItem(5, "post_tag", "twice")]))
    assert harvest_site(db, client, server.home + "/").status == "ok"
    assert db.execute("SELECT count(*) FROM post_terms").fetchone()[0] == 1
    assert json.loads(db["posts"].get("1-1")["tags"]) == ["twice"]
