"""The archive in Datasette, through Datasette's own test client."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest

from wparchive.harvest import harvest_site
from wparchive.serve import build_datasette


@pytest.fixture
def archive(server, client, db, db_path) -> str:  # type: ignore[no-untyped-def]
    harvest_site(db, client, server.home + "/")
    return db_path


def _get(ds, path: str):  # type: ignore[no-untyped-def]
    async def fetch():  # type: ignore[no-untyped-def]
        await ds.invoke_startup()
        return await ds.client.get(path)
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
    html = _get(ds, "/garden/posts").text
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
