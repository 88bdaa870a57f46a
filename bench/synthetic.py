"""A synthetic WordPress site for benchmarks, served fast from pre-rendered JSON.

    python bench/synthetic.py --posts 2000 --port 8765     # serve one until Ctrl-C

Posts carry about 10 KB of block-editor HTML each (paragraphs of Zipf-distributed words,
headings, lists, links inside and outside the site, images with captions, a YouTube embed), with
categories, tags, authors and comments. Every item is rendered to JSON bytes once; a page is
those bytes joined, so the server costs almost nothing next to the client.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

WORDS = ("garden compost soil seed water root leaf bean pea tomato onion garlic potato carrot squash pumpkin "
         "apple pear plum cherry berry hedge path shed fence gate bed plot rain sun frost wind spring summer "
         "autumn winter harvest sow plant prune weed mulch worm bee bird slug snail fork spade hoe rake barrow "
         "neighbour volunteer committee meeting market recipe soup jam pickle chutney bread cake tea season "
         "history archive record map parish council library school children family friend visitor tour open "
         "day evening morning week month year field meadow orchard greenhouse polytunnel cloche netting cane").split()


def zipf_words(rng: random.Random, count: int) -> list[str]:
    weights = [1 / (rank + 1) for rank in range(len(WORDS))]
    return rng.choices(WORDS, weights=weights, k=count)


def post_html(rng: random.Random, home: str, wp_id: int, total: int) -> str:
    """About 10 KB of block HTML."""
    parts = []
    for section in range(4):
        parts.append(f'<!-- wp:heading --><h2 class="wp-block-heading">{" ".join(zipf_words(rng, 4)).title()}</h2>'
                     '<!-- /wp:heading -->')
        for _ in range(3):
            words = zipf_words(rng, 60)
            words[10] = f'<a href="{home}/?p={rng.randint(1, total)}">{words[10]}</a>'
            words[30] = f'<a href="https://example.com/{words[31]}/">{words[30]}</a>'
            words[45] = f"<strong>{words[45]}</strong>"
            parts.append(f"<!-- wp:paragraph --><p>{' '.join(words).capitalize()}.</p><!-- /wp:paragraph -->")
        if section == 1:
            items = "".join(f"<li>{' '.join(zipf_words(rng, 6))}</li>" for _ in range(5))
            parts.append(f'<!-- wp:list --><ul class="wp-block-list">{items}</ul><!-- /wp:list -->')
        if section == 2:
            image = rng.randint(1, 10_000)
            parts.append(f'<!-- wp:image --><figure class="wp-block-image size-large"><img src="{home}/wp-content/'
                         f'uploads/2024/05/photo-{image}-1024x683.jpg" alt="{" ".join(zipf_words(rng, 3))}" '
                         f'class="wp-image-{image}" width="1024" height="683"/><figcaption class="wp-element-caption">'
                         f'{" ".join(zipf_words(rng, 7))}</figcaption></figure><!-- /wp:image -->')
        if section == 3 and wp_id % 5 == 0:
            parts.append('<figure class="wp-block-embed is-type-video is-provider-youtube wp-block-embed-youtube">'
                         '<div class="wp-block-embed__wrapper"><iframe src="https://www.youtube.com/embed/'
                         f'v{wp_id}?feature=oembed" width="500" height="281"></iframe></div></figure>')
    return "\n\n".join(parts)


class SyntheticSite:
    """Items of every collection as pre-rendered JSON bytes, ready to be served."""

    def __init__(self, posts: int, seed: int = 1) -> None:
        self.posts = posts
        self.rng = random.Random(seed)
        self.home = ""
        self.items: dict[str, list[tuple[int, str, bytes]]] = {}  # collection → (id, modified_gmt, JSON)

    def render(self, home: str) -> None:
        self.home = home
        rng = self.rng
        categories = [{"id": i, "name": f"Category {i}", "slug": f"category-{i}", "taxonomy": "category",
                       "description": "", "parent": 0, "count": 0, "link": f"{home}/category/{i}/"} for i in range(1, 51)]
        tags = [{"id": 100 + i, "name": f"tag {i}", "slug": f"tag-{i}", "taxonomy": "post_tag", "description": "",
                 "count": 0, "link": f"{home}/tag/{i}/"} for i in range(1, 501)]
        users = [{"id": i, "name": f"Author {i}", "slug": f"author-{i}", "url": "", "description": "",
                  "link": f"{home}/author/{i}/"} for i in range(1, 21)]
        posts = []
        for wp_id in range(1000, 1000 + self.posts):
            day = f"20{10 + wp_id % 14:02d}-{1 + wp_id % 12:02d}-{1 + wp_id % 28:02d}T{wp_id % 24:02d}:00:00"
            content = post_html(rng, home, wp_id, self.posts)
            posts.append({
                "id": wp_id, "date": day, "date_gmt": day, "modified": day, "modified_gmt": day,
                "slug": f"post-{wp_id}", "status": "publish", "type": "post", "link": f"{home}/?p={wp_id}",
                "title": {"rendered": " ".join(zipf_words(rng, 5)).title()},
                "content": {"rendered": content, "protected": False},
                "excerpt": {"rendered": f"<p>{' '.join(zipf_words(rng, 30))}</p>", "protected": False},
                "author": 1 + wp_id % 20, "featured_media": 0, "comment_status": "open", "ping_status": "open",
                "sticky": False, "format": "standard", "categories": [1 + wp_id % 50],
                "tags": [101 + (wp_id * 7) % 500, 101 + (wp_id * 13) % 500], "meta": [], "_links": {},
            })
        comments = [{"id": c, "post": 1000 + (c * 3) % self.posts, "parent": 0, "author": 0,
                     "author_name": f"Reader {c % 97}", "date": "2024-01-01T00:00:00", "date_gmt": "2024-01-01T00:00:00",
                     "content": {"rendered": f"<p>{' '.join(zipf_words(rng, 25))}</p>"}, "status": "approved",
                     "type": "comment", "link": ""} for c in range(1, self.posts // 2 + 1)]
        for name, objects in (("categories", categories), ("tags", tags), ("users", users), ("posts", posts),
                              ("comments", comments), ("pages", []), ("media", [])):
            self.items[name] = [(o["id"], o.get("modified_gmt", ""), json.dumps(o).encode()) for o in objects]

    def touch(self, share: float, when: str = "2026-06-01T00:00:00") -> int:
        """Mark a share of the posts as edited (new content, new modified_gmt); returns how many."""
        changed = 0
        step = max(1, round(1 / share))
        for index in range(0, len(self.items["posts"]), step):
            wp_id, _, raw = self.items["posts"][index]
            item = json.loads(raw)
            item["modified_gmt"] = item["modified"] = when
            item["content"]["rendered"] += "<p>Edited.</p>"
            self.items["posts"][index] = (wp_id, when, json.dumps(item).encode())
            changed += 1
        return changed

    def index(self) -> bytes:
        # Each collection's route with its self link and paging arguments, as WordPress lists them:
        # tools that crawl the routes of the index (wparc) find the collections there.
        arguments = {"page": {"type": "integer", "default": 1}, "per_page": {"type": "integer", "default": 10}}
        routes = {f"/wp/v2/{name}": {"namespace": "wp/v2", "methods": ["GET"],
                                     "endpoints": [{"methods": ["GET"], "args": arguments}],
                                     "_links": {"self": [{"href": f"{self.home}/wp-json/wp/v2/{name}"}]}}
                  for name in self.items}
        return json.dumps({"name": "Synthetic", "description": "", "url": self.home, "home": self.home,
                           "gmt_offset": "0", "timezone_string": "", "namespaces": ["wp/v2"],
                           "routes": routes}).encode()

    def types(self) -> bytes:
        return json.dumps({t: {"slug": t, "name": t, "rest_base": b, "rest_namespace": "wp/v2", "taxonomies": []}
                           for t, b in (("post", "posts"), ("page", "pages"), ("attachment", "media"))}).encode()

    def taxonomies(self) -> bytes:
        return json.dumps({t: {"slug": t, "name": t, "rest_base": b, "rest_namespace": "wp/v2", "types": ["post"]}
                           for t, b in (("category", "categories"), ("post_tag", "tags"))}).encode()

    def page(self, collection: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        entries = self.items[collection]
        per_page, number = int(query.get("per_page", 10)), int(query.get("page", 1))
        if query.get("include"):
            wanted = {int(i) for i in query["include"].split(",")}
            entries = [e for e in entries if e[0] in wanted]
        if query.get("orderby") == "modified":
            entries = sorted(entries, key=lambda e: (e[1], e[0]), reverse=query.get("order") == "desc")
        elif query.get("order") == "desc":
            entries = list(reversed(entries))
        total, pages = len(entries), math.ceil(len(entries) / per_page)
        if collection in ("posts", "pages", "media") and number > max(pages, 1) and total:
            return 400, {}, b'{"code":"rest_post_invalid_page_number","message":"","data":{"status":400}}'
        window = entries[(number - 1) * per_page: number * per_page]
        if query.get("_fields"):
            fields = query["_fields"].split(",")
            body = json.dumps([{k: v for k, v in json.loads(raw).items() if k in fields} for _, _, raw in window]).encode()
        else:
            body = b"[" + b",".join(raw for _, _, raw in window) + b"]"
        return 200, {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}, body


class _Handler(BaseHTTPRequestHandler):
    site: SyntheticSite
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    requests: list[str]
    latency: float = 0.0

    def log_message(self, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET(head=True)  # as WordPress: the headers of a GET (X-WP-Total…), no body

    def do_GET(self, head: bool = False) -> None:  # noqa: N802
        self.requests.append(self.path)
        if self.latency:
            time.sleep(self.latency)  # a server that takes this long to render any page
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        route = parts.path.removeprefix("/wp-json").rstrip("/") or "/"
        status, headers, body = 200, {}, b""
        if parts.path == "/":
            headers = {"Link": f'<{self.site.home}/wp-json/>; rel="https://api.w.org/"', "Content-Type": "text/html"}
            body = b"<html><head><title>Synthetic</title></head><body></body></html>"
        elif route == "/":
            body = self.site.index()
        elif route == "/wp/v2/types":
            body = self.site.types()
        elif route == "/wp/v2/taxonomies":
            body = self.site.taxonomies()
        elif route.startswith("/wp/v2/") and route[7:] in self.site.items:
            status, headers, body = self.site.page(route[7:], query)
        else:
            status, body = 404, b'{"code":"rest_no_route","message":"","data":{"status":404}}'
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("Content-Type", "application/json; charset=UTF-8"))
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


def serve(site: SyntheticSite, port: int = 0, latency: float = 0.0) -> tuple[ThreadingHTTPServer, list[str]]:
    """Start serving in a background thread; returns the server and its request log."""
    requests: list[str] = []
    handler = type("Handler", (_Handler,), {"site": site, "requests": requests, "latency": latency})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    site.render(f"http://127.0.0.1:{server.server_address[1]}")
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, requests


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the server takes for any request")
    args = parser.parse_args()
    httpd, _ = serve(SyntheticSite(args.posts), args.port, args.latency)
    print(f"http://127.0.0.1:{args.port}/ serving {args.posts} posts; Ctrl-C to stop", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        httpd.shutdown()
