"""Finding the API root from any URL of a site, and the collections it exposes."""

from __future__ import annotations

import pytest

from wparchive.discover import find_api_root, list_collections
from wparchive.errors import DiscoveryError, SiteUnreachable
from wparchive.sample.site import CORE_TAXONOMIES, CORE_TYPES, Item, Site, TermItem, TypeInfo


def test_from_the_link_header_of_a_post_page(server, client) -> None:
    root, index = find_api_root(client, server.home + "/2023/03/the-compost-question/")
    assert root == server.api_root
    assert index.name == "The Allotment Almanac"
    # the page and the root it named: no guessing needed
    assert len(server.requests) == 2


def test_from_the_link_tag_when_the_header_is_stripped(make_server, client) -> None:
    server = make_server(link_header=False)
    root, _ = find_api_root(client, server.home + "/")
    assert root == server.api_root
    assert len(server.requests) == 2


def test_guesses_wp_json_when_nothing_is_advertised(make_server, client) -> None:
    server = make_server(link_header=False, link_tag=False, subdir="blog")
    root, _ = find_api_root(client, server.home + "/about/")
    assert root == server.home + "/wp-json/"


def test_falls_back_to_rest_route_with_plain_permalinks(make_server, client) -> None:
    server = make_server(permalinks="plain", link_header=False, link_tag=False)
    root, _ = find_api_root(client, server.home + "/?p=1002")
    assert root == server.home + "/?rest_route=/"
    assert any("rest_route" in path for path in server.requests)


def test_an_api_root_given_directly(make_server, client) -> None:
    server = make_server(permalinks="plain", subdir="news")
    root, _ = find_api_root(client, server.api_root)
    assert root == server.api_root
    assert len(server.requests) == 1


def test_a_site_that_is_not_wordpress(make_server, client) -> None:
    server = make_server(link_header=False, link_tag=False)
    server.fault = lambda path, query: (200, {"Content-Type": "text/html"}, b"<html>plain site</html>")
    with pytest.raises(DiscoveryError, match="no WordPress REST API found"):
        find_api_root(client, server.home + "/")


def test_an_unreachable_site(client) -> None:
    client.retries = 0
    with pytest.raises(SiteUnreachable):
        find_api_root(client, "http://127.0.0.1:9/")


def test_collections_include_custom_types_and_taxonomies_but_not_editor_internals(make_server, client) -> None:
    site = Site(
        items=[Item(1, "book", "A book")],
        terms=[TermItem(5, "genre", "Crime")],
        types=CORE_TYPES + [TypeInfo("book", "Books", "books", related=["genre"])],
        taxonomies=CORE_TAXONOMIES + [TypeInfo("genre", "Genres", "genres", related=["book"])],
    )
    server = make_server(site)
    root, index = find_api_root(client, server.api_root)
    collections = list_collections(client, root, index)
    names = [c.name for c in collections]
    assert names == ["category", "post_tag", "genre", "users", "post", "page", "book", "media", "comments"]
    book = next(c for c in collections if c.name == "book")
    assert (book.table, book.route, book.taxonomies) == ("posts", "/wp/v2/books", ("genre",))
    for internal in ("wp_block", "wp_template", "wp_navigation", "nav_menu_item", "attachment", "nav_menu"):
        assert internal not in names


def test_a_known_root_is_tried_first_and_a_stale_one_is_rediscovered(make_server, client) -> None:
    server = make_server(permalinks="plain")
    root, _ = find_api_root(client, server.home + "/", known_root=server.api_root)
    assert root == server.api_root and len(server.requests) == 1
    server.requests.clear()
    stale = server.home + "/wp-json/"  # the site has since switched to plain permalinks
    root, _ = find_api_root(client, server.home + "/", known_root=stale)
    assert root == server.api_root
