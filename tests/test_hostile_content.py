"""Content never runs: the Markdown made of a post, the Markdown export, and the reader pages.

Text that a reader saw as characters ("&lt;script&gt;" in the HTML) stays characters in every
Markdown reader; links keep only the http, https and mailto schemes. The Markdown is checked
here with markdown-it (CommonMark) told to pass raw HTML and every link through, so that what is
checked is our Markdown and not markdown-it's own care; tests/integration/test_static_site_builders.py
builds the same content with Jekyll (kramdown) and Hugo (goldmark).
"""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest
from markdown_it import MarkdownIt

from wparchive.clean import clean_content

# What a Markdown reader makes of Markdown, and nothing that raw HTML could add.
MARKDOWN_TAGS = frozenset({"div", "p", "a", "img", "code", "pre", "em", "strong", "ul", "ol", "li", "blockquote",
                           "h1", "h2", "h3", "h4", "h5", "h6", "hr", "br", "table", "thead", "tbody", "tr", "th",
                           "td", "s", "del"})
SAFE_ATTRIBUTES = frozenset({"href", "src", "alt", "title", "style", "start"})

# Hostile fragments of content.rendered, and what a reader of the page saw as text in each.
HOSTILE = {
    "escaped tags": ("<p>Literal: &lt;script&gt;alert(1)&lt;/script&gt; and &lt;img src=x onerror=alert(2)&gt;</p>",
                     ["<script>alert(1)</script>", "<img src=x onerror=alert(2)>"]),
    "escaped entity": ("<p>The text &amp;lt;b&amp;gt; and &amp;#60;i&amp;#62;</p>", ["&lt;b&gt;", "&#60;i&#62;"]),
    "entity split by a tag": ("<p>&amp;<span>lt;script&gt;alert(1)&lt;/script&gt;</span></p>",
                              ["&lt;script>alert(1)</script>"]),
    "raw script and handlers": ('<p>Hi <script>alert(1)</script><img src="x" onerror="alert(2)">'
                                '<svg onload="alert(3)"></svg></p>', ["Hi"]),
    "javascript links": ('<p><a href="javascript:alert(1)">one</a> <a href="JaVaScRiPt:alert(2)">two</a> '
                         '<a href=" &#x09;java&#x0A;script:alert(3)">three</a> <a href="vbscript:x">four</a> '
                         '<a href="data:text/html,&lt;script&gt;alert(5)&lt;/script&gt;">five</a> '
                         '<a href="file:///etc/passwd">six</a></p>', ["one", "two", "three", "four", "five", "six"]),
    "link syntax in text": ("<p>[click](javascript:alert(1)) and [ref]: javascript:alert(2) then [ref] and "
                            "&lt;javascript:alert(3)&gt;</p>",
                            ["[click](javascript:alert(1))", "[ref]: javascript:alert(2)", "<javascript:alert(3)>"]),
    "backtick in text frees code": ("<p>a ` b <code>&lt;script&gt;alert(1)&lt;/script&gt;</code> c</p>",
                                    ["a ` b", "<script>alert(1)</script>"]),
    "backtick inside inline code": ("<p><code>a`b &lt;img src=x onerror=alert(1)&gt;</code> and "
                                    "<code>`&lt;b&gt;</code></p>", ["a`b <img src=x onerror=alert(1)>", "`<b>"]),
    "fence inside pre": ("<pre>```\n&lt;script&gt;alert(1)&lt;/script&gt;\n````</pre><p>after &lt;i&gt;</p>",
                         ["<script>alert(1)</script>", "after <i>"]),
    "fence in text before pre": ("<p>```</p><pre>&lt;script&gt;alert(1)&lt;/script&gt;</pre><p>```</p>",
                                 ["<script>alert(1)</script>"]),
    "indented fence in text": ("<p>&nbsp;&nbsp;&nbsp;&nbsp;```</p><pre>&lt;script&gt;alert(1)&lt;/script&gt;</pre>",
                               ["<script>alert(1)</script>"]),
    "pre breaking out of a quote": ("<pre>a<blockquote>b &lt;img src=x onerror=alert(1)&gt;</pre>c",
                                    ["<img src=x onerror=alert(1)>"]),
    "code with a pipe in a table": ("<table><tr><th>h</th><th>i</th></tr><tr><td><code>&lt;img src=x "
                                    "onerror=alert(1)&gt;|x</code></td><td><pre>&lt;b&gt;</pre></td></tr></table>",
                                    ["<img src=x onerror=alert(1)>|x"]),
    "table made of text": ("<p><code>&lt;img src=x onerror=alert(1)&gt;|x</code><br>|---|---|</p>",
                           ["<img src=x onerror=alert(1)>|x"]),
    "backslash before code": ("<p>b\\<code>&lt;img src=x onerror=alert(1)&gt;</code></p>",
                              ["b\\", "<img src=x onerror=alert(1)>"]),
    "code spans side by side": ("<p><code>``x`y``</code><code>&lt;img src=x onerror=alert(1)&gt;</code></p>",
                                ["<img src=x onerror=alert(1)>"]),
    "link address and title": ('<p><a href="http://x/a b&quot;&gt;&lt;script&gt;`{{x}}" title="t&quot; '
                                '&lt;script&gt;alert(1)&lt;/script&gt;">l</a> <img src="x" alt="&lt;script&gt;` ]">'
                                '</p>', ["l"]),
    "template syntax": ("<p>{{ site.title }} {% include x.html %} {{< youtube x >}} {{% note %}} "
                        "{: onclick=\"alert(1)\"} {::nomarkdown}&lt;script&gt;{:/} $$x$$ ~~~</p>"
                        "<h2>Heading {onclick=alert(1)}</h2>",
                        ["{{ site.title }}", "{% include x.html %}", "{{< youtube x >}}", "{{% note %}}",
                         '{: onclick="alert(1)"}', "{::nomarkdown}<script>{:/}", "$$x$$", "~~~",
                         "Heading {onclick=alert(1)}"]),
    "abbreviation title": ('<p><abbr title="&lt;script&gt;alert(1)&lt;/script&gt;">HTML</abbr></p>', ["HTML"]),
    "block syntax at a line's start": ("<p># not a heading</p><p>&gt; not a quote</p><p>1. not a list</p>"
                                       "<p>- nor this</p>", ["# not a heading", "> not a quote", "1. not a list",
                                                             "- nor this"]),
}


