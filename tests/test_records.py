"""REST items in, rows out: each builder fed one item from tests/fixtures/, no server, no harvest.

The fixtures are written in the shapes WordPress's REST API returns (view context, `_links`
included) for a small community-garden site; each test states the exact row it expects.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from shared_fixtures import WP_CORE_REST, needs_shared
from wparchive.records import (
    SiteContext, build_records, comment_record, media_record, post_record, term_record, user_record,
)
from wparchive.rows import Provenance, Record

FIXTURES = Path(__file__).parent / "fixtures"

# Site 3, so that a key ("3-14") cannot be mistaken for a WordPress id.
CTX = SiteContext(
    site_id=3,
    home="https://garden.example.org",
    hosts=frozenset({"garden.example.org"}),
    taxonomy_by_rest_base={"categories": "category", "tags": "post_tag"},
    term_names={"3-3": "Vegetables", "3-4": "Beans & peas", "3-5": "compost"},
)
PROV = Provenance(
    response_url="https://garden.example.org/wp-json/wp/v2/posts?per_page=100&page=1&orderby=id&order=asc",
    fetched_at="2024-05-01T10:00:00+00:00",
    run_id=7,
    warc_record_id="<urn:uuid:6f1c2a5e-3b1d-4f7a-9c0e-2d8b4a6e1f30>",
)


def load(name: str) -> Any:
    """A fixture's JSON: one REST item or a page of them."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def provenance(item: dict[str, Any]) -> dict[str, Any]:
    """The provenance columns every row of PROV carries: raw_sha256 is the SHA-256 of the JSON kept."""
    raw = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
    return {
        "response_url": PROV.response_url,
        "fetched_at": "2024-05-01T10:00:00+00:00",
        "run_id": 7,
        "raw_sha256": hashlib.sha256(raw.encode("utf-8")).hexdigest(),
        "warc_record_id": "<urn:uuid:6f1c2a5e-3b1d-4f7a-9c0e-2d8b4a6e1f30>",
    }


def assert_raw_kept(record: Record, item: dict[str, Any]) -> None:
    """The record keeps the item's JSON whole (fields without a column too), hashed as stored."""
    assert json.loads(record.raw_json) == item
    assert record.row["raw_sha256"] == hashlib.sha256(record.raw_json.encode("utf-8")).hexdigest()


POST_TEXT = (
    "Before you sow\n\n"
    "Broad beans go into the north bed two weeks after the last frost, and the soil should be raked fine. "
    "The RHS guide explains spacing and depth in more detail.\n\n"
    "Seedlings in the north bed\n\n"
    "YouTube: https://www.youtube.com/embed/b3aNs0wInG?feature=oembed\n\n"
    "Water the seedlings every morning until they are established."
)
POST_MARKDOWN = (
    "## Before you sow\n\n"
    "Broad beans go into the north bed two weeks after the [last frost](https://garden.example.org/?p=12), "
    "and the soil should be raked fine. The "
    "[RHS guide](https://www.rhs.org.uk/vegetables/broad-beans/grow-your-own) explains spacing and depth in "
    "more detail.\n\n"
    "![A row of bean seedlings](https://garden.example.org/wp-content/uploads/2024/03/seedlings-1024x768.jpg)\n\n"
    "Seedlings in the north bed\n\n"
    "[YouTube: https://www.youtube.com/embed/b3aNs0wInG?feature=oembed]"
    "(https://www.youtube.com/embed/b3aNs0wInG?feature=oembed)\n\n"
    "Water the seedlings every morning until they are established."
)


