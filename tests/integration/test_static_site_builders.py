"""The Markdown export as real Hugo and Jekyll read it (Debian's packages, installed when missing)."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlsplit

import lxml.html
import pytest
import yaml
from click.testing import CliRunner

from harness import Unavailable, ensure_debian_packages
from wparchive.cli import cli
from wparchive.harvest import harvest_site
from wparchive.media import download_media
from wparchive.sample.site import Item

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def builders() -> None:
    try:
        ensure_debian_packages(["hugo", "jekyll"], lambda: bool(shutil.which("hugo") and shutil.which("jekyll")))
    except Unavailable as exc:
        pytest.skip(str(exc))


NEW_SLUG = "hot-or-cold-compost"
GREEK_SLUG = quote("κήποι-της-αθήνας").lower()  # as WordPress keeps a slug in another script
LINKS = "\n".join([
    '<p><a href="/?p=1005">by id</a> <a href="{home}/?p=1007">by guid</a>',
    '<a href="/2023/03/the-compost-question/#top">by the old permalink</a>',
    '<a href="/?attachment_id=101">an attachment page</a> <a href="/wp-content/uploads/2024/03/minutes-2024.pdf">a file</a>',
    '<a href="/visit/">a page</a></p>'])


@pytest.fixture
def migrated(builders, server, client, db, db_path, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    """The sample site harvested, then again after a slug changed and a post that links every way
    was added, its media downloaded, and exported as a site."""
    result = harvest_site(db, client, server.home + "/")
    compost = next(item for item in server.site.items if item.id == 1002)
    compost.slug, compost.modified_gmt = NEW_SLUG, "2024-07-01T00:00:00"
    server.site.items.append(Item(1030, "post", "Links of every kind", LINKS.format(home=server.home),
                                  date_gmt="2024-07-02T10:00:00", terms={"category": [2]}))
    server.site.items.append(Item(1031, "post", "Κήποι της Αθήνας", "<p>Ντομάτες.</p>", slug=GREEK_SLUG,
                                  date_gmt="2024-07-03T10:00:00"))
    harvest_site(db, client, server.home + "/")
    download_media(db, client, result.site_id, Path(db_path).with_name("archive-media"))
    folder = tmp_path / "site"
    exported = CliRunner().invoke(cli, ["export", str(folder), "--db", db_path, "--format", "markdown"])
    assert exported.exit_code == 0, exported.output
    return folder


def _items(folder: Path) -> dict[int, dict]:  # type: ignore[type-arg]
    metas = (yaml.safe_load(p.read_text(encoding="utf-8").split("---\n", 2)[1]) for p in folder.rglob("*.md"))
    return {meta["wordpress_id"]: meta for meta in metas}


def _page(built: Path, url: str) -> Path:
    """The file a server answers url with from the built site (url decoded, its query left out)."""
    path = built / unquote(urlsplit(url).path).lstrip("/")
    return path / "index.html" if url.endswith("/") or path.is_dir() else path


def _check_site(built: Path, items: dict[int, dict], home: str, dead: set[str]) -> None:  # type: ignore[type-arg]
    """Every item has its page; every link and image of every built page leads to a built file,
    but links the archive itself could not resolve (dead); every old path a page can stand at
    redirects to the item's page."""
    for meta in items.values():
        assert _page(built, meta["url"]).is_file(), meta["url"]
        for alias in meta.get("aliases", []):
            redirect = _page(built, alias).read_text(encoding="utf-8")
            assert f'url={quote(meta["url"])}"' in redirect, alias
    left = set()
    for page in built.rglob("*.html"):
        url = "/" + page.relative_to(built).as_posix()
        for element in lxml.html.fromstring(page.read_bytes()).iter("a", "img"):
            address = element.get("href" if element.tag == "a" else "src")
            if address is None or address.startswith(("mailto:", "#")):
                continue
            parts = urlsplit(address)
            if parts.netloc:
                assert not home.endswith(parts.netloc) or address in dead, (page, address)
                left |= {address} if address in dead else set()
                continue
            assert _page(built, urljoin(url, address)).is_file(), (page, address)
    assert left == dead