def _render(markdown: str) -> lxml.html.HtmlElement:
    """The Markdown as a CommonMark reader that passes raw HTML and any link would show it."""
    reader = MarkdownIt("commonmark", {"html": True}).enable("table")
    reader.validateLink = lambda url: True
    return lxml.html.fragment_fromstring(reader.render(markdown) or "<p></p>", create_parent="div")


def assert_inert(root: lxml.html.HtmlElement) -> None:
    """Only elements Markdown makes, no event handlers, links with safe schemes only."""
    for element in root.iter():
        if not isinstance(element.tag, str):
            raise AssertionError(f"a comment or processing instruction: {lxml.html.tostring(element)!r}")
        assert element.tag in MARKDOWN_TAGS, lxml.html.tostring(element)
        assert set(element.attrib) <= SAFE_ATTRIBUTES, lxml.html.tostring(element)
        for name in ("href", "src"):
            url = "".join(element.get(name, "").split()).lower()
            if ":" in url.split("/", 1)[0]:
                scheme = url.split(":", 1)[0]
                assert scheme in ("http", "https", "mailto") or url.startswith("data:image/png"), url


@pytest.mark.parametrize("name", list(HOSTILE))
def test_markdown_of_hostile_content_is_inert_and_says_what_the_page_said(name: str) -> None:
    html, shown = HOSTILE[name]
    markdown = clean_content(html, "https://example.org/post/").markdown
    root = _render(markdown)
    assert_inert(root)
    text = " ".join(root.text_content().split())
    for literal in shown:
        assert literal in text, (markdown, text)