def test_post_record_row() -> None:
    item = load("post")
    record = post_record(item, CTX, PROV)
    assert record.table == "posts"
    assert record.key == "3-14"
    assert record.row == {
        "key": "3-14",
        "site_id": 3,
        "wp_id": 14,
        "type": "post",
        "status": "publish",
        "title": "Sowing broad beans – the March plan",
        "slug": "sowing-broad-beans",
        "link": "https://garden.example.org/2024/03/sowing-broad-beans/",
        "date": "2024-03-09T11:30:00",
        "date_gmt": "2024-03-09T10:30:00",
        "year": 2024,
        "modified": "2024-03-10T08:15:00",
        "modified_gmt": "2024-03-10T07:15:00",
        "author": "3-2",
        "parent": None,
        "menu_order": 0,
        "featured_media": "3-31",
        "comment_status": "open",
        "sticky": 0,
        "format": "standard",
        "protected": 0,
        # names from the site's terms, in the order the item lists their ids
        "categories": ["Beans & peas", "Vegetables"],
        "tags": ["compost"],
        "excerpt_text": "Broad beans go into the north bed two weeks after the last frost …",
        "content_text": POST_TEXT,
        "content_markdown": POST_MARKDOWN,
        "word_count": 56,
        "reading_minutes": 1,
        "language": "en",
        "pages": 1,
        "headings": [{"level": 2, "text": "Before you sow"}],
        "shortcodes": ["su_note"],
        "link_norm": "garden.example.org/2024/03/sowing-broad-beans",
        "source": "rest",
        "author_name": None,
        "content_html": item["content"]["rendered"],
        # plugin fields of plain values get columns of their own; yoast_head_json (an object),
        # meta, class_list and _links stay in the raw JSON only
        "wp_jetpack_featured_media_url": "https://garden.example.org/wp-content/uploads/2024/03/seedlings.jpg",
        "wp_jetpack_sharing_enabled": True,
        "wp_views": 117,
        **provenance(item),
    }
    assert_raw_kept(record, item)


def test_post_record_child_rows() -> None:
    record = post_record(load("post"), CTX, PROV)
    assert record.children == {
        "post_terms": [
            {"post": "3-14", "term": "3-4", "taxonomy": "category"},
            {"post": "3-14", "term": "3-3", "taxonomy": "category"},
            {"post": "3-14", "term": "3-5", "taxonomy": "post_tag"},
        ],
        "links": [
            # ?p=12 names its target before the target is archived: target_hint, resolved later
            {"post": "3-14", "position": 0, "href": "https://garden.example.org/?p=12", "text": "last frost",
             "internal": 1, "host": "garden.example.org", "href_norm": "garden.example.org/?p=12",
             "target_hint": "3-12", "target": None},
            {"post": "3-14", "position": 1, "href": "https://www.rhs.org.uk/vegetables/broad-beans/grow-your-own",
             "text": "RHS guide", "internal": 0, "host": "rhs.org.uk",
             "href_norm": "rhs.org.uk/vegetables/broad-beans/grow-your-own", "target_hint": None, "target": None},
            {"post": "3-14", "position": 2, "href": "https://www.youtube.com/embed/b3aNs0wInG?feature=oembed",
             "text": "YouTube: https://www.youtube.com/embed/b3aNs0wInG?feature=oembed", "internal": 0,
             "host": "youtube.com", "href_norm": "youtube.com/embed/b3aNs0wInG?feature=oembed",
             "target_hint": None, "target": None},
        ],
        "images": [
            {"post": "3-14", "position": 0,
             "src": "https://garden.example.org/wp-content/uploads/2024/03/seedlings-1024x768.jpg",
             "alt": "A row of bean seedlings", "caption": "Seedlings in the north bed", "width": 1024,
             "height": 768, "media": "3-31"},
        ],
        "embeds": [
            {"post": "3-14", "position": 0, "provider": "YouTube",
             "url": "https://www.youtube.com/embed/b3aNs0wInG?feature=oembed"},
        ],
    }


def test_post_without_links_has_empty_child_lists() -> None:
    # Empty lists, not missing keys: saving them is what clears a post's old child rows.
    record = post_record(load("posts")[1], CTX, PROV)
    assert record.children == {"post_terms": [{"post": "3-13", "term": "3-5", "taxonomy": "post_tag"}],
                                "links": [], "images": [], "embeds": []}
    assert (record.row["content_text"], record.row["content_markdown"]) == ("Bring gloves.", "Bring gloves.")
    assert (record.row["format"], record.row["comment_status"], record.row["language"]) == ("aside", "closed", None)


