"""Bounded whatever the server does: response bodies are capped (counted decompressed, so a gzip
bomb stops at the cap), every request ends by its deadline however slowly the server sends, and
JSON values SQLite or Python cannot hold are replaced and noted, never a traceback.

Times are not measured here, only bounded generously enough to prove that something stops:
bench/hostile_limits.py measures memory and time.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import tracemalloc
import zlib
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from wparchive.cli import EXIT_PARTIAL, cli
from wparchive.client import Client
from wparchive.errors import FetchError, ResponseTooLarge
from wparchive.harvest import harvest_site
from wparchive.media import download_media
from wparchive.sample.site import Item, Site, UserItem, tiny_png

MB = 1024 * 1024


def _site(posts: int = 3) -> Site:
    return Site(items=[Item(i, "post", f"Post {i}", f"<p>Body {i}</p>") for i in range(1, posts + 1)],
                users=[UserItem(1, "Margit Okafor")])


def _posts_page(path: str, query: dict[str, str], page: str = "1") -> bool:
    return path.endswith("/wp/v2/posts") and query.get("page") == page


def _errors(db) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    return list(db["harvest_errors"].rows)


def _count(db, table: str = "posts") -> int:  # type: ignore[no-untyped-def]
    return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


# --- gzip bombs ----------------------------------------------------------------------------------------


def _gzip_of_zeros(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MB)
    return b"".join([compressor.compress(block) for _ in range(size // MB)] + [compressor.flush()])


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    """Bodies that inflate far beyond what they weigh: 64 MB in one gzip member (64 KB), a gigabyte
    of gzip members compressed again ("gzip, gzip": 3 KB), and 64 MB as deflate."""
    member = _gzip_of_zeros(64 * MB)
    deflate = zlib.compressobj(9)
    return {
        "gzip": member,
        "gzip, gzip": gzip.compress(member * 16, 9),  # 16 members of 64 MB: 1 GB inflated twice
        "deflate": b"".join([deflate.compress(bytes(MB)) for _ in range(64)] + [deflate.flush()]),
    }


@pytest.mark.parametrize("encoding", ["gzip", "gzip, gzip", "deflate"])
def test_a_compression_bomb_stops_at_the_cap(make_server, bombs, encoding) -> None:
    server = make_server(_site())
    body = bombs[encoding]
    server.fault = lambda path, query: (200, {"Content-Type": "application/json", "Content-Encoding": encoding},
                                        body) if path == "/bomb" else None
    client = Client(delay=0, retries=0, max_response_bytes=MB)
    tracemalloc.start()
    try:
        with pytest.raises(ResponseTooLarge) as caught:
            client.get(server.home + "/bomb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "over the 1 MB limit" in str(caught.value) and caught.value.reason == "response_too_large"
    assert len(caught.value.body) <= 64 * 1024  # what is kept of it for harvest_errors
    assert peak < 8 * MB  # a 1 MB cap, pieces of 64 KB: never the 64 MB or 1 GB it inflates to
    assert server.requests == ["/bomb"]  # not retried: it would only be as large again


def test_a_bomb_page_is_read_again_in_smaller_pages_and_nothing_is_lost(make_server, bombs, db) -> None:
    """A proxy that answers one page's URL with a bomb: the page is read again in halves, under other URLs."""
    server = make_server(_site(posts=250))
    server.fault = lambda path, query: (200, {"Content-Type": "application/json", "Content-Encoding": "gzip",
                                              "X-WP-Total": "250", "X-WP-TotalPages": "3"},
                                        bombs["gzip"]) if _posts_page(path, query, "2") and query.get(
                                            "per_page") == "100" else None
    result = harvest_site(db, Client(delay=0, retries=0, max_response_bytes=2 * MB), server.home + "/", workers=1)
    assert result.status == "ok" and _count(db) == 250
    narrowed = [e for e in _errors(db) if e["reason"] == "response_too_large"]
    assert len(narrowed) == 1 and "page=2" in narrowed[0]["url"] and "2 MB limit" in narrowed[0]["message"]
    assert "read again in smaller pages" in narrowed[0]["message"] and narrowed[0]["retry"] == 0
    assert _count(db, "users") == 1  # the other collections went on


def _site_with_a_huge_post(posts: int, huge: int) -> Site:
    site = _site(posts)
    site.items[huge - 1].content = "<p>" + "compost " * 400_000 + "</p>"  # 3 MB: over a 2 MB cap even alone
    return site


def _quiet(server):  # type: ignore[no-untyped-def]
    server.httpd.handle_error = lambda request, address: None  # its own traceback when we hang up: not ours
    return server


def _posts_queries(server) -> list[str]:  # type: ignore[no-untyped-def]
    return [r for r in server.requests if "/wp/v2/posts" in r]