def test_markdown_of_a_fragment_as_it_is_is_inert_too() -> None:
    # html_to_markdown takes a fragment without the cleaning that drops SVG and forms: a converter
    # would write an inline SVG out as a data: image of its own (whose scripts run where it is
    # opened), and leave a form's words out.
    from wparchive.clean import html_to_markdown

    markdown = html_to_markdown('<p>Icon <svg onload="alert(1)"><text>label</text></svg> end</p>'
                                '<form action="javascript:alert(2)"><p>Sign &lt;here&gt;</p></form>')
    root = _render(markdown)
    assert_inert(root)
    assert "data:" not in markdown and " ".join(root.text_content().split()) == "Icon label end Sign <here>"


def test_links_keep_only_http_https_and_mailto() -> None:
    markdown = clean_content('<p><a href="https://example.org/a?b=1&amp;c=2">web</a> <a href="mailto:a@example.org">'
                             'mail</a> <a href="/relative">here</a> <a href="ftp://example.org/f">ftp</a> '
                             '<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot"></p>',
                             "https://example.org/post/").markdown
    links = {a.text_content(): a.get("href") for a in _render(markdown).iter("a")}
    assert links == {"web": "https://example.org/a?b=1&c=2", "mail": "mailto:a@example.org",
                     "here": "https://example.org/relative"}
    assert "ftp" in markdown and "ftp://" not in markdown
    assert "![dot](data:image/png;base64,iVBORw0KGgo=)" in markdown  # an image, which cannot run


def test_ordinary_text_stays_readable_markdown() -> None:
    markdown = clean_content("<p>Fish &amp; chips cost $5 [sic], 2 * 3 ~ 6 and a_b.</p>"
                             "<pre>if a &lt; b:\n    print(`x`)</pre>").markdown
    assert markdown == "Fish & chips cost $5 [sic], 2 * 3 ~ 6 and a_b.\n\n```\nif a < b:\n    print(`x`)\n```"


@pytest.mark.parametrize("markdown, expected", [
    ("```\n{{< youtube id >}}\n```", "```\n{{</* youtube id */>}}\n```"),
    ("`{{% note %}}x{{% /note %}}`", "`{{%/* note */%}}x{{%/* /note */%}}`"),
    ("`{{</* already escaped */>}}`", "`{{</*/* already escaped */*/>}}`"),  # Hugo shows it as it was written
    ("{{< a {{< b >}} c", "{{</* a {{< b */>}} c"),
    ("dangling {{< never closed", "dangling {{\u2060< never closed"),
    ("{{ liquid }} {% tag %}", "{{ liquid }} {% tag %}"),  # Hugo leaves these; Jekyll is told to
])
def test_hugo_shortcodes_in_code_are_escaped_the_way_hugo_escapes_them(markdown: str, expected: str) -> None:
    from wparchive.export import inert_for_site_builders

    assert inert_for_site_builders(markdown) == expected


# --- Reader pages: the plugin's post page, search, and Datasette's own pages of the archive ------

UNSAFE_URLS = ["javascript:alert(1)", " JaVaScRiPt:alert(2)", "java\tscript:alert(3)", "vbscript:msgbox(4)",
               "data:text/html,<script>alert(5)</script>", "file:///etc/passwd", "intent://x#Intent;end",
               "\x01javascript:alert(6)"]


