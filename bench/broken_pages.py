"""What broken and lying pages cost: salvaging cut-off bodies, and harvests of sites whose pages break or lie.

    python bench/broken_pages.py

1. salvage_list on a body cut off in a post's content of 1, 10 and 50 MB: seconds, and the peak of
   Python's allocations while it runs (tracemalloc), beside the body's size.
2. Harvests, on 127.0.0.1 with --delay 0, of 1,000 posts: sane; with one post in every hundred cut
   off in its content in every answer that holds it (as a truncating proxy does); and with
   X-WP-TotalPages 10,000,000 on every answer, comments included. Requests and seconds for each.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from wparchive.client import Client  # noqa: E402
from wparchive.db import open_db  # noqa: E402
from wparchive.harvest import harvest_site  # noqa: E402
from wparchive.salvage import salvage_list  # noqa: E402
from wparchive.sample.server import WordPressServer  # noqa: E402
from wparchive.sample.site import CommentItem, Item, Site  # noqa: E402


def salvage_costs() -> None:
    print("salvage_list on a body cut off in the content of a post")
    print(f"{'content':>10} {'seconds':>8} {'peak MB':>8}")
    for megabytes in (1, 10, 50):
        text = "compost heap and leaf mould " * (megabytes * 1_000_000 // 28)
        post = {"id": 1, "date": "2024-01-01T12:00:00", "slug": "big", "title": {"rendered": "Big"},
                "content": {"rendered": f"<p>{text}</p>"}}
        body = json.dumps([post]).encode()
        body = body[:len(body) * 9 // 10]
        tracemalloc.start()
        started = time.perf_counter()
        found = salvage_list(body)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert found is not None and found.partial is not None and found.partial["id"] == 1
        print(f"{megabytes:>8} MB {seconds:>8.2f} {peak / 1e6:>8.0f}")


def _site() -> Site:
    return Site(items=[Item(i, "post", f"Post {i}", f"<p>The first frost came early, and post {i} was lost.</p>")
                       for i in range(1, 1001)],
                comments=[CommentItem(c, 1 + c % 1000, f"Comment {c}") for c in range(1, 301)])


def _cut_every_hundredth(server: WordPressServer) -> None:
    original = server.httpd.RequestHandlerClass._json

    def send(handler: Any, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        if handler.path.split("?")[0].endswith("/wp/v2/posts") and isinstance(data, list):
            hit = next((i for i, item in enumerate(data) if item.get("id", 0) % 100 == 50 and "content" in item), None)
            if hit is not None:
                text = json.dumps(data[:hit + 1])
                cut = text.index("and post", text.index(f'"id": {data[hit]["id"]},'))
                handler._send(status, {"Content-Type": "application/json", **(headers or {})}, text[:cut].encode())
                return
        original(handler, status, data, headers)

    server.httpd.RequestHandlerClass._json = send


def _lie(server: WordPressServer) -> None:
    def rewrite(path: str, query: dict[str, str], status: int, headers: dict[str, str], data: Any) -> Any:
        if "X-WP-TotalPages" in headers:
            headers["X-WP-TotalPages"] = "10000000"
        return status, headers, data

    server.rewrite = rewrite


def harvest_costs() -> None:
    print("\nharvests of 1,000 posts and 300 comments")
    print(f"{'site':<38} {'status':<8} {'requests':>8} {'seconds':>8} {'whole':>6} {'incomplete':>10}")
    for name, spoil in (("sane", None), ("1 post in 100 cut off in every answer", _cut_every_hundredth),
                        ("X-WP-TotalPages: 10000000 everywhere", _lie)):
        with tempfile.TemporaryDirectory() as folder, WordPressServer(_site()) as server:
            if spoil is not None:
                spoil(server)
            db = open_db(str(Path(folder) / "archive.db"))
            client = Client(delay=0, timeout=10)
            started = time.perf_counter()
            result = harvest_site(db, client, server.home + "/")
            seconds = time.perf_counter() - started
            whole = db.execute("SELECT count(*) FROM posts WHERE incomplete IS NULL").fetchone()[0]
            cut = db.execute("SELECT count(*) FROM posts WHERE incomplete IS NOT NULL").fetchone()[0]
            print(f"{name:<38} {result.status:<8} {client.requests_made:>8} {seconds:>8.1f} {whole:>6} {cut:>10}")


if __name__ == "__main__":
    salvage_costs()
    harvest_costs()
