"""A parsed, normalised fragment as plain text or as Markdown (html2text, configured)."""

from __future__ import annotations

import re

import html2text
import lxml.html
from lxml.html import HtmlElement

# Private-use characters stand for the breaks we insert, so that the whitespace of the HTML
# source (which a browser folds into one space) can be folded before they are expanded.
PARAGRAPH = "\ue000"
LINE = "\ue001"
_KEPT_SPACE = "\ue002"  # a space inside <pre>, which must survive folding

BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "details", "dialog", "div", "dl", "dd", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hgroup", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary",
    "table", "caption", "tr", "ul",
})
LINE_TAGS = frozenset({"li", "dt", "dd", "tr", "figcaption", "caption"})
CELL_TAGS = frozenset({"td", "th"})
NOT_TEXT = frozenset({"script", "style", "noscript", "template"})
SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u200b]+")
_BREAKS = re.compile(rf"\s*[{PARAGRAPH}{LINE}][\s{PARAGRAPH}{LINE}]*")
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


def tree_to_markdown(root: HtmlElement, base_url: str = "") -> str:
    """Markdown of a normalised fragment."""
    return html_to_markdown(lxml.html.tostring(root, encoding="unicode"), base_url)


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


def tree_to_text(root: HtmlElement) -> str:
    """Plain text of a fragment: paragraphs apart, list items and table rows on lines of their own."""
    out: list[str] = []
    stack: list[tuple[HtmlElement, bool]] = [(root, False)]
    in_pre = in_li = 0
    while stack:
        element, closing = stack.pop()
        name = element.tag
        if closing:
            if name in CELL_TAGS:
                out.append(" ")
            elif (marker := _marker(name, in_li)) is not None:
                out.append(marker)
            if name == "pre":
                in_pre -= 1
            elif name == "li":
                in_li -= 1
        elif isinstance(name, str) and name not in NOT_TEXT:
            if name in ("a", "time") and _set_apart(element):
                # Block themes set these apart with CSS alone ("Wind Farm" + "Download" button,
                # a comment's post and its date): without a space they glue into false words.
                out.append(" ")
            if name == "br":
                out.append(LINE)
            elif (marker := _marker(name, in_li)) is not None:
                out.append(marker)
            if name == "pre":
                in_pre += 1
            elif name == "li":
                in_li += 1
            if element.text:
                out.append(_kept(element.text) if in_pre else element.text)
            stack.append((element, True))
            stack.extend((child, False) for child in reversed(element))
            continue
        # An element's tail is text of its parent's, after the element: comments, scripts and
        # closed elements alike.
        if element.tail and element is not root:
            out.append(_kept(element.tail) if in_pre else element.tail)
    return fold("".join(out))


def _marker(name: str, in_li: int) -> str | None:
    if name in LINE_TAGS or (in_li and name in ("ul", "ol")):
        return LINE
    return PARAGRAPH if name in BLOCK_TAGS else None


def _kept(text: str) -> str:
    """Text inside <pre>: its line breaks and spaces survive folding."""
    return text.replace("\n", LINE).replace(" ", _KEPT_SPACE)


def text_of(element: HtmlElement) -> str:
    """An element's text on one line."""
    return SPACES.sub(" ", element.text_content()).strip()


def classes_of(element: HtmlElement) -> list[str]:
    value = element.get("class")
    return value.split() if value else []


def has_ancestor(element: HtmlElement, ancestor: HtmlElement) -> bool:
    return any(a is ancestor for a in element.iterancestors())


def fold(text: str) -> str:
    """Whitespace folded as a browser would, breaks expanded, no blank-line runs."""
    text = SPACES.sub(" ", text)
    text = _BREAKS.sub(lambda m: "\n\n" if PARAGRAPH in m.group(0) else "\n", text)
    return text.replace(_KEPT_SPACE, " ").strip()


def _set_apart(element: HtmlElement) -> bool:
    if element.tag == "time" or element.get("download") is not None:
        return True
    if "button" in (element.get("class") or ""):
        return True
    previous = element.getprevious()
    return previous is not None and previous.tag == "a" and not previous.tail
