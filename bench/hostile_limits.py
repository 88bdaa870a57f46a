"""Memory and time of `wparchive harvest` against hostile servers, with the default limits.

    python bench/hostile_limits.py                # every scenario, once
    python bench/hostile_limits.py --only bomb    # one of them

Each scenario is a WordPress-like site on 127.0.0.1 (200 posts, 2 pages) whose second page of
posts is hostile; `wparchive harvest` runs in a process of its own (--workers 2, so cleaning
workers are in the tree too). Every 20 ms the tree is walked in /proc and each process's peak
RSS so far (VmHWM, which a short spike between two looks cannot escape) is kept; reported is the
sum of those peaks over parent and children (an upper bound: shared pages count in each, and
the peaks need not coincide), and the wall time of the run.

- bomb: a gzip of a gzip of 1 GB of zeros (about 3 KB on the wire), against the 64 MB cap.
- over the cap: 200 MB of JSON sent as it is, against the 64 MB cap.
- under the cap: 60 MB of JSON, 100 posts of 600 KB each, read, cleaned and stored (the biggest
  page a default harvest accepts).
- deep: a body nested 100,000 levels deep.
- trickle: the page sends one byte every 0.2 s; --timeout 5 and --retries 1, so it is given up
  after two attempts.
"""

from __future__ import annotations

import argparse
import gzip
import json
import socket
import tempfile
import threading
import zlib
from pathlib import Path
from typing import Any

from proctree import MB, run
from wparchive.sample.server import WordPressServer
from wparchive.sample.site import Item, Site, UserItem

def trickler() -> tuple[str, threading.Event]:
    """A server on 127.0.0.1 that answers every request with headers, then a byte every 0.2 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(sock: socket.socket) -> None:
        with sock:
            sock.recv(65536)
            try:
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[")
                while not stop.wait(0.2):
                    sock.sendall(b" ")
            except OSError:
                pass

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                threading.Thread(target=serve, args=(listener.accept()[0],), daemon=True).start()
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/", stop


def page_of(posts: list[dict[str, Any]]) -> bytes:
    return json.dumps(posts).encode()


def scenarios(slow_url: str) -> dict[str, tuple[Any, list[str]]]:
    """name: (the answer to page 2 of posts, extra arguments)."""
    member = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    member_bytes = b"".join([member.compress(bytes(MB)) for _ in range(64)] + [member.flush()])
    bomb = gzip.compress(member_bytes * 16, 9)  # 16 members of 64 MB, compressed again: 1 GB inflated twice
    post = {"id": 0, "type": "post", "status": "publish", "date_gmt": "2024-01-01T12:00:00",
            "modified_gmt": "2024-01-01T12:00:00", "slug": "s", "link": "http://x/", "title": {"rendered": "T"}}
    paragraph = "<p>Compost needs air and water, and patience; turned every week since March.</p>\n"
    under = page_of([{**post, "id": 1000 + i, "content": {"rendered": paragraph * (600 * 1024 // len(paragraph))}}
                     for i in range(100)])
    over = page_of([{**post, "id": 2000, "content": {"rendered": "x" * 200 * MB}}])
    deep = b"[" * 100_000 + b"]" * 100_000
    json_type = {"Content-Type": "application/json"}
    return {
        "bomb": ((200, {**json_type, "Content-Encoding": "gzip, gzip"}, bomb), []),
        "over the cap": ((200, json_type, over), []),
        "under the cap": ((200, json_type, under), []),
        "deep": ((200, json_type, deep), []),
        "trickle": ((302, {"Location": slow_url}, b""), ["--timeout", "5", "--retries", "1"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="one scenario")
    args = parser.parse_args()
    slow_url, stop = trickler()
    site = Site(items=[Item(i, "post", f"Post {i}", f"<p>Body {i}</p>") for i in range(1, 201)],
                users=[UserItem(1, "Margit Okafor")])
    folder = Path(tempfile.mkdtemp())
    print("| scenario | wire size | exit code | peak RSS, process tree, MB | seconds |")
    print("|---|---|---|---|---|")
    for name, (answer, extra) in scenarios(slow_url).items():
        if args.only and name != args.only:
            continue
        with WordPressServer(site) as server:
            server.httpd.handle_error = lambda request, address: None  # a hang-up is what we want of the client
            server.fault = lambda path, query, answer=answer: answer if (
                path.endswith("/wp/v2/posts") and query.get("page") == "2") else None
            rss, _, seconds, code = run(["harvest", server.home + "/", "--db", str(folder / f"{name}.db"),
                                      "--delay", "0", "--workers", "2", "-q", *extra])
        print(f"| {name} | {len(answer[2]) / MB:.3f} MB | {code} | {rss:.0f} | {seconds:.1f} |")
    stop.set()


if __name__ == "__main__":
    main()
