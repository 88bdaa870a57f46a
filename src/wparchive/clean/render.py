"""A parsed, normalised fragment as plain text or as Markdown (html2text, configured)."""

from __future__ import annotations

import re

import html2text
from bs4 import BeautifulSoup, NavigableString, Tag

# Private-use characters stand for the breaks we insert, so that the whitespace of the HTML
# source (which a browser folds into one space) can be folded before they are expanded.
PARAGRAPH = _PARAGRAPH = "\ue000"
LINE = _LINE = "\ue001"
_KEPT_SPACE = "\ue002"  # a space inside <pre>, which must survive folding

BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "details", "dialog", "div", "dl", "dd", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hgroup", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary",
    "table", "caption", "tr", "ul",
})
LINE_TAGS = frozenset({"li", "dt", "dd", "tr", "figcaption", "caption"})
CELL_TAGS = frozenset({"td", "th"})
SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u200b]+")
_BREAKS = re.compile(rf"\s*[{_PARAGRAPH}{_LINE}][\s{_PARAGRAPH}{_LINE}]*")
_BLANK_LINE = re.compile(r"^[ \t]+$", re.MULTILINE)
_FENCE_AFTER_TEXT = re.compile(r"(?<=\S)\n```(?= ?\n)")  # a blank line before an opening fence

# Markdown has no figure captions and only extended syntaxes for definition lists: a caption
# becomes a paragraph of its own, a definition the ": " line that pandoc, PHP Markdown Extra
# and goldmark (Hugo) read as one.
_MARKDOWN_TAGS = [
    (re.compile(r"<figcaption\b[^>]*>", re.I), "<p>"), (re.compile(r"</figcaption>", re.I), "</p>"),
    (re.compile(r"<dt\b[^>]*>", re.I), "<p>"), (re.compile(r"</dt>", re.I), "</p>"),
    (re.compile(r"<dd\b[^>]*>", re.I), "<p>: "), (re.compile(r"</dd>", re.I), "</p>"),
    (re.compile(r"</?dl\b[^>]*>", re.I), ""),
]


def soup_to_markdown(soup: BeautifulSoup | Tag, base_url: str = "") -> str:
    """Markdown of a normalised fragment."""
    return html_to_markdown(str(soup), base_url)


def html_to_markdown(fragment: str, base_url: str = "") -> str:
    """Markdown of an HTML fragment, by html2text: unwrapped lines, Unicode kept, fenced code."""
    if not fragment or not fragment.strip():
        return ""
    for pattern, replacement in _MARKDOWN_TAGS:
        fragment = pattern.sub(replacement, fragment)
    converter = html2text.HTML2Text(baseurl=base_url)
    converter.body_width = 0
    converter.unicode_snob = True
    converter.ignore_images = False
    converter.ignore_links = False
    converter.wrap_links = False
    converter.inline_links = True
    converter.backquote_code_style = True  # ``` fences, which survive copy-paste better than indents
    markdown = _BLANK_LINE.sub("", converter.handle(fragment).replace("\u00a0", " "))
    markdown = _FENCE_AFTER_TEXT.sub("\n\n```", markdown)
    # Strip blank lines only: html2text indents list items, and the first may open the text.
    return re.sub(r"\n{3,}", "\n\n", markdown).strip("\n").rstrip()


def soup_to_text(soup: BeautifulSoup | Tag) -> str:
    """Plain text of a fragment: paragraphs apart, list items and table rows on lines of their own.

    Changes the tree (it inserts break markers): call it last.
    """
    for tag in soup.find_all(("script", "style", "noscript", "template")):
        tag.decompose()
    for pre in soup.find_all("pre"):
        for string in pre.find_all(string=True):
            string.replace_with(string.replace("\n", _LINE).replace(" ", _KEPT_SPACE))
    for br in soup.find_all("br"):
        br.replace_with(_LINE)
    for tag in soup.find_all(True):
        name = tag.name
        if name in ("a", "time") and _set_apart(tag):
            # Block themes set these apart with CSS alone ("Wind Farm" + "Download" button,
            # a comment's post and its date): without a space they glue into false words.
            tag.insert_before(NavigableString(" "))
        if name in CELL_TAGS:
            tag.append(NavigableString(" "))
        elif name in LINE_TAGS or (name in ("ul", "ol") and tag.find_parent("li") is not None):
            _surround(tag, _LINE)
        elif name in BLOCK_TAGS:
            _surround(tag, _PARAGRAPH)
    return fold(soup.get_text())


def fold(text: str) -> str:
    """Whitespace folded as a browser would, breaks expanded, no blank-line runs."""
    text = SPACES.sub(" ", text)
    text = _BREAKS.sub(lambda m: "\n\n" if _PARAGRAPH in m.group(0) else "\n", text)
    return text.replace(_KEPT_SPACE, " ").strip()


def _set_apart(tag: Tag) -> bool:
    if tag.name == "time" or tag.has_attr("download"):
        return True
    if any("button" in c for c in (tag.get("class") or ())):
        return True
    previous = tag.previous_sibling
    return isinstance(previous, Tag) and previous.name == "a"


def _surround(tag: Tag, marker: str) -> None:
    tag.insert_before(NavigableString(marker))
    tag.insert_after(NavigableString(marker))