def test_hugo_and_jekyll_build_the_export_as_it_is_and_break_no_old_address(migrated: Path, db, server,
                                                                           tmp_path: Path) -> None:
    items = _items(migrated)
    assert len(items) == 31
    assert (migrated / "_posts/2024-07-03-κήποι-της-αθήνας.md").is_file()
    assert items[1031]["url"] == "/2024/07/κήποι-της-αθήνας/"  # its permalink, readable
    compost = items[1002]
    assert compost["url"] == f"/2023/03/{NEW_SLUG}/" and compost["aliases"] == ["/2023/03/the-compost-question/"]
    # The sample's About page links to /about/committee/, which WordPress never had either.
    dead = {href for (href,) in db.execute("SELECT href FROM links WHERE internal = 1 AND target IS NULL")
            if href.endswith("/about/committee/")}
    assert len(dead) == 1

    listing = subprocess.run(["hugo", "list", "all"], cwd=migrated, capture_output=True, text=True, check=True)
    pages = list(csv.DictReader(io.StringIO(listing.stdout)))
    assert len(pages) == len(items)
    hugo_compost = next(p for p in pages if p["slug"] == NEW_SLUG)
    assert hugo_compost["title"] == "The compost question" and hugo_compost["date"] == "2023-03-08T19:30:00+01:00"
    hugo = subprocess.run(["hugo", "--destination", str(tmp_path / "hugo")], cwd=migrated, capture_output=True,
                          text=True)
    assert hugo.returncode == 0, hugo.stderr
    jekyll = subprocess.run(["jekyll", "build", "--source", str(migrated), "--destination", str(tmp_path / "jekyll"),
                             "--quiet"], capture_output=True, text=True)
    assert jekyll.returncode == 0, jekyll.stderr

    for built in (tmp_path / "hugo", tmp_path / "jekyll"):
        _check_site(built, items, server.home, dead)
        assert (built / "_redirects").is_file()
        assert not list(built.rglob("*.conf")) and not (built / "layouts").exists()  # nor server configuration
        links = _page(built, items[1030]["url"]).read_text(encoding="utf-8")
        for target in [items[1005]["url"], items[1007]["url"], f"{compost['url']}#top", items[52]["url"]]:
            assert f'href="{target}"' in links, target
        assert links.count('href="/images/') == 2  # the attachment's page and the PDF: their copies
        compost_page = _page(built, compost["url"]).read_text(encoding="utf-8")
        assert "Hot or cold? We tried both." in compost_page

    maps = {name: (migrated / name).read_text(encoding="utf-8") for name in
            ("_redirects", "_nginx-redirects.conf", "_apache-redirects.conf")}
    for meta in items.values():
        new = quote(meta["url"])
        assert f"/ p={meta['wordpress_id']} {new} 301" in maps["_redirects"]
        assert f'"/?p={meta["wordpress_id"]}" "{new}";' in maps["_nginx-redirects.conf"]
        assert f"RewriteCond %{{QUERY_STRING}} ^p={meta['wordpress_id']}$" in maps["_apache-redirects.conf"]
    assert f"/2023/03/the-compost-question/ {compost['url']} 301" in maps["_redirects"]
    assert f'"/2023/03/the-compost-question/" "{compost["url"]}";' in maps["_nginx-redirects.conf"]
    assert f"RewriteRule ^/?2023/03/the-compost-question/?$ {compost['url']} [R=301,L,NE]" in maps[
        "_apache-redirects.conf"]


# --- Hostile content: built by the real Jekyll and Hugo, nothing from it runs -------------------

CODE_WITH_TEMPLATES = (
    "<pre>{{&lt; youtube x &gt;}} {{% note %}} {% raw %} {% endraw %} {{ site.title }} {% include nothing.html %}"
    "</pre><p><code>{{&lt; figure src=\"x\" &gt;}}</code> and <code>{{&lt; never closed</code></p>"
    "<ul><li>item<pre>&lt;b&gt;{% include nothing.html %}</pre></li></ul>"
)
CODE_SHOWN = ["{% raw %} {% endraw %} {{ site.title }} {% include nothing.html %}", "<b>{% include nothing.html %}"]
HOSTILE_TITLE = "Case &lt;script&gt;alert(&#039;title&#039;)&lt;/script&gt; {{ site.title }} --- key: value"
TITLE_SHOWN = "<script>alert('title')</script> {{ site.title }} --- key: value"