@pytest.fixture
def hostile_archive(make_server, client, db, db_path) -> str:  # type: ignore[no-untyped-def]
    """A site whose post links, author URLs, comment author URLs and content all point where they
    should not; the links it sends are the REST API's own fields, rewritten on the way."""
    from wparchive.harvest import harvest_site
    from wparchive.sample.site import CommentItem, Item, Site, UserItem

    links = "".join(f'<a href="{u.replace(chr(9), "&#9;").replace(chr(1), "&#1;")}">link {n}</a> '
                    for n, u in enumerate(UNSAFE_URLS))
    site = Site(items=[Item(n + 1, "post", f"Post {n + 1}", f"<p>{links} compost</p>", date_gmt="2024-01-01T10:00:00")
                       for n in range(len(UNSAFE_URLS))],
                users=[UserItem(1, "Mallory", url="javascript:alert('user')")],
                comments=[CommentItem(1, 1, "<p>hi</p>", author_url="javascript:alert('comment')")])
    server = make_server(site)

    def rewrite(path, query, status, headers, data):  # type: ignore[no-untyped-def]
        if path.endswith("/wp/v2/posts") and isinstance(data, list):
            for item in data:
                item["link"] = UNSAFE_URLS[item["id"] - 1]
        return status, headers, data

    server.rewrite = rewrite
    harvest_site(db, client, server.home + "/")
    # An archive cleaned by an earlier wparchive: Markdown with unsafe links written as it came.
    with db.conn:
        db.execute("UPDATE posts SET content_markdown = ? WHERE wp_id = 1",
                   ["[a](javascript:alert(1)) [b](<java\tscript:alert(2)>) [c](vbscript:x) [d](data:text/html,x) "
                    "<javascript:alert(3)> [e](JAVASCRIPT:alert(4)) [f](file:///etc/passwd) [g](ftp://example.org/) "
                    "[ok](https://example.org/) [mail](mailto:a@example.org) [here](/relative) "
                    "![img](data:image/png;base64,iVBORw0KGgo=) [h](data:image/png;base64,iVBORw0KGgo=) "
                    "[ref][x] <b onmouseover=alert(5)>raw</b>\n\n[x]: javascript:alert(6)"])
    return db_path


def _page(db_path: str, path: str) -> lxml.html.HtmlElement:
    import asyncio

    from wparchive.serve import build_datasette

    async def fetch():  # type: ignore[no-untyped-def]
        ds = build_datasette(db_path)
        await ds.invoke_startup()
        return await ds.client.get(path, follow_redirects=True)  # /archive/posts: to its readable columns

    response = asyncio.run(fetch())
    assert response.status_code == 200, (path, response.status_code)
    return lxml.html.fromstring(response.text)


def _links(root: lxml.html.HtmlElement) -> list[str]:
    return [element.get(name) for element in root.iter() if isinstance(element.tag, str)
            for name in ("href", "src", "action", "formaction") if element.get(name) is not None]


def _assert_only_safe_links(root: lxml.html.HtmlElement) -> None:
    for url in _links(root):
        cleaned = "".join(ch for ch in url if ord(ch) > 32).lower()
        if ":" in cleaned.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]:
            assert cleaned.split(":", 1)[0] in ("http", "https", "mailto") or cleaned.startswith("data:image/png"), url
    for element in root.iter():
        if isinstance(element.tag, str):
            assert not [a for a in element.attrib if a.lower().startswith("on")], lxml.html.tostring(element)[:200]


@pytest.mark.parametrize("number", range(1, len(UNSAFE_URLS) + 1))
def test_a_post_page_shows_an_unsafe_original_url_as_text(hostile_archive: str, number: int) -> None:
    page = _page(hostile_archive, f"/-/wparchive/post/1-{number}")
    _assert_only_safe_links(page)
    meta = " ".join(page.xpath("string(//p[@class='meta'][last()])").split())
    assert meta.startswith("original: ") and "original" not in [a.text for a in page.iter("a")]
    if number > 1:  # (the first one's Markdown is replaced by older Markdown, below)
        assert [a.text for a in page.find(".//article").iter("a")] == []  # its content's links: all text
        assert "link 0 link 1" in " ".join(page.text_content().split())


