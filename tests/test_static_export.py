"""The Markdown export as a static site: every item at a URL of its own (its old permalink where it
can be), old addresses redirected, links between items and to media leading to their new place."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from click.testing import CliRunner

from wparchive.cli import cli
from wparchive.export import write_markdown
from wparchive.harvest import harvest_site
from wparchive.media import download_media
from wparchive.sample.site import Item, Site, tiny_png
from wparchive.static_site import (REDIRECTS_APACHE, REDIRECTS_NETLIFY, REDIRECTS_NGINX, SITE_FILES, clean_path,
                                   safe_name)

COMPOST = "_posts/2023-03-08-the-compost-question.md"
NEW_SLUG = "hot-or-cold-compost"


def _export(db_path: str, out: Path, *options: str) -> None:
    result = CliRunner().invoke(cli, ["export", str(out), "--db", db_path, "--format", "markdown", *options],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _meta(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8").split("---\n", 2)[1])


def _body(path: Path) -> str:
    return path.read_text(encoding="utf-8").split("---\n", 2)[2]


def _row(n: int, link: str, post_type: str = "post", **extra: Any) -> dict[str, Any]:
    return {"key": f"1-{n}", "site_id": 1, "wp_id": n, "type": post_type, "slug": f"item-{n}",
            "date": "2023-03-08T10:00:00", "title": f"Item {n}", "link": link, "content_markdown": f"Body {n}",
            **extra}


def test_a_slug_changed_between_harvests_keeps_every_old_address(server, client, db, db_path, tmp_path) -> None:
    harvest_site(db, client, server.home + "/")
    compost = next(item for item in server.site.items if item.id == 1002)
    compost.slug, compost.modified_gmt = NEW_SLUG, "2024-07-01T00:00:00"
    harvest_site(db, client, server.home + "/")
    out = tmp_path / "site"
    _export(db_path, out)

    meta = _meta(out / f"_posts/2023-03-08-{NEW_SLUG}.md")
    assert meta["url"] == meta["permalink"] == f"/2023/03/{NEW_SLUG}/"  # its permalink: no redirect needed
    assert meta["aliases"] == meta["redirect_from"] == ["/2023/03/the-compost-question/"]
    about = _meta(out / "pages" / "about.md")
    assert about["url"] == "/about/" and "aliases" not in about
    # The welcome post links to the compost post by its old permalink: the links table knows it.
    assert f"[compost question](/2023/03/{NEW_SLUG}/)" in _body(out / "_posts/2023-03-01-welcome-to-the-allotment-almanac.md")

    netlify = (out / REDIRECTS_NETLIFY).read_text().splitlines()
    assert f"/2023/03/the-compost-question/ /2023/03/{NEW_SLUG}/ 301" in netlify
    assert f"/ p=1002 /2023/03/{NEW_SLUG}/ 301" in netlify and "/ page_id=50 /about/ 301" in netlify
    assert "/ page_id=1002" not in "\n".join(netlify)  # page_id is for pages
    nginx = (out / REDIRECTS_NGINX).read_text()
    assert f'    "/2023/03/the-compost-question/" "/2023/03/{NEW_SLUG}/";' in nginx
    assert f'    "/2023/03/the-compost-question" "/2023/03/{NEW_SLUG}/";' in nginx
    assert f'    "/?p=1002" "/2023/03/{NEW_SLUG}/";' in nginx
    apache = (out / REDIRECTS_APACHE).read_text().splitlines()
    assert f"RewriteRule ^/?2023/03/the-compost-question/?$ /2023/03/{NEW_SLUG}/ [R=301,L,NE]" in apache
    position = apache.index("RewriteCond %{QUERY_STRING} ^p=1002$")
    assert apache[position + 1] == f"RewriteRule ^/?$ /2023/03/{NEW_SLUG}/ [R=301,L,NE,QSD]"
    # Jekyll's redirect page at the old path; Hugo writes its own from aliases.
    pages = [_meta(page) | {"text": page.read_text()} for page in (out / "redirects").iterdir()]
    assert [page["permalink"] for page in pages] == ["/2023/03/the-compost-question/"]
    assert f'url=/2023/03/{NEW_SLUG}/"' in pages[0]["text"] and pages[0]["layout"] is None


def _linking_site() -> Site:
    target = Item(10, "post", "Target", "<p>Here.</p>", slug="target", date_gmt="2023-01-05T10:00:00")
    page = Item(11, "page", "Info", "<p>Info.</p>", slug="info", date_gmt="2023-01-01T10:00:00")
    picture = Item(101, "attachment", "Pic", file="2024/04/pic.jpg", mime_type="image/jpeg", width=1, height=1,
                   date_gmt="2023-01-01T10:00:00")
    links = Item(12, "post", "Links", "\n".join([
        '<p><a href="/?p=10">by id</a> <a href="/?page_id=11">page by id</a>',
        '<a href="/2023/01/target/#part">by permalink</a> <a href="/?attachment_id=101">attachment page</a>',
        '<a href="/wp-content/uploads/2024/04/pic.jpg">the file</a> <a href="/no-such-page/">nowhere</a>',
        '<a href="https://example.org/2023/01/target/">elsewhere</a></p>',
        '<p><img src="/wp-content/uploads/2024/04/pic.jpg" alt="A pic"></p>',
        '<pre><code>[code](/?p=10)</code></pre>']), slug="links", date_gmt="2023-01-02T10:00:00")
    return Site(items=[target, page, picture, links], files={"/wp-content/uploads/2024/04/pic.jpg": tiny_png("pic")})


def test_links_to_archived_items_and_downloaded_media_lead_to_their_new_place(make_server, client, db, db_path,
                                                                             tmp_path) -> None:
    server = make_server(_linking_site())
    result = harvest_site(db, client, server.home + "/")
    download_media(db, client, result.site_id, Path(db_path).with_name("archive-media"))
    # The guid of an item is its ?p= address, absolute; a link by it leads to the item too.
    with db.conn:
        db.execute("UPDATE posts SET content_markdown = content_markdown || ? WHERE wp_id = 12",
                   [f"\n\n[by guid]({server.home}/?p=10) <{server.home}/?p=10>"])
    out = tmp_path / "site"
    _export(db_path, out)
    body = _body(out / "_posts/2023-01-02-links.md")
    image = next(p.name for p in (out / "images").iterdir())
    assert "[by id](/2023/01/target/)" in body and "[page by id](/info/)" in body
    assert "[by permalink](/2023/01/target/#part)" in body
    assert f"[attachment page](/images/{image})" in body and f"[the file](/images/{image})" in body
    assert f"![A pic](/images/{image})" in body
    assert f"[nowhere]({server.home}/no-such-page/)" in body  # not archived: its address is kept
    assert "[elsewhere](https://example.org/2023/01/target/)" in body
    assert "[code](/?p=10)" in body  # code shows what it showed
    assert f"[by guid](/2023/01/target/) [{server.home}/?p=10](/2023/01/target/)" in body


def test_only_addresses_outside_code_are_rewritten() -> None:
    from wparchive.export import with_destinations

    markdown = ("See [a](https://example.org/a/ \"title\") and `[a](https://example.org/a/)`\n"
                "```\n[a](https://example.org/a/)\n```\n> ```\n> <https://example.org/a/>\n> ```\n"
                "<https://example.org/a/> ![i](https://example.org/a/)")
    rewritten = with_destinations(markdown, lambda href: "/new/" if href == "https://example.org/a/" else None)
    assert rewritten.splitlines() == [
        "See [a](/new/ \"title\") and `[a](https://example.org/a/)`",
        "```", "[a](https://example.org/a/)", "```", "> ```", "> <https://example.org/a/>", "> ```",
        "[https://example.org/a/](/new/) ![i](/new/)"]


def test_each_item_gets_a_url_of_its_own_from_its_permalink_where_it_can(tmp_path) -> None:
    rows = [
        _row(1, "https://example.org/2023/03/kept/"),
        _row(2, "https://example.org/?p=2"),  # plain permalinks: no page can stand there
        _row(3, "https://example.org/2023/03/kept/"),  # taken by the first
        _row(4, "https://example.org/2023/03/KEPT"),  # the same to a case-insensitive file system
        _row(5, "https://example.org/images/x/"),  # the export's own folder
        _row(6, "https://example.org/a//b/"),
        _row(7, "https://example.org/a/../../b/"),
        _row(8, "https://example.org/%e6%97%a5%e6%9c%ac/", post_type="page"),
        _row(9, "https://example.org/archive/post.html"),
        _row(10, "https://example.org/no-slash"),
        _row(11, "https://example.org/"),  # the home page is the export's
        _row(12, "https://example.org/CON/"),
        _row(13, "javascript:alert(1)//"),
        _row(14, "https://example.org/pages/"),  # Hugo's list of the pages folder
    ]
    write_markdown(iter(rows), tmp_path / "out")
    urls = {int(meta["wordpress_id"]): meta["url"] for meta in map(_meta, (tmp_path / "out").rglob("*.md"))}
    assert urls == {
        1: "/2023/03/kept/", 2: "/posts/2023-03-08-item-2/", 3: "/posts/2023-03-08-item-3/",
        4: "/posts/2023-03-08-item-4/", 5: "/posts/2023-03-08-item-5/", 6: "/posts/2023-03-08-item-6/",
        7: "/posts/2023-03-08-item-7/", 8: "/日本/", 9: "/archive/post.html", 10: "/no-slash/",
        11: "/posts/2023-03-08-item-11/", 12: "/posts/2023-03-08-item-12/", 13: "/posts/2023-03-08-item-13/",
        14: "/posts/2023-03-08-item-14/"}
    assert "aliases" not in _meta(tmp_path / "out" / "pages" / "item-8.md")  # /?page_id=8 is for the maps
    redirects = (tmp_path / "out" / REDIRECTS_NETLIFY).read_text()
    assert "/%e6%97%a5%e6%9c%ac/" not in redirects  # its own address: nothing to redirect
    assert "/ p=2 /posts/2023-03-08-item-2/ 301" in redirects


def test_clean_paths_are_made_of_safe_names_only() -> None:
    assert clean_path("https://example.org/2023/03/x/") == "/2023/03/x/"
    assert clean_path("/caf%C3%A9") == "/café/"
    for unclean in ["/", "", "/?p=1", "/a/?x=1", "/./x/", "/../x/", "/a b/", "/.hidden/", "/_layouts/", "/x%00/",
                    "/%ff/", "/tags/x/", "/a\\b/", "/a;b/", "/e\u0301/", "http://[::1/x/",
                    "/" + "a" * 300 + "/", 12, None]:
        assert clean_path(unclean) is None, unclean
    deep = "/" + "/".join(["a" * 200] * 6) + "/"
    assert clean_path(deep) == deep  # each part a name; the whole is held to URL_BYTES when claimed


HOSTILE_LINKS = [
    'https://example.org/a b"; return 200 "x/', "https://example.org/x\n}\nserver {\n", "https://example.org/$1/%2/",
    "https://example.org/a%20b%22;%0Ax/", "https://example.org/?p=1&x=$y\"z", "https://example.org/%zz/\\",
    "https://example.org/ünï/", "https://example.org/\ud800/", "https://example.org/#{x}",
    "https://example.org/a'b<c>{d}|e^f`g/",
]


def test_redirect_maps_hold_no_syntax_from_the_site(tmp_path) -> None:
    rows = [_row(n, link) for n, link in enumerate(HOSTILE_LINKS, start=1)]
    earlier = {f"1-{n}": [link.replace("example.org/", "example.org/old/")] for n, link in enumerate(HOSTILE_LINKS, 1)}
    from wparchive.static_site import SitePlan, write_redirect_maps

    plan = SitePlan(rows, earlier_links=earlier)
    out = tmp_path / "out"
    out.mkdir()
    write_redirect_maps(out, plan)
    path = r"/[A-Za-z0-9%/._~?=&-]*"
    netlify = (out / REDIRECTS_NETLIFY).read_text().splitlines()
    nginx = (out / REDIRECTS_NGINX).read_text().splitlines()
    apache = (out / REDIRECTS_APACHE).read_text().splitlines()
    assert all(re.fullmatch(rf"#[^\n]*|{path}( [A-Za-z0-9%._~-]+=[A-Za-z0-9%._~-]*)* {path} 301", line)
               for line in netlify), netlify
    body = nginx[nginx.index("map $request_uri $wparchive_redirect {") + 2:]
    assert body[-1] == "}" and all(re.fullmatch(rf'    "{path}" "{path}";', line) for line in body[:-1]), body
    for line in apache:
        assert re.fullmatch(r"#[^\n]*|RewriteEngine On|RewriteCond %\{QUERY_STRING\} \^[A-Za-z0-9%._~=&\\-]+\$"
                            r"|RewriteRule \^/\?([A-Za-z0-9/_~-]|\\\.|\\x[0-9A-F]{2})*(/\?)?\$ "
                            r"/([A-Za-z0-9/._~-]|\\%[0-9A-F]{2})* \[R=301,L,NE(,QSD)?\]", line), line
    assert len(netlify) > 10 and len(body) > 10 and len(apache) > 10  # the hostile addresses are there, escaped
    assert '    "/a%20b%22;%20return%20200%20%22x/" ' not in nginx  # ";" is escaped too
    assert any(line.startswith('    "/a%20b%22%3B%20return%20200%20%22x/" ') for line in nginx)
    assert any("^/?old/\\xC3\\xBCn\\xC3\\xAF/?$" in line for line in apache)  # Apache matches the decoded path
    assert not any(line.startswith(("RewriteRule ^/?$", "RewriteRule ^/?/?$")) for line in apache
                   if "QSD" not in line)  # the home page is never sent away: "https://example.org/#{x}"
    assert '    "/" ' not in "\n".join(nginx) and not any(line.startswith("/ /") for line in netlify)


def test_urls_in_front_matter_are_paths_inside_the_site(tmp_path) -> None:
    rows = [_row(n, link) for n, link in enumerate(HOSTILE_LINKS + ["https://example.org/../../../etc/",
                                                                   "file:///etc/passwd"], start=1)]
    write_markdown(iter(rows), tmp_path / "out")
    for meta in map(_meta, (tmp_path / "out").rglob("*.md")):
        for url in [meta["url"], meta["permalink"], *meta.get("aliases", []), *meta.get("redirect_from", [])]:
            assert url.startswith("/") and not url.startswith("//") and ":" not in url
            assert not re.search(r"[\x00-\x20\x7f\"'<>\\]", url), url
            assert all(part == safe_name(part, fallback="") for part in url.strip("/").split("/")), url


def test_no_layouts_writes_content_front_matter_and_maps_only(server, client, db, db_path, tmp_path) -> None:
    harvest_site(db, client, server.home + "/")
    _export(db_path, tmp_path / "plain", "--no-layouts")
    _export(db_path, tmp_path / "site")
    plain = {p.relative_to(tmp_path / "plain").as_posix() for p in (tmp_path / "plain").rglob("*") if p.is_file()}
    site = {p.relative_to(tmp_path / "site").as_posix() for p in (tmp_path / "site").rglob("*") if p.is_file()}
    assert site - plain == set(SITE_FILES)  # no slug changed here: no redirect pages either
    assert {REDIRECTS_NETLIFY, REDIRECTS_NGINX, REDIRECTS_APACHE} <= plain
    assert all(name.endswith(".md") for name in plain - {REDIRECTS_NETLIFY, REDIRECTS_NGINX, REDIRECTS_APACHE})
    assert _meta(tmp_path / "plain" / COMPOST)["url"] == "/2023/03/the-compost-question/"


# WordPress keeps a slug in another script percent-encoded (lower case), as its permalink has it.
GREEK, RUSSIAN, CHINESE = "αθήνα-και-πειραιάς", "привет-мир", "你好世界"


def _non_latin_site() -> Site:
    def item(n: int, slug: str, post_type: str = "post") -> Item:
        return Item(n, post_type, f"Title {n}", f"<p>Text {n}.</p>", slug=quote(slug).lower(),
                    date_gmt="2024-05-01T10:00:00")
    # NFD: the letters of the Greek slug, decomposed; and a slug too long to be a name.
    return Site(items=[item(1, GREEK), item(2, RUSSIAN), item(3, CHINESE), item(4, CHINESE, "page"),
                       item(5, unicodedata.normalize("NFD", GREEK)), item(6, "日本語/" * 40)])


def test_non_latin_slugs_stay_readable_in_names_and_their_old_addresses_keep_working(make_server, client, db,
                                                                                     db_path, tmp_path) -> None:
    server = make_server(_non_latin_site())
    harvest_site(db, client, server.home + "/")
    out = tmp_path / "site"
    _export(db_path, out)

    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.md"))
    assert f"_posts/2024-05-01-{GREEK}.md" in names and f"_posts/2024-05-01-{RUSSIAN}.md" in names
    assert f"_posts/2024-05-01-{CHINESE}.md" in names and f"pages/{CHINESE}.md" in names
    # The decomposed slug is the same name once composed (NFC): the later item gets its id added.
    assert f"_posts/2024-05-01-{GREEK}-5.md" in names
    cut = next(Path(n) for n in names if "日本語" in n)  # "/" became "-", and the name was cut between characters
    assert cut.parent.name == "_posts" and len(cut.name.encode("utf-8")) <= 255
    assert cut.stem.startswith("2024-05-01-日本語-日本語-") and unicodedata.is_normalized("NFC", cut.name)
    greek = _meta(out / f"_posts/2024-05-01-{GREEK}.md")
    assert greek["slug"] == GREEK and greek["url"] == f"/2024/05/{GREEK}/"  # its permalink, as readers see it
    # The old address as browsers send it, percent-encoded, leads to the item's URL in every map.
    moved = _meta(out / f"_posts/2024-05-01-{GREEK}-5.md")
    old, new = quote(f"/2024/05/{unicodedata.normalize('NFD', GREEK)}/").lower(), quote(moved["url"]).lower()
    assert f"{old} {new} 301" in (out / REDIRECTS_NETLIFY).read_text().lower()
    assert f'"{old}" "{new}";' in (out / REDIRECTS_NGINX).read_text().lower()
    assert f"/ p=1 {quote(greek['url'])} 301" in (out / REDIRECTS_NETLIFY).read_text()