@pytest.fixture
def hostile_export(builders, make_server, client, db, db_path, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    from test_hostile_content import HOSTILE, LEGACY_MARKDOWN

    from wparchive.sample.site import Site, TermItem

    terms = [TermItem(1, "category", "../../_posts/case-1"), TermItem(2, "category", "c" * 300),
             TermItem(3, "category", ".."), TermItem(4, "post_tag", "{{ site.title }}"),
             TermItem(5, "post_tag", "日本語" * 100)]
    contents = [html for html, _ in HOSTILE.values()] + [CODE_WITH_TEMPLATES, "<p>Cleaned long ago</p>"]
    slugs = ["../../../../escape", "a" * 2000, ".hidden", "_layouts", "CON"]
    items = [Item(n, "post", f"{HOSTILE_TITLE} {n}", html, slug=slugs[n - 1] if n <= len(slugs) else f"case-{n}",
                  date_gmt="2023-03-08T10:00:00", terms={"category": [1, 2, 3], "post_tag": [4, 5]})
             for n, html in enumerate(contents, start=1)]
    harvest_site(db, client, make_server(Site(items=items, terms=terms)).home + "/")
    with db.conn:  # the last one as an earlier wparchive cleaned it, before text was escaped
        db.execute("UPDATE posts SET content_markdown = ? WHERE wp_id = ?", [LEGACY_MARKDOWN, len(items)])
    folder = tmp_path / "content"
    # Content alone: the tests bring layouts that show each item's WordPress id.
    result = CliRunner().invoke(cli, ["export", str(folder), "--db", db_path, "--format", "markdown", "--no-layouts"])
    assert result.exit_code == 0, result.output
    assert len(list(folder.rglob("*.md"))) == len(items)
    return folder


def _expected_texts() -> dict[int, list[str]]:
    from test_hostile_content import HOSTILE

    shown = {n: texts for n, (_, texts) in enumerate(HOSTILE.values(), start=1)}
    shown[len(shown) + 1] = CODE_SHOWN
    shown[len(shown) + 1] = ["Literal <script>alert(1)</script> and <img src=x onerror=alert(2)>", "<i>code</i>"]
    return shown


def _check_built_pages(pages: dict[int, Path], site_root: Path) -> None:
    """Every page: nothing from the content runs, and it shows what the original page showed."""
    from test_hostile_content import SAFE_ATTRIBUTES

    expected = _expected_texts()
    assert sorted(pages) == sorted(expected)
    for number, page in pages.items():
        assert page.resolve().is_relative_to(site_root.resolve())
        body = lxml.html.fromstring(page.read_text(encoding="utf-8")).find("body")
        for element in body.iter():
            if not isinstance(element.tag, str):
                continue
            assert element.tag not in ("script", "iframe", "object", "embed", "svg", "style", "abbr"), number
            assert set(element.attrib) <= SAFE_ATTRIBUTES | {"class", "id", "tabindex"}, (number, element.attrib)
            for name in ("href", "src"):
                url = "".join(element.get(name, "").split()).lower()
                if ":" in url.split("/", 1)[0]:
                    assert url.split(":", 1)[0] in ("http", "https", "mailto") or url.startswith("data:image/png"), url
        # Typographers turn quotes curly; the characters themselves are what is checked.
        text = " ".join(body.text_content().split()).translate({ord(c): '"' for c in "“”„"} | {ord("’"): "'"})
        assert TITLE_SHOWN in text, (number, text[:200])
        for literal in expected[number]:
            assert literal in text, (number, literal, text[:500])


def _wordpress_id(text: str) -> int:
    return int(text.split('<p class="wpid">', 1)[1].split("<", 1)[0])


def test_jekyll_builds_hostile_content_and_none_of_it_runs(hostile_export: Path, tmp_path: Path) -> None:
    source = tmp_path / "jekyll"
    shutil.copytree(hostile_export, source)
    (source / "_layouts").mkdir()
    (source / "_layouts" / "default.html").write_text(
        '<html><head><meta charset="utf-8"></head><body><h1>{{ page.title | escape }}</h1>'
        '<p class="wpid">{{ page.wordpress_id }}</p>{{ content }}</body></html>\n')
    (source / "_config.yml").write_text('defaults:\n  - scope: {path: ""}\n    values: {layout: default}\n')
    before = set(tmp_path.iterdir())
    out = tmp_path / "site"
    build = subprocess.run(["jekyll", "build", "--source", str(source), "--destination", str(out), "--quiet"],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    assert set(tmp_path.iterdir()) - before == {out}
    pages = {_wordpress_id(p.read_text(encoding="utf-8")): p for p in out.rglob("*.html")}
    _check_built_pages(pages, out)


def test_hugo_builds_hostile_content_and_none_of_it_runs(hostile_export: Path, tmp_path: Path) -> None:
    site = tmp_path / "hugo"
    (site / "layouts" / "_default").mkdir(parents=True)
    (site / "layouts" / "_default" / "single.html").write_text(
        '<html><head><meta charset="utf-8"></head><body><h1>{{ .Title }}</h1>'
        '<p class="wpid">{{ .Params.wordpress_id }}</p>{{ .Content }}</body></html>\n')
    (site / "layouts" / "_default" / "list.html").write_text("<html><body>{{ .Title }}</body></html>\n")
    (site / "config.toml").write_text(f'baseURL = "http://example.org/"\ncontentDir = "{hostile_export}"\n')
    before = set(tmp_path.iterdir())
    out = tmp_path / "public"
    build = subprocess.run(["hugo", "--destination", str(out)], cwd=site, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    assert set(tmp_path.iterdir()) - before == {out}
    pages = {_wordpress_id(p.read_text(encoding="utf-8")): p for p in out.rglob("*.html") if 'class="wpid"' in
             p.read_text(encoding="utf-8")}
    _check_built_pages(pages, out)
    code_page = pages[max(pages) - 1]  # the one made of CODE_WITH_TEMPLATES
    code = " ".join(lxml.html.fromstring(code_page.read_text(encoding="utf-8")).text_content().split())
    assert '{{< youtube x >}} {{% note %}}' in code and '{{< figure src="x" >}}' in code  # as Hugo's escape shows
    # A category named "../../_posts/case-1" is a folder of its own, not written over a post.
    assert all(p.resolve().is_relative_to((out / "categories").resolve()) for p in (out / "categories").rglob("*"))
