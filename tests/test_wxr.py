"""WXR export: WordPress eXtended RSS as the WordPress Importer reads it (tests/integration
imports it into a real WordPress); here, what each file holds, read back with an XML parser."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wparchive.cli import cli
from wparchive.client import Client
from wparchive.errors import ExportError
from wparchive.export import export_wxr
from wparchive.harvest import harvest_site
from wparchive.media import download_media
from wparchive.sample.content import sample_site
from wparchive.sample.site import CommentItem, Item

NS = {"wp": "http://wordpress.org/export/1.2/", "content": "http://purl.org/rss/1.0/modules/content/",
      "excerpt": "http://wordpress.org/export/1.2/excerpt/", "dc": "http://purl.org/dc/elements/1.1/"}
USER, PASSWORD = "margit", "abcd EFGH 1234 ijkl MNOP 5678"
BLOCKS = "<!-- wp:paragraph -->\n<p>Blocks survive the trip.</p>\n<!-- /wp:paragraph -->"


def _items(path: Path) -> dict[int, ET.Element]:
    channel = ET.parse(path).getroot().find("channel")
    assert channel is not None
    return {int(_text(item, "wp:post_id")): item for item in channel.findall("item")}


def _text(element: ET.Element, path: str) -> str:
    found = element.find(path, NS)
    assert found is not None, path
    return found.text or ""


def _harvest(make_server, db, site=None, *, signed_in: bool = True) -> Any:  # type: ignore[no-untyped-def]
    site = site or sample_site()
    server = make_server(site, credentials=(USER, PASSWORD))
    client = Client(delay=0, auth=(USER, PASSWORD) if signed_in else None)
    result = harvest_site(db, client, server.home + "/", private=signed_in)
    assert result.status == "ok", result.errors
    return server


@pytest.fixture
def signed_in_site():  # type: ignore[no-untyped-def]
    site = sample_site()
    post = next(i for i in site.items if i.id == 1002)
    post.content = BLOCKS
    post.featured_media = 104
    return site


def test_every_item_with_what_wordpress_exports_of_it(make_server, db, tmp_path, signed_in_site) -> None:
    _harvest(make_server, db, signed_in_site)
    result = export_wxr(db, tmp_path / "site.xml")
    assert result.files == [tmp_path / "site.xml"] and not result.left_out and result.rendered == 0
    items = _items(tmp_path / "site.xml")
    archived = db.execute("SELECT (SELECT count(*) FROM posts) + (SELECT count(*) FROM media)").fetchone()[0]
    assert len(items) == result.items == archived
    post = items[1002]
    assert _text(post, "content:encoded") == BLOCKS  # signed in: the block markup, not the rendered HTML
    assert _text(post, "wp:post_type") == "post" and _text(post, "wp:status") == "publish"
    row = db["posts"].get("1-1002")
    assert _text(post, "wp:post_name") == row["slug"] and _text(post, "title") == row["title"]
    assert _text(post, "wp:post_date") == row["date"].replace("T", " ")
    assert _text(post, "wp:post_date_gmt") == row["date_gmt"].replace("T", " ")
    assert _text(post, "dc:creator") == "margit"
    meta = {_text(m, "wp:meta_key"): _text(m, "wp:meta_value") for m in post.findall("wp:postmeta", NS)}
    assert meta["_thumbnail_id"] == "104"
    terms = {(c.get("domain"), c.get("nicename")) for c in post.findall("category")}
    expected = {(taxonomy, slug) for taxonomy, slug in db.execute(
        "SELECT t.taxonomy, t.slug FROM post_terms pt JOIN terms t ON t.key = pt.term WHERE pt.post = '1-1002'")}
    assert terms == expected and expected
    # pages with their parent and order; drafts, scheduled and sticky posts as they are
    assert _text(items[51], "wp:post_parent") == "50" and _text(items[51], "wp:post_type") == "page"
    assert _text(items[1099], "wp:status") == "draft" and _text(items[1098], "wp:status") == "future"
    assert _text(items[1001], "wp:is_sticky") == "1" and _text(items[1002], "wp:is_sticky") == "0"
    # attachments: their file, their parent post, alt text
    image = items[101]
    assert _text(image, "wp:post_type") == "attachment" and _text(image, "wp:post_parent") == "1003"
    assert _text(image, "wp:attachment_url").endswith("/wp-content/uploads/2024/04/tomatoes.jpg")


def test_comments_threaded_with_their_authors_and_approval(make_server, db, tmp_path) -> None:
    site = sample_site()
    site.comments.append(CommentItem(900, 1002, "Awaiting a moderator.", author_name="Newcomer", status="hold"))
    _harvest(make_server, db, site)
    export_wxr(db, tmp_path / "site.xml")
    comments = {int(_text(c, "wp:comment_id")): c for c in _items(tmp_path / "site.xml")[1002].findall("wp:comment", NS)}
    stored = db.execute("SELECT wp_id, parent FROM comments WHERE post = '1-1002'").fetchall()
    assert set(comments) == {wp_id for wp_id, _ in stored}
    for wp_id, parent in stored:
        assert _text(comments[wp_id], "wp:comment_parent") == (parent.split("-")[1] if parent else "0")
    assert _text(comments[3], "wp:comment_parent") == "2"  # a reply to a reply
    assert _text(comments[900], "wp:comment_approved") == "0" and _text(comments[1], "wp:comment_approved") == "1"
    assert _text(comments[900], "wp:comment_author_email") == "newcomer@example.net"  # signed in, editors see it


def test_terms_with_their_hierarchy_parents_first(make_server, db, tmp_path) -> None:
    _harvest(make_server, db)
    export_wxr(db, tmp_path / "site.xml")
    channel = ET.parse(tmp_path / "site.xml").getroot().find("channel")
    assert channel is not None
    made: list[str] = []
    for category in channel.findall("wp:category", NS):
        parent = _text(category, "wp:category_parent")
        assert not parent or parent in made  # the importer finds a parent among the terms already made
        made.append(_text(category, "wp:category_nicename"))
    children = dict(db.execute("SELECT t.slug, p.slug FROM terms t JOIN terms p ON p.key = t.parent"))
    assert children and all(made.index(parent) < made.index(child) for child, parent in children.items())
    tags = channel.findall("wp:tag", NS)
    assert len(tags) == db.execute("SELECT count(*) FROM terms WHERE taxonomy = 'post_tag'").fetchone()[0]
    growing = next(c for c in channel.findall("wp:category", NS) if _text(c, "wp:category_nicename") == "growing")
    assert _text(growing, "wp:category_description") == "Seeds, soil and the work of the season."


def test_anonymous_harvests_give_the_rendered_html(make_server, db, tmp_path, signed_in_site) -> None:
    _harvest(make_server, db, signed_in_site, signed_in=False)
    result = export_wxr(db, tmp_path / "site.xml")
    post = _items(tmp_path / "site.xml")[1002]
    assert _text(post, "content:encoded") == db["posts"].get("1-1002")["content_html"]
    assert "<!-- wp:" not in _text(post, "content:encoded")
    assert result.rendered == db.execute("SELECT count(*) FROM posts WHERE NOT protected").fetchone()[0]
    # a password-protected post's content was never served: left out, and said
    assert any("1017" in why and "password-protected" in why for why in result.left_out)
    assert 1017 not in _items(tmp_path / "site.xml")


def test_what_xml_cannot_hold_is_dropped_and_cdata_ends_are_split(make_server, db, tmp_path) -> None:
    site = sample_site()
    site.items.append(Item(1200, "post", "Control \x01 and ]]> in a title",
                           "<p>An end of CDATA ]]> and another ]]]]> inside, a bell \x07, a form feed \x0c.</p>"))
    _harvest(make_server, db, site)
    export_wxr(db, tmp_path / "site.xml")
    item = _items(tmp_path / "site.xml")[1200]  # parses: well-formed
    assert _text(item, "title") == "Control  and ]]> in a title"
    assert _text(item, "content:encoded") == "<p>An end of CDATA ]]> and another ]]]]> inside, a bell , a form feed .</p>"


def test_split_files_each_importable_with_what_their_items_need(make_server, db, tmp_path, signed_in_site) -> None:
    for n in range(40):  # bulk in id order between the pages and images and what needs them
        signed_in_site.items.append(Item(1300 + n, "post", f"Filler {n}", "<p>" + "Words of filler. " * 400 + "</p>"))
    signed_in_site.items.append(Item(1400, "page", "Grandchild", "<p>Deep.</p>", parent=51))  # 51's parent is 50
    signed_in_site.items.append(Item(1401, "post", "Pictured", "<p>With an image.</p>", featured_media=101))
    _harvest(make_server, db, signed_in_site)
    result = export_wxr(db, tmp_path / "site.xml", max_mb=0.1)
    assert len(result.files) > 3 and result.files[0] == tmp_path / "site-001.xml"
    assert not (tmp_path / "site.xml").exists()
    seen: set[int] = set()
    for path in result.files:
        assert path.stat().st_size <= 0.1 * 1024 * 1024 or len(_items(path)) == 1
        items = _items(path)
        channel = ET.parse(path).getroot().find("channel")
        assert channel is not None and channel.findall("wp:author", NS) and channel.findall("wp:category", NS)
        for wp_id, item in items.items():
            # An item met again is only looked up (the importer finds it made): its parent need not be there.
            parent = int(_text(item, "wp:post_parent"))
            assert parent == 0 or parent in items or wp_id in seen, f"{wp_id} without its parent in {path.name}"
            meta = {_text(m, "wp:meta_key"): _text(m, "wp:meta_value") for m in item.findall("wp:postmeta", NS)}
            assert "_thumbnail_id" not in meta or int(meta["_thumbnail_id"]) in items
        seen |= set(items)
    assert len(seen) == result.items
    last = _items(result.files[-1])
    assert {50, 51, 101} <= set(last)  # ancestors and the featured image, repeated where they are needed
    assert result.repeated >= 3


def test_filters_and_items_no_longer_served(make_server, db, tmp_path) -> None:
    site = sample_site()
    server = _harvest(make_server, db, site)
    site.items = [i for i in site.items if i.id != 1003]  # gone from the site, with its comments
    site.comments = [c for c in site.comments if c.post != 1003]
    assert harvest_site(db, Client(delay=0, auth=(USER, PASSWORD)), server.home + "/", private=True,
                        full=True).status == "ok"
    assert 1003 not in _items(Path(export_wxr(db, tmp_path / "a.xml").files[0]))
    assert 1003 in _items(export_wxr(db, tmp_path / "b.xml", include_deleted=True).files[0])
    pages = _items(export_wxr(db, tmp_path / "c.xml", post_type="page").files[0])
    assert {_text(i, "wp:post_type") for i in pages.values()} == {"page"} and pages
    recent = _items(export_wxr(db, tmp_path / "d.xml", post_type="post", since="2024-01-01").files[0])
    assert recent and all(_text(i, "wp:post_date_gmt") >= "2024-01-01" for i in recent.values())


def test_an_incomplete_item_is_left_out_and_said(make_server, db, tmp_path) -> None:
    _harvest(make_server, db)
    db.execute("UPDATE posts SET incomplete = 'content broke off' WHERE key = '1-1004'")
    result = export_wxr(db, tmp_path / "site.xml")
    assert 1004 not in _items(tmp_path / "site.xml")
    assert any(why.startswith("post 1004") and "only part of it arrived" in why for why in result.left_out)


def test_one_site_to_a_file(make_server, db, db_path, tmp_path) -> None:
    _harvest(make_server, db)
    _harvest(make_server, db)  # another server: another site in the same archive
    with pytest.raises(ExportError, match="holds one site, and 2 match"):
        export_wxr(db, tmp_path / "site.xml")
    site_id = db.execute("SELECT min(id) FROM sites").fetchone()[0]
    assert export_wxr(db, tmp_path / "site.xml", site=str(site_id)).items > 0


def test_the_command_line(make_server, db, db_path, tmp_path) -> None:
    _harvest(make_server, db)
    out = tmp_path / "site.xml"
    result = CliRunner().invoke(cli, ["export", "--db", db_path, "--format", "wxr", str(out)])
    assert result.exit_code == 0, result.output
    assert f"comments to {out}" in result.stderr and len(_items(out)) > 30
    refused = CliRunner().invoke(cli, ["export", "--db", db_path, "--format", "wxr", "-"])
    assert refused.exit_code == 2 and "wxr export needs a file" in refused.stderr
    folder = CliRunner().invoke(cli, ["export", "--db", db_path, "--format", "wxr", str(tmp_path)])
    assert folder.exit_code == 1 and "is a folder" in folder.stderr and "Traceback" not in folder.output


def test_media_url_points_attachments_at_the_downloaded_files(make_server, db, db_path, tmp_path) -> None:
    server = _harvest(make_server, db)
    download_media(db, Client(delay=0), 1, tmp_path / "media")
    path = db.execute("SELECT path FROM files WHERE path IS NOT NULL LIMIT 1").fetchone()[0]
    export_wxr(db, tmp_path / "site.xml", media_url="http://127.0.0.1:9/files")
    urls = {_text(i, "wp:attachment_url") for i in _items(tmp_path / "site.xml").values()
            if _text(i, "wp:post_type") == "attachment"}
    assert f"http://127.0.0.1:9/files/{path}" in urls
    assert all(u.startswith(("http://127.0.0.1:9/files/", server.home)) for u in urls)
    guids = {(_items(tmp_path / "site.xml")[101].find("guid").text or "")}  # type: ignore[union-attr]
    assert all(g.startswith(server.home) for g in guids)  # the original, as WordPress keeps it


def test_an_empty_archive_still_gives_an_importable_file(db, tmp_path) -> None:
    db.execute("INSERT INTO sites (id, home, name) VALUES (1, 'https://example.org', 'Example')")
    result = export_wxr(db, tmp_path / "site.xml")
    assert result.items == 0 and _items(tmp_path / "site.xml") == {}