def test_markdown_links_with_unsafe_schemes_are_text_on_the_post_page(hostile_archive: str) -> None:
    article = _page(hostile_archive, "/-/wparchive/post/1-1").find(".//article")
    _assert_only_safe_links(article)
    links = {a.text_content(): a.get("href") for a in article.iter("a")}
    assert links == {"ok": "https://example.org/", "mail": "mailto:a@example.org", "here": "/relative"}
    assert [img.get("src") for img in article.iter("img")] == ["data:image/png;base64,iVBORw0KGgo="]
    text = " ".join(article.text_content().split())
    assert "[a](javascript:alert(1))" in text and "<b onmouseover=alert(5)>raw</b>" in text  # shown as text
    assert "h" in text and "ftp://example.org/" in text


@pytest.mark.parametrize("path", ["/-/wparchive/search?q=compost", "/archive/posts", "/archive/posts?_sort=key",
                                  "/archive/posts/1-1",
                                  "/archive/users", "/archive/users/1-1", "/archive/comments", "/archive/links",
                                  "/archive/search?q=compost", "/"])
def test_no_page_of_the_archive_links_to_an_unsafe_scheme(hostile_archive: str, path: str) -> None:
    page = _page(hostile_archive, path)
    _assert_only_safe_links(page)
    if path.startswith(("/archive/users", "/archive/comments")):
        assert "javascript:alert(" in page.text_content()  # there, as text


LEGACY_MARKDOWN = (  # what the cleaner of an earlier wparchive left in content_markdown
    "Literal <script>alert(1)</script> and <img src=x onerror=alert(2)> and <!-- a comment -->\n\n"
    "[a](javascript:alert(3)) [b](<java\tscript:alert(4)>) [c](java&#115;cript:alert(5)) <javascript:alert(6)> "
    "[d](  JAVASCRIPT:alert(7)) [e](vbscript:x) [f](data:text/html,x)\n\n"
    "A paragraph\n{: onclick=\"alert(8)\"}\n\n[g][ref] [h][ref3] [i][ok]\n\n[ref]: javascript:alert(9)\n"
    "* [ref2]: javascript:alert(10)\n\n[ref3]:\n  javascript:alert(11)\n\n[ok]:  https://example.org/ok\n\n"
    "Kept: <https://example.org/> [ok](https://example.org/a) [mail](mailto:a@example.org) [rel](page.html) "
    "[frag](#x) [spaced](  https://example.org/s) ![img](data:image/png;base64,iVBORw0KGgo=) `<b>code</b>`"
    "\n\n```\n<i>code</i>\n```"
)


def test_markdown_cleaned_by_an_earlier_version_is_made_safe_on_export() -> None:
    from wparchive.export import inert_for_site_builders

    root = _render(inert_for_site_builders(LEGACY_MARKDOWN))
    assert_inert(root)
    links = {a.text_content(): a.get("href") for a in root.iter("a")}
    assert links == {"https://example.org/": "https://example.org/", "ok": "https://example.org/a",
                     "mail": "mailto:a@example.org", "rel": "page.html", "frag": "#x", "i": "https://example.org/ok",
                     "spaced": "https://example.org/s"}
    assert [code.text for code in root.iter("code")] == ["<b>code</b>", "<i>code</i>\n"]
    text = " ".join(root.text_content().split())
    assert "Literal <script>alert(1)</script> and <img src=x onerror=alert(2)>" in text


GOLDEN = sorted((Path(__file__).parent / "html").glob("*.html"))


@pytest.mark.parametrize("html", [html for html, _ in HOSTILE.values()] + [p.read_text(encoding="utf-8") for p in GOLDEN])
def test_markdown_cleaned_now_passes_the_export_unchanged(html: str) -> None:
    from wparchive.export import _escape_stray_markup

    markdown = clean_content(html, "https://example.org/post/").markdown
    assert _escape_stray_markup(markdown) == markdown
