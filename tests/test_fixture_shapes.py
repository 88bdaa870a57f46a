"""The WordPress-like server speaks in WordPress core's own shapes (../shared/fixtures/wp-core-rest)."""

from __future__ import annotations

import json

import pytest

from shared_fixtures import WP_CORE_REST, needs_shared
from wparchive.records import SiteContext, comment_record, media_record, post_record, term_record, user_record
from wparchive.rows import Provenance
from wparchive.sample.content import sample_site
from wparchive.sample.server import WordPressServer

# Fields WordPress adds only with optional features our sample site does not use.
OPTIONAL_FIELDS = {"_links", "meta", "class_list", "generated_slug", "permalink_template", "site_logo",
                   "site_icon", "site_icon_url", "authentication", "routes"}


def _fixture(name: str):  # type: ignore[no-untyped-def]
    return json.loads(needs_shared(WP_CORE_REST / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def running():  # type: ignore[no-untyped-def]
    with WordPressServer(sample_site()) as server:
        yield server


def _get(server, route):  # type: ignore[no-untyped-def]
    import requests

    return requests.get(server.api_url(route), timeout=5).json()


@pytest.mark.parametrize("fixture, route", [
    ("PostsCollection", "wp/v2/posts"), ("PagesCollection", "wp/v2/pages"),
    ("MediaCollection", "wp/v2/media"), ("CategoriesCollection", "wp/v2/categories"),
    ("TagsCollection", "wp/v2/tags"), ("UsersCollection", "wp/v2/users"),
    ("CommentsCollection", "wp/v2/comments"),
])
def test_collection_items_have_every_field_wordpress_sends(running, fixture, route) -> None:
    expected = set(_fixture(fixture)[0])
    served = _get(running, route)
    assert served, f"the sample site serves no {route}"
    missing = expected - set(served[0]) - OPTIONAL_FIELDS
    assert missing == set(), f"{route} lacks {sorted(missing)}"


def test_types_and_taxonomies_have_wordpress_shapes(running) -> None:
    for fixture, route in (("TypesCollection", "wp/v2/types"), ("TaxonomiesCollection", "wp/v2/taxonomies")):
        wp, ours = _fixture(fixture), _get(running, route)
        for slug in ("post", "category"):
            if slug in wp:
                assert set(wp[slug]) - set(ours[slug]) - OPTIONAL_FIELDS == set()


def test_the_index_has_wordpress_fields(running) -> None:
    expected = set(_fixture("Schema"))
    assert expected - set(_get(running, "")) - OPTIONAL_FIELDS == set()


def test_wordpress_core_objects_become_rows() -> None:
    ctx = SiteContext(site_id=1, home="http://example.org", hosts=frozenset({"example.org"}),
                      taxonomy_by_rest_base={"categories": "category", "tags": "post_tag"},
                      term_names={"1-1": "Uncategorized"})
    prov = Provenance("http://example.org/wp-json/wp/v2/posts", "2026-01-01T00:00:00+00:00", 1)
    post = post_record(_fixture("PostModel"), ctx, prov)
    assert post.row["title"] == "REST API Client Fixture: Post"
    assert post.row["content_text"] == "Updated post content."
    assert post.row["categories"] == ["Uncategorized"]
    assert post.children["post_terms"] == [{"post": "1-4", "term": "1-1", "taxonomy": "category"}]
    page = post_record(_fixture("PageModel"), ctx, prov)
    assert page.row["type"] == "page"
    media = media_record(_fixture("MediaModel"), ctx, prov)
    assert media.row["mime_type"] == "image/jpeg" and media.row["caption_text"] == "A sample caption"
    assert term_record(_fixture("CategoryModel"), ctx, prov).row["taxonomy"] == "category"
    assert term_record(_fixture("TagModel"), ctx, prov).row["taxonomy"] == "post_tag"
    assert user_record(_fixture("UserModel"), ctx, prov).row["name"] == "REST API Client Fixture: User"
    comment = comment_record(_fixture("CommentModel"), ctx, prov)
    assert comment.row["post"] == "1-4" and comment.row["content_text"] == "This is a comment"
