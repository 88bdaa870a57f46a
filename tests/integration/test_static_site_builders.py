"""The Markdown export as real Hugo and Jekyll read it (Debian's packages, installed when missing)."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path

import lxml.html
import pytest
from click.testing import CliRunner

from harness import Unavailable, ensure_debian_packages
from wparchive.cli import cli
from wparchive.harvest import harvest_site
from wparchive.sample.site import Item

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def builders() -> None:
    try:
        ensure_debian_packages(["hugo", "jekyll"], lambda: bool(shutil.which("hugo") and shutil.which("jekyll")))
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def content(builders, server, client, db, db_path, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    harvest_site(db, client, server.home + "/")
    folder = tmp_path / "content"
    result = CliRunner().invoke(cli, ["export", str(folder), "--db", db_path, "--format", "markdown"])
    assert result.exit_code == 0, result.output
    return folder


def test_hugo_reads_every_file_as_a_page(content: Path, tmp_path: Path) -> None:
    site = tmp_path / "hugo"
    site.mkdir()
    (site / "config.toml").write_text(f'baseURL = "http://example.org/"\ncontentDir = "{content}"\n')
    listing = subprocess.run(["hugo", "list", "all"], cwd=site, capture_output=True, text=True, check=True)
    pages = list(csv.DictReader(io.StringIO(listing.stdout)))
    assert len(pages) == len(list(content.rglob("*.md"))) == 29
    compost = next(p for p in pages if p["slug"] == "the-compost-question")
    assert compost["title"] == "The compost question" and compost["date"] == "2023-03-08T19:30:00+01:00"
    build = subprocess.run(["hugo", "--destination", str(tmp_path / "public")], cwd=site, capture_output=True,
                           text=True)
    assert build.returncode == 0, build.stderr


def test_jekyll_builds_a_page_for_every_file(content: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build = subprocess.run(["jekyll", "build", "--source", str(content), "--destination", str(out), "--quiet"],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    pages = list(out.rglob("*.html"))
    assert len(pages) == 29
    compost = next(p for p in pages if p.parent.name == "08" and "compost" in p.name)
    assert "Hot or cold? We tried both." in compost.read_text()


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
    result = CliRunner().invoke(cli, ["export", str(folder), "--db", db_path, "--format", "markdown"])
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