def test_media_record_row() -> None:
    item = load("media")
    record = media_record(item, CTX, PROV)
    assert record.table == "media"
    assert record.row == {
        "key": "3-31",
        "site_id": 3,
        "wp_id": 31,
        "title": "Seedlings & string lines",
        "slug": "seedlings",
        "link": "https://garden.example.org/2024/03/sowing-broad-beans/seedlings/",
        "date": "2024-03-09T11:20:00",
        "date_gmt": "2024-03-09T10:20:00",
        "modified_gmt": "2024-03-09T10:22:00",
        "author": "3-2",
        "post": "3-14",
        "media_type": "image",
        "mime_type": "image/jpeg",
        "source_url": "https://garden.example.org/wp-content/uploads/2024/03/seedlings.jpg",
        "alt_text": "A row of bean seedlings",
        "caption_text": "Seedlings in the north bed",
        # the thumbnail WordPress puts in the description is not text
        "description_text": "Taken on the first dry morning of March.",
        "width": 2048,
        "height": 1536,
        "filesize": 412877,
        **provenance(item),
    }
    assert record.children == {}
    assert_raw_kept(record, item)


def test_term_records_keep_their_parent() -> None:
    vegetables, beans = load("categories")
    (compost,) = load("tags")
    rows = [term_record(item, CTX, PROV).row for item in (vegetables, beans, compost)]
    assert rows == [
        {"key": "3-3", "site_id": 3, "wp_id": 3, "taxonomy": "category", "name": "Vegetables", "slug": "vegetables",
         "description_text": "Everything that grows in the beds & borders.", "parent": None, "count": 2,
         "link": "https://garden.example.org/category/vegetables/", **provenance(vegetables)},
        {"key": "3-4", "site_id": 3, "wp_id": 4, "taxonomy": "category", "name": "Beans & peas", "slug": "beans",
         "description_text": "Broad beans, runners and other legumes.", "parent": "3-3", "count": 1,
         "link": "https://garden.example.org/category/vegetables/beans/", **provenance(beans)},
        # tags have no parent field at all: None, as for a top-level category
        {"key": "3-5", "site_id": 3, "wp_id": 5, "taxonomy": "post_tag", "name": "compost", "slug": "compost",
         "description_text": "", "parent": None, "count": 2, "link": "https://garden.example.org/tag/compost/",
         **provenance(compost)},
    ]


def test_user_record_row() -> None:
    (item,) = load("users")
    record = user_record(item, CTX, PROV)
    assert record.table == "users"
    # avatar_urls and meta are not columns; the raw JSON keeps them
    assert record.row == {
        "key": "3-2", "site_id": 3, "wp_id": 2, "name": "Ros “Rota” Pereira", "slug": "ros",
        "url": "https://ros.example.net", "description_text": "Keeps the compost bays & the watering rota.",
        "link": "https://garden.example.org/author/ros/", **provenance(item),
    }
    assert_raw_kept(record, item)


def test_comment_records_keep_the_thread() -> None:
    question, reply = load("comments")
    rows = [comment_record(item, CTX, PROV).row for item in (question, reply)]
    assert rows == [
        {"key": "3-21", "site_id": 3, "wp_id": 21, "post": "3-14", "parent": None,
         "author": None,  # a visitor, not a user of the site
         "author_name": "Sam & Jo", "author_url": "https://samandjo.example.com",
         "date": "2024-03-11T07:02:00", "date_gmt": "2024-03-11T06:02:00", "status": "approved", "type": "comment",
         "link": "https://garden.example.org/2024/03/sowing-broad-beans/#comment-21",
         "content_text": "Ours came up in ten days – thanks!\nDo they need netting?",
         "content_html": question["content"]["rendered"], **provenance(question)},
        {"key": "3-22", "site_id": 3, "wp_id": 22, "post": "3-14", "parent": "3-21", "author": "3-2",
         "author_name": "Ros “Rota” Pereira", "author_url": "https://ros.example.net",
         "date": "2024-03-11T09:30:00", "date_gmt": "2024-03-11T08:30:00", "status": "approved", "type": "comment",
         "link": "https://garden.example.org/2024/03/sowing-broad-beans/#comment-22",
         "content_text": "Yes, until May. See the frost dates.",
         "content_html": reply["content"]["rendered"], **provenance(reply)},
    ]


