"""Content never runs: the Markdown made of a post, the Markdown export, and the reader pages.

Text that a reader saw as characters ("&lt;script&gt;" in the HTML) stays characters in every
Markdown reader; links keep only the http, https and mailto schemes. The Markdown is checked
here with markdown-it (CommonMark) told to pass raw HTML and every link through, so that what is
checked is our Markdown and not markdown-it's own care; tests/integration/test_static_site_builders.py
builds the same content with Jekyll (kramdown) and Hugo (goldmark).
"""

from __future__ import annotations

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
    assert markdown == "Fish & chips cost $5 [sic], 2 * 3 ~ 6 and a_b.\n\n```\nif a < b:\n    print(`x`)\n\n```"


@pytest.mark.parametrize("markdown, expected", [
    ("```\n{{< youtube id >}}\n```", "```\n{{</* youtube id */>}}\n```"),
    ("`{{% note %}}x{{% /note %}}`", "`{{%/* note */%}}x{{%/* /note */%}}`"),
    ("{{</* already escaped */>}}", "{{</*/* already escaped */*/>}}"),  # Hugo shows it as it was written
    ("{{< a {{< b >}} c", "{{</* a {{< b */>}} c"),
    ("dangling {{< never closed", "dangling {{\u2060< never closed"),
    ("{{ liquid }} {% tag %}", "{{ liquid }} {% tag %}"),  # Hugo leaves these; Jekyll is told to
])
def test_hugo_shortcodes_in_code_are_escaped_the_way_hugo_escapes_them(markdown: str, expected: str) -> None:
    from wparchive.export import inert_for_site_builders

    assert inert_for_site_builders(markdown) == expected
