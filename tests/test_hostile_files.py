"""Nothing leaves the folder it belongs in: Markdown exports, media files, and the fallback that
reads a site's feed and sitemaps, whatever names, types, dates and addresses a site sends."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import Any
from html import escape as html_escape
from urllib.parse import unquote

import pytest
import yaml
from click.testing import CliRunner

from wparchive.cli import cli
from wparchive.export import write_markdown
from wparchive.static_site import (NAME_BYTES, REDIRECT_PAGES, REDIRECTS_APACHE, REDIRECTS_NETLIFY, REDIRECTS_NGINX,
                                   SITE_FILES, safe_name)
from wparchive.harvest import harvest_site
from wparchive.sample.site import Item, Site

WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{n}" for n in range(10)), *(f"lpt{n}" for n in range(10))}
HOSTILE_SLUGS = [
    "../../../../etc/passwd", "/etc/passwd", "a/../../b", "..", ".", "...", "nul\x00byte", "CON", "nul.txt", "aux",
    "com1", ".htaccess", "_layouts", "_config.yml", "back\\slash\\..\\..", "%2e%2e%2f%2e%2e%2fescape", "a" * 2000,
    "é" * 1000, "日本語" * 400, "😀" * 300, "x" * 253 + "é", "\u202eevil", "tab\tand\nnewline", "",
]
HOSTILE_TYPES = ["post", "page", "../../../tmp/x", "_layouts", ".git", "NUL", "book" * 100, "a/b"]
HOSTILE_DATES = ["2023-03-08T10:00:00", "../../../../x", "2023-02-30T00:00:00", "9999-99-99", "", None,
                 "2023-03-08/../../x", "0000-00-00T00:00:00"]


def _row(n: int, slug: str, post_type: str = "post", date: Any = "2023-03-08T10:00:00", **extra: Any) -> dict[str, Any]:
    return {"key": f"1-{n}", "site_id": 1, "wp_id": n, "type": post_type, "slug": slug, "date": date,
            "modified": date, "title": f"Item {n}", "link": f"https://example.org/?p={n}",
            "content_markdown": f"Body {n}", **extra}


# What a Markdown export writes beside the items, under names of its own rather than the site's.
OWN_FILES = {*SITE_FILES, REDIRECTS_NETLIFY, REDIRECTS_NGINX, REDIRECTS_APACHE}


def _files_under(folder: Path) -> list[Path]:
    """The items' files: every file but those the export names itself."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.relative_to(folder).as_posix() not in OWN_FILES
                  and p.relative_to(folder).parts[0] != REDIRECT_PAGES)


def _assert_confined(out: Path, written: list[Path]) -> None:
    root = out.resolve()
    for path in written:
        assert path.resolve().is_relative_to(root), path
        for part in path.relative_to(out).parts:
            assert len(part.encode("utf-8")) <= NAME_BYTES, (len(part.encode("utf-8")), part[:40])
            assert part == "_posts" or not part.startswith((".", "_")), part
            assert part.split(".")[0].lower() not in WINDOWS_RESERVED, part
            assert not re.search(r"[\x00-\x1f/\\:*?\"<>|]", part), part