@pytest.mark.parametrize("concurrency", [1, 3])
def test_an_item_over_the_cap_is_recorded_and_the_rest_of_its_page_kept(make_server, db, concurrency) -> None:
    server = _quiet(make_server(_site_with_a_huge_post(250, huge=120)))  # in id order: the 20th of page 2
    client = Client(delay=0, retries=0, max_response_bytes=2 * MB, concurrency=concurrency)
    result = harvest_site(db, client, server.home + "/", workers=1)
    assert result.status == "partial"
    assert _count(db) == 249 and not db.execute("SELECT 1 FROM posts WHERE wp_id = 120").fetchall()
    too_large = [e for e in _errors(db) if e["reason"] == "response_too_large"]
    assert [e["retry"] for e in too_large] == [0, 1]  # the page, read again; the item alone, asked for next run
    assert "per_page=1&" in too_large[1]["url"] + "&" and "page=120" in too_large[1]["url"]
    # halving 100 down to the one item, then the rest at once: a bounded number of requests
    assert len(_posts_queries(server)) <= 3 + 2 * 7 + 2


def test_a_first_page_over_the_cap_is_narrowed_too(make_server, db) -> None:
    server = _quiet(make_server(_site_with_a_huge_post(30, huge=28)))
    result = harvest_site(db, Client(delay=0, retries=0, max_response_bytes=2 * MB), server.home + "/", workers=1)
    assert result.status == "partial" and _count(db) == 29
    failed = [e for e in _errors(db) if e["reason"] == "response_too_large" and e["retry"]]
    assert len(failed) == 1 and "page=28" in failed[0]["url"] and "per_page=1" in failed[0]["url"]


def test_the_next_run_with_a_higher_cap_fetches_the_item_over_it(make_server, db) -> None:
    server = _quiet(make_server(_site_with_a_huge_post(150, huge=20)))
    assert harvest_site(db, Client(delay=0, retries=0, max_response_bytes=2 * MB), server.home + "/",
                        workers=1).status == "partial"
    assert _count(db) == 149
    assert harvest_site(db, Client(delay=0, retries=0, max_response_bytes=4 * MB), server.home + "/",
                        workers=1).status == "ok"
    assert _count(db) == 150 and db.execute("SELECT 1 FROM posts WHERE wp_id = 20").fetchall()