def test_a_wrongly_typed_field_is_named_and_left_out() -> None:
    item = {**load("posts")[0], "menu_order": "first", "sticky": "maybe"}
    record = post_record(item, CTX, PROV)
    assert record.row["invalid_fields"] == ["menu_order", "sticky"]
    # the fields take their defaults; the rest of the item is read as usual
    assert (record.row["menu_order"], record.row["sticky"]) == (0, 0)
    assert (record.row["key"], record.row["title"], record.row["categories"]) == ("3-12", "Last frost dates",
                                                                                   ["Vegetables"])
    # what the site sent is still there, and the hash is of it
    assert json.loads(record.raw_json)["menu_order"] == "first"
    assert record.row["raw_sha256"] == provenance(item)["raw_sha256"]


def test_a_well_typed_item_has_no_invalid_fields_column() -> None:
    assert "invalid_fields" not in post_record(load("posts")[0], CTX, PROV).row


def test_build_records_keeps_what_it_can_read_and_says_why_not_for_the_rest() -> None:
    good, other = load("posts")
    items = [good, {"id": "abc", "title": {"rendered": "A broken id"}}, "not an object", {"title": "no id"}, other]
    records, failures = build_records("posts", items, CTX, PROV)
    assert [r.key for r in records] == ["3-12", "3-13"]
    assert records[0].row == post_record(good, CTX, PROV).row
    assert failures == [
        ({"id": "abc", "title": {"rendered": "A broken id"}},
         "ContentItem item 'abc': Input should be a valid integer, unable to parse string as an integer",
         PROV.response_url),
        ("not an object", "item is a str, not an object", PROV.response_url),
        ({"title": "no id"}, "ContentItem item None: Field required", PROV.response_url),
    ]


def test_build_records_gives_each_item_its_own_provenance_when_asked() -> None:
    good, other = load("posts")
    provenance = [Provenance(f"https://garden.example.org/page-{n}/", f"2026-03-0{n}T10:00:00+00:00", 7)
                  for n in (1, 2, 3)]
    records, failures = build_records("posts", [good, "not an object", other], CTX, provenance)
    assert [(r.row["response_url"], r.row["fetched_at"], r.row["run_id"]) for r in records] == [
        ("https://garden.example.org/page-1/", "2026-03-01T10:00:00+00:00", 7),
        ("https://garden.example.org/page-3/", "2026-03-03T10:00:00+00:00", 7)]
    assert failures == [("not an object", "item is a str, not an object", "https://garden.example.org/page-2/")]


@pytest.mark.parametrize("table, name", [
    ("terms", "categories"), ("terms", "tags"), ("users", "users"), ("posts", "posts"), ("comments", "comments"),
])
def test_build_records_uses_the_builder_of_its_table(table: str, name: str) -> None:
    items = load(name)
    records, failures = build_records(table, items, CTX, PROV)
    assert failures == []
    assert [r.table for r in records] == [table] * len(items)
    assert [r.key for r in records] == [f"3-{item['id']}" for item in items]


# WordPress core's own responses (../shared), where present: every item is read whole, with no
# field of the wrong type and no core field mistaken for a plugin's.
CORE_COLLECTIONS = [
    ("posts", "PostsCollection"), ("posts", "PagesCollection"), ("media", "MediaCollection"),
    ("terms", "CategoriesCollection"), ("terms", "TagsCollection"), ("users", "UsersCollection"),
    ("comments", "CommentsCollection"),
]


@pytest.mark.parametrize("table, name", CORE_COLLECTIONS)
def test_wordpress_core_items_are_read_whole(table: str, name: str) -> None:
    items = json.loads(needs_shared(WP_CORE_REST / f"{name}.json").read_text(encoding="utf-8"))
    ctx = SiteContext(site_id=3, home="http://example.org", hosts=frozenset({"example.org"}))
    records, failures = build_records(table, items, ctx, PROV)
    assert failures == []
    assert [(r.row["key"], r.row["site_id"], r.row["wp_id"]) for r in records] == [
        (f"3-{item['id']}", 3, item["id"]) for item in items]
    for record, item in zip(records, items, strict=True):
        assert "invalid_fields" not in record.row
        assert [column for column in record.row if column.startswith("wp_") and column != "wp_id"] == []
        assert_raw_kept(record, item)