def test_hostile_slugs_types_and_dates_stay_inside_the_export(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "out"
    rows = [_row(n, slug) for n, slug in enumerate(HOSTILE_SLUGS, start=1)]
    rows += [_row(100 + n, "same-slug", post_type=kind) for n, kind in enumerate(HOSTILE_TYPES)]
    rows += [_row(200 + n, "dated", date=date) for n, date in enumerate(HOSTILE_DATES)]
    before = set(tmp_path.rglob("*"))
    assert write_markdown(iter(rows), out) == len(rows)
    written = _files_under(out)
    assert len(written) == len(rows)  # every item has a file of its own: none overwrote another
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {
        p.relative_to(out).as_posix() for p in written} == OWN_FILES
    _assert_confined(out, written)
    assert set(tmp_path.rglob("*")) - before == set(out.rglob("*")) | {out, out.parent}  # nothing anywhere else
    for path in written:  # every file is whole: front matter that parses, and its body
        head, body = path.read_text(encoding="utf-8").split("---\n", 2)[1:]
        meta = yaml.safe_load(head)
        assert body.strip() == f"Body {meta['wordpress_id']}"
        assert meta["slug"] in path.stem and not meta["slug"].startswith((".", "_"))
    posts = {p.name for p in (out / "_posts").iterdir()}
    assert all(re.match(r"\d{4}-\d{2}-\d{2}-.", name) for name in posts)  # the names Jekyll wants
    assert "1970-01-01-dated.md" in posts and "2023-03-08-dated.md" in posts  # a date that is none: 1970


def test_long_names_are_cut_between_characters() -> None:
    for slug in ("é" * 1000, "日本語" * 400, "x" * 254 + "é", "a\u0301" * 200):
        name = safe_name(slug, fallback="item")
        assert 250 <= len(name.encode("utf-8")) <= NAME_BYTES
        assert unicodedata.normalize("NFC", slug).startswith(name)  # whole characters, none cut in half
    assert safe_name("😀" * 300, fallback="item-3") == "item-3"  # letters, digits and marks only
    assert safe_name("e\u0301cole", fallback="x") == "\u00e9cole"  # one spelling of a letter: NFC
    assert safe_name("%E6%97%A5%E6%9C%AC", fallback="x") == "日本"  # WordPress's percent-encoded slugs
    assert safe_name("../..", fallback="item-7") == "item-7"
    assert safe_name("CON", fallback="x") == "CON-" and safe_name("lpt1.md", fallback="x") == "lpt1.md-"


def test_names_that_collide_stay_apart_even_without_regard_to_case(tmp_path: Path) -> None:
    rows = [_row(1, "a/b"), _row(2, "a?b"), _row(3, "a-b"), _row(4, "About", post_type="page"),
            _row(5, "about", post_type="page"), _row(6, "ABOUT", post_type="page"), _row(7, "é"),
            _row(8, "e\u0301"), _row(9, "a-b-1")]
    rows.append({**_row(1, "a-b"), "key": "2-1", "site_id": 2})  # another site, the same id and slug
    write_markdown(iter(rows), tmp_path / "out")
    names = [p.relative_to(tmp_path / "out").as_posix() for p in _files_under(tmp_path / "out")]
    assert len(names) == len(rows) == len({n.casefold() for n in names})
    assert "_posts/2023-03-08-a-b.md" in names and "pages/About.md" in names


def test_the_same_archive_exports_to_the_same_names_every_time(tmp_path: Path) -> None:
    rows = [_row(n, slug) for n, slug in enumerate(["x", "x", "x/", "../x", "X"] + HOSTILE_SLUGS, start=1)]
    write_markdown(iter(rows), tmp_path / "one")
    write_markdown(iter(rows), tmp_path / "two")
    write_markdown(iter(rows), tmp_path / "two")  # again into the same folder: the same files, replaced
    one = [p.relative_to(tmp_path / "one") for p in _files_under(tmp_path / "one")]
    two = [p.relative_to(tmp_path / "two") for p in _files_under(tmp_path / "two")]
    assert one == two and len(one) == len(rows)


def test_a_link_inside_the_export_folder_does_not_lead_out(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "_posts").symlink_to(outside, target_is_directory=True)
    from wparchive.errors import ExportError

    with pytest.raises(ExportError, match="outside"):
        write_markdown(iter([_row(1, "x")]), out)
    assert list(outside.iterdir()) == []


def test_front_matter_cannot_be_broken_out_of(tmp_path: Path) -> None:
    titles = ["---", "key: value", "a\n---\nlayout: evil\npermalink: /../../x", "x\n...\ny", "- item", "#", "1e3",
              "0o17", ".inf", "yes", "null", "~", "{{ site.title }}", "'quoted' \"double\"", "x\u2028---\u2029y",
              "nul\x00", "lone \ud800 surrogate", "\ufeffbom", "a: [b, c]", "&anchor *alias !tag"]
    rows = [_row(n, f"t{n}", title=title, author_label=title, categories=[title], tags=[title],
                 excerpt_text=title, link=title) for n, title in enumerate(titles, start=1)]
    write_markdown(iter(rows), tmp_path / "out")
    for n, title in enumerate(titles, start=1):
        text = next((tmp_path / "out" / "_posts").glob(f"*-t{n}.md")).read_text(encoding="utf-8")
        assert text.startswith("---\n")
        head, _ = text[4:].split("\n---\n", 1)  # where Jekyll and Hugo take the front matter to end
        meta = yaml.safe_load(head)
        expected = title.replace("\x00", "\ufffd").replace("\ud800", "\ufffd")
        assert meta["title"] == meta["author"] == meta["summary"] == meta["url_original"] == expected
        assert meta["categories"] == meta["tags"] and len(meta["tags"]) <= 1  # names of folders: see below
        assert set(meta) == {"title", "date", "lastmod", "slug", "url_original", "type", "categories", "tags",
                             "author", "wordpress_id", "site", "summary", "url", "permalink", "render_with_liquid"}
        assert meta["url"] == meta["permalink"] == f"/posts/2023-03-08-t{n}/"  # its permalink, the title here, is no path
        assert meta["render_with_liquid"] is False and meta["wordpress_id"] == n
        assert all(line == "---" or not line.startswith(("---", "...")) for line in head.splitlines())


def test_dates_that_are_no_dates_are_left_out_of_front_matter(tmp_path: Path) -> None:
    rows = [_row(1, "a", date="not a date"), _row(2, "b", date="2023-03-08T10:00:00", site_gmt_offset="1e9"),
            _row(3, "c", date="2023-03-08T10:00:00", site_gmt_offset="5.5")]
    write_markdown(iter(rows), tmp_path / "out")
    metas = {p.stem[11:]: yaml.safe_load(p.read_text().split("---\n", 2)[1]) for p in _files_under(tmp_path / "out")}
    assert metas["a"]["date"] is None
    assert metas["b"]["date"] == "2023-03-08T10:00:00+00:00"  # an offset beyond a day is no offset
    assert metas["c"]["date"] == "2023-03-08T10:00:00+05:30"


def test_a_hostile_site_exports_inside_the_folder_through_the_cli(make_server, client, db, db_path,
                                                                  tmp_path: Path) -> None:
    items = [Item(n, "post", f"Post {n}", "<p>Text</p>", slug=slug, date_gmt="2023-03-08T10:00:00")
             for n, slug in enumerate(["../../../../escape", "a" * 2000, "CON", ".hidden", "nul\x00x"], start=1)]
    items.append(Item(9, "page", "Same", "<p>One</p>", slug="same"))
    items.append(Item(10, "page", "Same", "<p>Two</p>", slug="Same"))
    harvest_site(db, client, make_server(Site(items=items)).home + "/")
    out = tmp_path / "export"
    result = CliRunner().invoke(cli, ["export", str(out), "--db", db_path, "--format", "markdown"])
    assert result.exit_code == 0, result.output
    written = _files_under(out)
    assert len(written) == len(items)
    _assert_confined(out, written)
    assert {p.name for p in tmp_path.iterdir()} == {"archive.db", "export"} | {
        p.name for p in tmp_path.iterdir() if p.name.startswith("archive.db-")}


def test_an_export_through_a_link_is_one_line_of_error(server, client, db, db_path, tmp_path: Path) -> None:
    harvest_site(db, client, server.home + "/")
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(outside, out / "pages")
    result = CliRunner().invoke(cli, ["export", str(out), "--db", db_path, "--format", "markdown"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "outside" in errors[0]
    assert list(outside.iterdir()) == []


def test_categories_and_tags_are_names_site_builders_can_make_folders_of(tmp_path: Path) -> None:
    names = ["Growing", "Food/Drink", "../../_posts/2023-03-08-x", "..", ".hidden", "a\\b", "日本語" * 60, "c" * 300,
             "tab\there", "Growing", "Über Straße & Co"]
    many = [f"category {n}" for n in range(50)]
    write_markdown(iter([_row(1, "x", categories=names + many, tags=names + many)]), tmp_path / "out")
    meta = yaml.safe_load((tmp_path / "out" / "_posts" / "2023-03-08-x.md").read_text().split("---\n", 2)[1])
    assert meta["tags"][:7] == ["Growing", "Food-Drink", "-..-_posts-2023-03-08-x", "hidden", "a-b", "日本語" * 11, "c" * 100]
    assert meta["tags"][7:9] == ["tab-here", "Über Straße & Co"] and len(meta["tags"]) == 9 + 50  # each name once
    assert meta["categories"] == meta["tags"][:20]  # Jekyll puts every category in the post's path
    for name in meta["tags"]:
        assert len(name.encode("utf-8")) <= 100 and "/" not in name and "\\" not in name
        assert not name.startswith((".", " ")) and not name.endswith((".", " "))


# --- Media: names and extensions from the site are never paths -----------------------------------

MEDIA_NAME = re.compile(r"[0-9a-f]{2}/[0-9a-f]{64}(\.[a-z0-9]+)?")
HOSTILE_MEDIA = {  # path on the site → (Content-Type it is sent with, the extension it is stored with)
    "/wp-content/uploads/photo.png": ("image/png/../../../../../tmp/x", ".png"),
    "/wp-content/uploads/page.html": ("text/html; charset=utf-8", ""),
    "/wp-content/uploads/image.svg": ("image/svg+xml", ""),
    "/wp-content/uploads/feed.xml": ("application/xml", ""),
    "/wp-content/uploads/shell.php": ("application/x-httpd-php", ""),
    "/wp-content/uploads/long." + "x" * 300: ("application/x-" + "y" * 300, ""),
    "/wp-content/uploads/%2e%2e%2f%2e%2e%2fescape.png": ("", ".png"),
    "/wp-content/uploads/PICTURE.JPG": ("application/octet-stream", ".jpg"),
    "/wp-content/uploads/dots.png..": ("image/x-unknown", ""),
    "/wp-content/uploads/real.bin": ("image/jpeg", ".jpg"),
}


def _media_site() -> Site:
    images = "".join(f'<img src="{path}" alt="{n}">' for n, path in enumerate(HOSTILE_MEDIA))
    return Site(items=[Item(1, "post", "Pictures", f"<p>{images}</p>", slug="pictures")])


def _hostile_media_server(make_server):  # type: ignore[no-untyped-def]
    server = make_server(_media_site())

    def fault(path: str, query: dict[str, str]):  # type: ignore[no-untyped-def]
        for listed, (content_type, _) in HOSTILE_MEDIA.items():
            if unquote(path) == unquote(listed):  # the client may spell "%2e" as "."
                return 200, {"Content-Type": content_type}, f"<script>alert({path!r})</script>".encode()
        return None

    server.fault = fault
    return server


def test_media_are_named_by_their_hash_and_a_safe_extension_only(make_server, client, db, tmp_path: Path) -> None:
    from wparchive.media import download_media

    result = harvest_site(db, client, _hostile_media_server(make_server).home + "/")
    media = tmp_path / "deep" / "media"
    before = set(tmp_path.rglob("*"))
    counts = download_media(db, client, result.site_id, media)
    assert (counts.downloaded, counts.failed) == (len(HOSTILE_MEDIA), 0)
    stored = {row["url"].split("/uploads/", 1)[1]: row["path"] for row in db["files"].rows}
    for path, (_, extension) in HOSTILE_MEDIA.items():
        name = stored[path.split("/uploads/", 1)[1]]
        assert MEDIA_NAME.fullmatch(name) and name.endswith(extension) and (extension or "." not in name), name
    files = [p for p in media.rglob("*") if p.is_file()]
    assert len(files) == len(HOSTILE_MEDIA)  # one file each, each with different bytes
    assert all(MEDIA_NAME.fullmatch(p.relative_to(media).as_posix()) for p in files)
    assert set(tmp_path.rglob("*")) - before == set(media.rglob("*")) | {media, media.parent}


def test_an_export_copies_only_media_a_page_may_show(make_server, client, db, db_path, tmp_path: Path) -> None:
    from wparchive.media import download_media

    result = harvest_site(db, client, _hostile_media_server(make_server).home + "/")
    download_media(db, client, result.site_id, Path(db_path).with_name("archive-media"))
    with db.conn:  # an archive whose files table says more than media.py ever wrote
        for n, path in enumerate(["../../../../etc/passwd", "/etc/passwd", "ab/../../../x.png", "x" * 64]):
            db["files"].insert({"url": f"https://example.org/f{n}.png", "sha256": "0" * 64, "path": path,
                                "site_id": result.site_id})
    out = tmp_path / "export"
    outcome = CliRunner().invoke(cli, ["export", str(out), "--db", db_path, "--format", "markdown"])
    assert outcome.exit_code == 0, outcome.output
    copied = sorted(p.name for p in (out / "images").iterdir())
    assert len(copied) == 4 and all(re.fullmatch(r"[0-9a-f]{64}\.(png|jpg)", name) for name in copied)
    post = (out / "_posts" / "2024-01-01-pictures.md").read_text(encoding="utf-8")
    assert post.count("](/images/") == 4 and "page.html)" in post  # the others keep their address


# --- The fallback (feed, sitemaps, pages) reads the site's own origin only -----------------------

def _other_sites(make_server):  # type: ignore[no-untyped-def]
    """Another host (127.0.0.2) and another port of this one, both WordPress-like, both watched."""
    from wparchive.sample.content import sample_site

    return make_server(sample_site(), host="127.0.0.2"), make_server(sample_site())


def _listing_elsewhere(make_server, full_text: bool = False):  # type: ignore[no-untyped-def]
    """A site without REST API whose feed and sitemaps also list pages of two other origins (and
    addresses a browser and a URL library could read differently)."""
    from wparchive.sample import theme
    from wparchive.sample.content import sample_site

    site = sample_site()
    server = make_server(site, rest_disabled=True, feed_full_text=full_text)
    other_host, other_port = _other_sites(make_server)
    strangers = [f"{other_host.home}/2023/03/the-compost-question/", f"{other_port.home}/about-us/",
                 f"https://{other_host.host}:{other_host.port}/x/", "javascript:alert(1)",
                 f"http://user:pass@{other_host.host}:{other_host.port}/y/",
                 f"http://{other_host.host}:{other_host.port}\\@{server.host}:{server.port}/z/"]
    entries = "".join(f"<url><loc>{html_escape(url)}</loc></url>" for url in strangers)

    def fault(path: str, query: dict[str, str]):  # type: ignore[no-untyped-def]
        if path == "/wp-sitemap.xml":
            index = theme.sitemap(site, server.home, "wp-sitemap.xml") or ""
            extra = f"<sitemap><loc>{other_host.home}/wp-sitemap-posts-post-1.xml</loc></sitemap>"
            return 200, {"Content-Type": "application/xml"}, index.replace("</sitemapindex>",
                                                                            extra + "</sitemapindex>").encode()
        if path == "/wp-sitemap-posts-post-1.xml":
            own = theme.sitemap(site, server.home, "wp-sitemap-posts-post-1.xml") or ""
            return 200, {"Content-Type": "application/xml"}, own.replace("</urlset>", entries + "</urlset>").encode()
        if path.rstrip("/") == "/feed" and not query.get("paged"):
            feed = theme.feed_rss2(site, server.home, 1, full_text) or ""
            item = (f"<item><title>Not ours</title><link>{other_host.home}/elsewhere/</link><guid>{other_host.home}/?p=7"
                    f"</guid><description>x</description><content:encoded><![CDATA[<p>Someone else's</p>]]>"
                    f"</content:encoded></item>")
            return 200, {"Content-Type": "application/rss+xml"}, feed.replace("</channel>",
                                                                            item + "</channel>").encode()
        return None

    server.fault = fault
    return server, other_host, other_port, strangers


@pytest.mark.parametrize("full_text", [True, False])
def test_a_feed_and_sitemaps_listing_other_sites_do_not_make_us_fetch_or_store_them(
        make_server, client, db, full_text: bool) -> None:
    server, other_host, other_port, strangers = _listing_elsewhere(make_server, full_text)
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "ok", result.errors
    assert other_host.requests == [] and other_port.requests == []  # not one request to another origin
    links = [row["link"] for row in db["posts"].rows]
    assert len(links) == 29 and all(link.startswith(server.home + "/") for link in links)
    skipped = {row["url"]: row for row in db.query("SELECT * FROM harvest_errors WHERE reason = 'off_origin'")}
    assert set(skipped) == {*strangers, f"{other_host.home}/wp-sitemap-posts-post-1.xml",
                            f"{other_host.home}/elsewhere/"}
    assert all(row["retry"] == 0 and "not fetched" in row["message"] for row in skipped.values())
    assert any("8 URLs that the feed or sitemaps list are not on" in note for note in result.notes)


def test_a_feed_that_names_another_site_as_its_home_does_not_move_the_harvest(make_server, client, db) -> None:
    from wparchive.sample import theme
    from wparchive.sample.content import sample_site

    site = sample_site()
    server = make_server(site, rest_disabled=True)
    other_host, other_port = _other_sites(make_server)

    def fault(path: str, query: dict[str, str]):  # type: ignore[no-untyped-def]
        if path.rstrip("/") == "/feed":
            feed = theme.feed_rss2(site, server.home, int(query.get("paged") or 1)) or ""
            return 200, {"Content-Type": "application/rss+xml"}, re.sub(
                r"<link>[^<]*</link>", f"<link>{other_host.home}</link>", feed, count=1).encode()
        if path == "/":  # the page names a feed on another port
            return 200, {"Content-Type": "text/html"}, (
                f'<html><head><link rel="alternate" type="application/rss+xml" href="{other_port.home}/feed/">'
                f"</head><body>Home</body></html>").encode()
        return None

    server.fault = fault
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "ok", result.errors
    assert other_host.requests == [] and other_port.requests == []
    assert db["sites"].get(result.site_id)["home"] == server.home
    assert db["posts"].count == 29


def test_a_listed_page_that_redirects_to_another_origin_is_not_stored(make_server, client, db) -> None:
    server = make_server(rest_disabled=True, feed_full_text=False)
    other_port = make_server()  # the same host name on another port: the client follows there
    moved = "/2023/03/the-compost-question/"
    server.fault = lambda path, query: (301, {"Location": other_port.home + moved}, b"") if path == moved else None
    result = harvest_site(db, client, server.home + "/")
    assert result.status == "partial"
    assert "1-1002" not in {row["key"] for row in db["posts"].rows} and db["posts"].count == 28
    assert [(row["url"], row["reason"]) for row in db.query("SELECT * FROM harvest_errors")] == [
        (server.home + moved, "off_origin")]
    assert all(row["link"].startswith(server.home + "/") for row in db["posts"].rows)