def test_a_body_announced_beyond_the_cap_is_not_read(raw_server) -> None:
    server = raw_server(_trickle(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: 10000000000\r\n\r\n[", b"0,", every=0.01))
    started = time.monotonic()
    with pytest.raises(ResponseTooLarge, match="announces 10,000,000,000 bytes"):
        Client(delay=0, retries=0, timeout=30, max_response_bytes=MB).get(server.url)
    assert time.monotonic() - started < 5  # refused on its headers, not after the 30 s deadline


def test_a_large_body_without_a_length_is_cut_at_the_cap_and_kept_in_part(raw_server) -> None:
    big = json.dumps([{"id": 1, "content": {"rendered": "x" * 3 * MB}}]).encode()
    server = raw_server(lambda sock, stop: sock.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(big)))
    with pytest.raises(ResponseTooLarge, match="it is larger") as caught:
        Client(delay=0, retries=0, max_response_bytes=MB).get(server.url)
    assert caught.value.body == big[:64 * 1024]


def _chunked(body: bytes, size: int = 100_000) -> bytes:
    parts = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_max_response_mb_raises_the_cap_on_the_command_line_and_per_site(make_server, tmp_path) -> None:
    site = _site()
    site.items[1].content = "<p>" + "compost " * 250_000 + "</p>"  # a post of 2 MB
    server = make_server(site)
    server.httpd.handle_error = lambda request, address: None  # its own traceback when we hang up: not ours
    args = ["harvest", server.home + "/", "--delay", "0", "--retries", "0", "--workers", "1"]
    small = CliRunner().invoke(cli, args + ["--db", str(tmp_path / "a.db"), "--max-response-mb", "1"])
    assert small.exit_code == EXIT_PARTIAL and "over the 1 MB limit" in small.stderr
    assert "Traceback" not in small.output
    assert CliRunner().invoke(cli, args + ["--db", str(tmp_path / "b.db"), "--max-response-mb", "3"]).exit_code == 0
    config = tmp_path / "config"
    config.mkdir()
    (config / "sites.toml").write_text(f'[[site]]\nurl = "{server.home}/"\nmax_response_mb = 3\n', encoding="utf-8")
    per_site = CliRunner().invoke(cli, ["harvest", "--config", str(config), "--db", str(tmp_path / "c.db"),
                                        "--delay", "0", "--max-response-mb", "1", "--workers", "1"])
    assert per_site.exit_code == 0, per_site.output


# --- servers that send slowly ----------------------------------------------------------------------------


class RawServer:
    """A socket server on 127.0.0.1 for answers no HTTP server library gives: each connection's
    request is read to the end of its headers, then answer(sock, stop) writes what it likes."""

    def __init__(self, answer: Callable[[socket.socket, threading.Event], None]) -> None:
        self.answer = answer
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.connections = 0
        self._threads: list[threading.Thread] = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except OSError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        with sock:
            request = b""
            while b"\r\n\r\n" not in request and not self.stop.is_set():
                data = sock.recv(65536)
                if not data:
                    return
                request += data
            try:
                self.answer(sock, self.stop)
            except OSError:
                pass  # the client hung up: what it should do

    def close(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.listener.close()


@pytest.fixture
def raw_server():  # type: ignore[no-untyped-def]
    started: list[RawServer] = []

    def start(answer: Callable[[socket.socket, threading.Event], None]) -> RawServer:
        server = RawServer(answer)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def _trickle(head: bytes, drip: bytes, every: float = 0.2, head_drip: bool = False):  # type: ignore[no-untyped-def]
    """An answer that sends head (byte by byte, with head_drip) and then drip every few tenths of
    a second, for ever: each byte comes well within any read timeout."""
    def answer(sock: socket.socket, stop: threading.Event) -> None:
        for byte in ([head[i:i + 1] for i in range(len(head))] if head_drip else [head]):
            sock.sendall(byte)
            if head_drip and stop.wait(every):
                return
        while not stop.wait(every):
            sock.sendall(drip)
    return answer


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"


@pytest.mark.parametrize("where", ["body", "headers"])
def test_a_trickling_server_cannot_hold_a_request_past_the_timeout(raw_server, sleeps, where) -> None:
    server = raw_server(_trickle(HEAD, b" ") if where == "body" else
                        _trickle(b"HTTP/1.1 200 OK\r\n" + b"X-Slow: yes\r\n" * 1000, b"", head_drip=True))
    client = Client(delay=0, retries=1, timeout=1, sleep=sleeps)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out: no whole answer within 1 s \(--timeout\) \(after 2 attempts\)"):
        client.get(server.url)
    assert time.monotonic() - started < 6  # two attempts of 1 s each; the server would go on for hours
    assert server.connections == 2 and len(sleeps.calls) == 1


def test_a_trickle_without_a_length_is_not_taken_for_a_whole_body(raw_server) -> None:
    # The body ends when the connection does: cut at the deadline, it must not look complete.
    server = raw_server(_trickle(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n[1",
                                 b",1"))
    with pytest.raises(FetchError, match="timed out"):
        Client(delay=0, retries=0, timeout=1).get(server.url)


def test_a_trickling_page_is_recorded_and_the_harvest_goes_on(make_server, raw_server, db) -> None:
    server = make_server(_site(posts=250))
    slow = raw_server(_trickle(HEAD + b"[", b" "))
    server.fault = lambda path, query: (302, {"Location": f"http://127.0.0.1:{slow.url.split(':')[2]}"}, b"") \
        if _posts_page(path, query, "2") else None
    started = time.monotonic()
    result = harvest_site(db, Client(delay=0, retries=0, timeout=1), server.home + "/", workers=1)
    assert time.monotonic() - started < 20
    assert result.status == "partial" and _count(db) == 150
    assert any("timed out" in e["message"] and e["retry"] == 1 for e in _errors(db))


def test_a_trickling_media_file_is_recorded_and_the_others_downloaded(make_server, raw_server, db, tmp_path) -> None:
    slow = raw_server(_trickle(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 1000000\r\n\r\n",
                               b"\x89"))
    site = _site()
    site.items[0].content = (f'<p><img src="/wp-content/uploads/a.png"><img src="{slow.url}slow.png">'
                             '<img src="/wp-content/uploads/b.png"></p>')
    site.files.update({"/wp-content/uploads/a.png": tiny_png("a"), "/wp-content/uploads/b.png": tiny_png("b")})
    server = make_server(site)
    result = harvest_site(db, Client(delay=0), server.home + "/", workers=1)
    started = time.monotonic()
    # A deadline short enough for the trickle, long enough that a loaded machine never takes the
    # good files' few bytes for a trickle too (one second was: the test then failed now and then).
    counts = download_media(db, Client(delay=0, retries=0, timeout=3), result.site_id, tmp_path / "media")
    assert time.monotonic() - started < 10
    assert (counts.downloaded, counts.failed) == (2, 1)
    assert "timed out" in db["files"].get(f"{slow.url}slow.png")["error"]
    assert not list((tmp_path / "media").glob(".partial-*"))


# --- JSON values nothing downstream can hold ---------------------------------------------------------------


def _deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


HOSTILE_VALUES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    # name: (what the server does to post 2, what the repair says)
    "integer beyond 64 bits": (lambda p: p.update(meta={"views": 2**70}, featured_media=-(2**64)),
                               "integer beyond 64 bits, replaced by null, 2 times"),
    "NaN and Infinity": (lambda p: p.update(meta={"score": float("nan"), "max": float("inf")}),
                         "NaN or Infinity, replaced by null, 2 times"),
    "lone surrogate": (lambda p: p["title"].update(rendered="Caf\ud800 au lait"),
                       "lone surrogate in a string, replaced by U+FFFD, at $[1].title.rendered"),
    "NUL character": (lambda p: p["content"].update(rendered="<p>one\x00two</p>"),
                      "NUL character in a string, replaced by U+FFFD, at $[1].content.rendered"),
    "nested 300 deep": (lambda p: p.update(meta={"tree": _deep(300)}),
                        "JSON nested deeper than 200 levels, cut off there (null), at $[1].meta.tree"),
}


@pytest.mark.parametrize("name", list(HOSTILE_VALUES))
def test_a_value_sqlite_cannot_hold_is_replaced_noted_and_the_item_stored(make_server, db, name) -> None:
    change, repair = HOSTILE_VALUES[name]
    server = make_server(_site())

    def rewrite(path, query, status, headers, data):  # type: ignore[no-untyped-def]
        if path.endswith("/wp/v2/posts") and isinstance(data, list):
            for item in data:
                if item.get("id") == 2:
                    change(item)
        return status, headers, data

    server.rewrite = rewrite
    for run in range(2):  # and again: a run never fails the same way every time
        result = harvest_site(db, Client(delay=0, retries=0), server.home + "/", workers=1, full=run == 1)
        assert result.status == "ok", result.errors
        assert _count(db) == 3
    repaired = [e for e in _errors(db) if e["reason"] == "repaired"]
    assert repaired and all(e["message"].startswith(repair) for e in repaired), [e["message"] for e in repaired]
    post = db["posts"].get("1-2")
    raw = json.loads(db["raw_json"].get(("posts", "1-2"))["json"])
    if name == "lone surrogate":
        assert post["title"] == "Caf\ufffd au lait"
    if name == "NUL character":
        assert "one\ufffdtwo" in post["content_html"]
    if name == "integer beyond 64 bits":
        assert raw["meta"] == {"views": None} and raw["featured_media"] is None
    if name == "NaN and Infinity":
        assert raw["meta"] == {"score": None, "max": None}


def test_an_id_beyond_64_bits_is_an_invalid_item_the_others_stored(make_server, db) -> None:
    server = make_server(_site())
    server.rewrite = lambda path, query, status, headers, data: (status, headers, [
        {**item, "id": 2**70} if isinstance(item, dict) and item.get("id") == 2 else item for item in data]
        if path.endswith("/wp/v2/posts") and isinstance(data, list) else data)
    result = harvest_site(db, Client(delay=0, retries=0), server.home + "/", workers=1)
    assert result.status == "partial" and _count(db) == 2
    reasons = {e["reason"] for e in _errors(db)}
    assert reasons == {"invalid_item", "repaired"}


@pytest.mark.parametrize("body, reason", [
    (b"[" * 100_000 + b"]" * 100_000, "json_too_deep"),  # Python's parser cannot read it at all
    (b'[{"id": 1' + b"0" * 5000 + b"}]", None),  # an integer int() would refuse: replaced, not a ValueError
])
def test_json_no_parser_can_take_is_never_a_traceback(make_server, db, body, reason) -> None:
    server = make_server(_site())
    server.fault = lambda path, query: (200, {"Content-Type": "application/json", "X-WP-Total": "3",
                                              "X-WP-TotalPages": "1"}, body) if _posts_page(path, query) else None
    result = harvest_site(db, Client(delay=0, retries=0), server.home + "/", workers=1)
    assert result.status == "partial"
    assert _count(db, "users") == 1  # the other collections went on
    reasons = {e["reason"] for e in _errors(db)}
    assert (reason in reasons) if reason else reasons == {"invalid_item", "repaired"}


def test_the_cli_reports_a_hostile_page_in_one_line(make_server, tmp_path) -> None:
    server = make_server(_site())
    server.fault = lambda path, query: (200, {"Content-Type": "application/json"}, b"[" * 100_000) \
        if _posts_page(path, query) else None
    result = CliRunner().invoke(cli, ["harvest", server.home + "/", "--db", str(tmp_path / "a.db"), "--delay", "0",
                                      "--retries", "0", "--workers", "1"])
    assert result.exit_code == EXIT_PARTIAL and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "nested too deeply" in result.stderr
    assert Path(tmp_path / "a.db").exists()
