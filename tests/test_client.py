"""The HTTP client: retries, Retry-After, timeouts, politeness, pagination, URL building."""

from __future__ import annotations

import socket
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from wparchive import USER_AGENT
from wparchive.client import Client, route_url, with_params
from wparchive.pagination import paginate
from wparchive.responses import retry_after_seconds
from wparchive.errors import AccessDenied, BadResponseError, FetchError, HostUnreachable, InvalidParam
from wparchive.sample.site import CommentItem, Item, Site, TermItem


def test_retry_after_in_seconds_and_as_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds("120", now) == 120.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_503_is_retried_with_exponential_backoff(server, client, sleeps) -> None:
    failures = iter([503, 503])
    server.fault = lambda path, query: (next(failures, None) and (503, {"Content-Type": "text/html"}, b"busy")) or None
    response, data = client.get_json(server.api_root)
    assert data["name"] == "The Allotment Almanac"
    assert sleeps.calls == [1.0, 2.0]
    assert len(server.requests) == 3


def test_429_waits_as_long_as_retry_after_says(server, client, sleeps) -> None:
    answers = iter([(429, {"Retry-After": "7"}, b""), None])
    server.fault = lambda path, query: next(answers)
    client.get_json(server.api_root)
    assert sleeps.calls == [7.0]


def test_429_with_http_date(server, client, sleeps) -> None:
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=20), usegmt=True)
    answers = iter([(429, {"Retry-After": when}, b""), None])
    server.fault = lambda path, query: next(answers)
    client.get_json(server.api_root)
    assert len(sleeps.calls) == 1 and 15 <= sleeps.calls[0] <= 20


def test_retries_run_out_and_the_last_answer_is_an_error(server, client, sleeps) -> None:
    server.fault = lambda path, query: (500, {"Content-Type": "text/html"}, b"<h1>Error</h1>")
    with pytest.raises(FetchError) as caught:
        client.get_json(server.api_root)
    assert caught.value.status == 500 and caught.value.body == b"<h1>Error</h1>"
    assert len(server.requests) == 4  # one try and three retries
    assert sleeps.calls == [1.0, 2.0, 4.0]


def test_404_is_not_retried(server, client, sleeps) -> None:
    with pytest.raises(FetchError) as caught:
        client.get_json(server.home + "/wp-json/nope/v1/none")
    assert caught.value.status == 404
    assert len(server.requests) == 1 and sleeps.calls == []


def test_wordpress_error_codes_become_their_exceptions(server, client) -> None:
    with pytest.raises(InvalidParam) as caught:
        client.get_json(server.api_url("wp/v2/posts"), {"per_page": 101})
    assert caught.value.code == "rest_invalid_param" and caught.value.status == 400
    with pytest.raises(AccessDenied):
        client.get_json(server.api_url("wp/v2/blocks"))


def test_html_instead_of_json_keeps_the_bytes(server, client) -> None:
    server.fault = lambda path, query: (200, {"Content-Type": "text/html"}, b"<html>maintenance</html>")
    with pytest.raises(BadResponseError) as caught:
        client.get_json(server.api_root)
    assert caught.value.body == b"<html>maintenance</html>"


def test_connection_refused_fails_at_once(sleeps) -> None:
    # A host that is down stays down for the minutes retries with backoff would wait.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = Client(delay=0, retries=5, sleep=sleeps, timeout=2)
    with pytest.raises(HostUnreachable, match=f"^connection refused \\(http://127.0.0.1:{port}\\)$"):
        client.get(f"http://127.0.0.1:{port}/")
    assert sleeps.calls == []
    assert client.requests_made == 1


def test_a_host_name_not_found_fails_at_once(sleeps, monkeypatch) -> None:
    def no_such_host(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)  # what the resolver says of a name that is no host
    client = Client(delay=0, retries=5, sleep=sleeps, timeout=2)
    with pytest.raises(HostUnreachable, match=r"^host name not found \(http://wp.example.invalid\)$"):
        client.get("http://wp.example.invalid/")
    assert sleeps.calls == []


def test_every_request_has_a_timeout(sleeps) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_stall() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_stall, daemon=True)
    thread.start()
    try:
        client = Client(delay=0, retries=1, sleep=sleeps, timeout=1)
        with pytest.raises(FetchError, match="timed out"):
            client.get(f"http://127.0.0.1:{listener.getsockname()[1]}/")
        assert len(accepted) == 2
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def test_user_agent_names_the_tool_its_version_and_project(server, client) -> None:
    client.get(server.api_root)
    assert server.request_headers[-1]["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("wparchive/") and "+https://" in USER_AGENT


def test_polite_delay_between_requests(server, sleeps) -> None:
    client = Client(delay=0.25, sleep=sleeps)
    client.get(server.api_root)
    client.get(server.api_root)
    assert len(sleeps.calls) == 1 and 0 < sleeps.calls[0] <= 0.25


def _many_posts(count: int) -> Site:
    return Site(items=[Item(i, "post", f"Post {i}", f"<p>Body {i}</p>") for i in range(1, count + 1)],
                terms=[TermItem(i, "post_tag", f"tag {i}") for i in range(1, count + 1)])


@pytest.mark.parametrize("collection", ["wp/v2/posts", "wp/v2/tags"])
def test_pagination_reads_every_page_and_stops_at_the_end(make_server, client, collection) -> None:
    server = make_server(_many_posts(250))
    pages = list(paginate(client, server.api_url(collection), {"orderby": "id", "order": "asc"}))
    assert [len(p.items) for p in pages] == [100, 100, 50]
    assert [p.total for p in pages] == [250, 250, 250] and pages[0].total_pages == 3
    assert [item["id"] for p in pages for item in p.items] == list(range(1, 251))


def test_past_the_end_is_not_an_error_for_either_kind_of_collection(make_server, client) -> None:
    server = make_server(_many_posts(200))  # exactly two full pages: a third request is needed to learn
    server_pages_posts = list(paginate(client, server.api_url("wp/v2/posts"), per_page=100, start_page=3))
    server_pages_tags = list(paginate(client, server.api_url("wp/v2/tags"), per_page=100, start_page=3))
    assert server_pages_posts == []  # 400 rest_post_invalid_page_number
    assert [p.items for p in server_pages_tags] == [[]]  # 200 []


def test_route_urls_in_both_permalink_modes() -> None:
    assert route_url("http://h/blog/wp-json/", "/wp/v2/posts") == "http://h/blog/wp-json/wp/v2/posts"
    assert (route_url("http://h/index.php?rest_route=/", "/wp/v2/posts")
            == "http://h/index.php?rest_route=/wp/v2/posts")
    assert (with_params("http://h/index.php?rest_route=/wp/v2/posts", {"page": 2})
            == "http://h/index.php?rest_route=/wp/v2/posts&page=2")


def test_a_short_page_is_not_the_end_while_more_pages_are_announced(make_server, client) -> None:
    # WordPress pages comments first and hides those on unreadable posts afterwards.
    site = Site(items=[Item(1, "post", "Open"), Item(2, "post", "Locked", password="x")],
                comments=[CommentItem(i, 2 if i <= 10 else 1, f"comment {i}") for i in range(1, 151)])
    server = make_server(site)
    pages = list(paginate(client, server.api_url("wp/v2/comments"), {"orderby": "id", "order": "asc"}))
    assert [len(p.items) for p in pages] == [90, 50]
    assert pages[0].total == 150
