"""The archive in Datasette, through Datasette's own test client."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import lxml.html
import pytest
import requests

from wparchive.harvest import harvest_site
from wparchive.serve import build_datasette


@pytest.fixture
def archive(server, client, db, db_path) -> str:  # type: ignore[no-untyped-def]
    harvest_site(db, client, server.home + "/")
    return db_path


def _get(ds, path: str, **options):  # type: ignore[no-untyped-def]
    async def fetch():  # type: ignore[no-untyped-def]
        await ds.invoke_startup()
        return await ds.client.get(path, **options)
    return asyncio.run(fetch())


def test_search_finds_a_post_by_a_word_of_its_body(archive) -> None:
    response = _get(build_datasette(archive), "/archive/posts.json?_search=beekeeper&_shape=array")
    assert response.status_code == 200
    assert [row["title"] for row in response.json()] == ["Bees on plot 17"]


def test_csv_and_json_downloads(archive) -> None:
    ds = build_datasette(archive)
    response = _get(ds, "/archive/posts.csv?_stream=on&_size=max")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 29 and "content_text" in rows[0]
    response = _get(ds, "/archive/comments.json?_shape=array&_size=max")
    assert response.status_code == 200 and len(response.json()) == 19


def test_metadata_from_config_applies_to_any_database_name(server, client, tmp_path) -> None:
    from wparchive.db import open_db

    path = str(tmp_path / "garden.db")
    harvest_site(open_db(path), client, server.home + "/")
    ds = build_datasette(path)
    page = _get(ds, "/garden/posts.json?_extra=facet_results")
    assert page.status_code == 200
    facets = page.json()["facet_results"]
    facet_names = set(facets.get("results", facets))
    assert {"type", "author", "categories", "tags"} <= facet_names
    html = _get(ds, "/garden/posts", follow_redirects=True).text  # to its readable columns
    assert "Posts, pages and every other public post type" in html
    # the primary key is sortable, so the search box's _sort does not break (datasette#1980)
    assert _get(ds, "/garden/posts?_search=compost&_sort=key").status_code == 200


def test_authors_are_labelled_by_name(archive) -> None:
    response = _get(build_datasette(archive), "/archive/posts.json?_labels=on&_shape=array&key=1-1003")
    assert response.json()[0]["author"] == {"value": "1-2", "label": "Tomás Ferreira"}


def test_immutable_mode_serves_the_archive(archive) -> None:
    response = _get(build_datasette(archive, immutable=True), "/archive/posts.json?_search=compost&_shape=array")
    assert response.status_code == 200 and len(response.json()) >= 1


def test_served_connections_send_each_write_at_once() -> None:
    """TCP_NODELAY on accepted connections: otherwise a response's body waits for the ACK of its
    headers, 40 ms on every request after the first of a kept-alive connection."""
    import socket

    from wparchive.serve import listen

    async def accepted_nodelay() -> int:
        found: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                sock = transport.get_extra_info("socket")
                found.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

        listening = listen(0)
        server = await asyncio.get_running_loop().create_server(Probe, sock=listening)
        with socket.create_connection(listening.getsockname()):
            value = await asyncio.wait_for(found, 5)
        server.close()
        return value

    assert asyncio.run(accepted_nodelay()) != 0


@contextmanager
def _serving(command: list[str]) -> Iterator[str]:
    """A real server process started with command (and --port 0 or -p 0): its address, until it is stopped."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    found: list[str] = []

    def read() -> None:  # wparchive says "Serving … at http://…/", uvicorn "Uvicorn running on http://…"
        for line in process.stderr or ():
            match = re.search(r"http://127\.0\.0\.1:\d+", line)
            if match:
                found.append(match.group(0))
                break

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(60)
    try:
        assert found, f"{command} did not start"
        yield found[0]
    finally:
        process.terminate()
        process.communicate(timeout=30)


def _what_a_reader_meets(base: str, archive: Path) -> dict[str, object]:
    """What the archive shows through a server: canned queries, table metadata, the readable posts
    table, the search as CSV, a post page and its picture."""
    queries = [q["name"] for q in requests.get(f"{base}/archive.json", timeout=30).json()["queries"]]
    bare = requests.get(f"{base}/archive/posts", allow_redirects=False, timeout=30)
    readable = requests.get(base + bare.headers["location"], timeout=30).text
    table = lxml.html.fromstring(readable)
    facets = requests.get(f"{base}/archive/posts.json?_extra=facet_results", timeout=30).json()["facet_results"]
    search = list(csv.DictReader(io.StringIO(requests.get(f"{base}/archive/search.csv?q=compost&_size=max",
                                                          timeout=30).text)))
    post = lxml.html.fromstring(requests.get(f"{base}/-/wparchive/post/1-1003", timeout=30).text)
    [src] = post.xpath("//article//img/@src")
    image = requests.get(base + src, timeout=30)
    folder = archive.with_name(archive.stem + "-media")
    return {
        "queries": queries, "readable": bare.status_code == 302 and "_col=title" in bare.headers["location"],
        "described": "Posts, pages and every other public post type" in readable,
        "columns": table.xpath("//table[contains(@class, 'rows-and-columns')]//th/@data-column"),
        "title links": sorted(set(table.xpath("//td[contains(@class, 'col-title')]/a/@href")))[:3],
        "facets": sorted(facets.get("results", facets)),
        "search": [(row["kind"], row["key"]) for row in search],
        "image": (src.startswith("/-/wparchive/media/"), image.headers["content-type"],
                  image.content == (folder / src.removeprefix("/-/wparchive/media/")).read_bytes()),
    }


def test_wparchive_serve_and_datasette_serve_the_same_archive(make_server, client, db, db_path) -> None:
    """The plugin brings the archive's metadata, canned queries, search, readable posts and media
    files to a plain `datasette archive.db` as `wparchive serve` has them."""
    from wparchive.media import download_media
    from wparchive.paths import media_folder

    server = make_server()
    result = harvest_site(db, client, server.home + "/")
    download_media(db, client, result.site_id, media_folder(db_path))
    server.stop()  # the site is gone: its pictures come from the archive
    db.close()
    met = {}
    for way, command in {"wparchive serve": ["-m", "wparchive", "serve", "--db", db_path, "--port", "0"],
                         "datasette": ["-m", "datasette", db_path, "-p", "0"]}.items():
        with _serving([sys.executable, *command]) as base:
            met[way] = _what_a_reader_meets(base, Path(db_path))
    shown = met["wparchive serve"]
    assert {"posts_per_month", "site_runs", "post_versions", "search"} <= set(shown["queries"])
    assert shown["readable"] and shown["described"] and shown["columns"][:2] == ["key", "title"]
    assert all(link.startswith("/-/wparchive/post/1-") for link in shown["title links"])
    assert {"type", "year", "author", "categories", "tags"} <= set(shown["facets"])
    assert shown["search"][0] == ("post", "1-1002") and shown["image"] == (True, "image/png", True)
    assert met["datasette"] == shown
