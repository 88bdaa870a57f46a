"""A parsed, normalised fragment as plain text or as Markdown (html-to-markdown, configured)."""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import urljoin

import html_to_markdown
import lxml.html
from lxml.html import HtmlElement

# Private-use characters stand for the breaks we insert, so that the whitespace of the HTML
# source (which a browser folds into one space) can be folded before they are expanded.
PARAGRAPH = "\ue000"
LINE = "\ue001"
_KEPT_SPACE = "\ue002"  # a space inside <pre>, which must survive folding
# A footnote's reference and its note as normalisation marks them (notes.py), written "[^1]" and
# "[^1]: note" in Markdown, "[1]" and "[1] note" in text. Private-use characters the page cannot hold.
NOTE_REFERENCE, NOTE_DEFINITION, NOTE_CLOSE = "\ue120", "\ue122", "\ue121"
# An asterisk of the page's own (its text, code or addresses) while the converter's emphasis is mended.
_PAGE_STAR = "\ue123"
# Every private-use character wparchive writes for one of its own (here and in _make_inert):
# parsing takes them out of the page (normalize.parse_fragment), so that only ours are left.
NOT_OURS = re.compile("[\ue100-\ue12f]")
_NOTE = re.compile("([\ue120\ue122])([0-9]{1,6})\ue121")
# The language of a <pre>, as normalisation found it (code.py), for its fence's info string.
LANGUAGE_ATTRIBUTE = "data-wparchive-language"
LANGUAGE = re.compile(r"[A-Za-z0-9][\w+#.-]{0,29}")

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
# SPACES without the lone spaces between words, which it would replace by themselves: the same
# folding, a match for every few words fewer.
_SPACES_TO_FOLD = re.compile(r"[ \t\r\n\f\v\u00a0\u200b]{2,}|[\t\r\n\f\v\u00a0\u200b]")
# A run of break marks, kept by split(); the spaces before it are stripped from the text before it.
_BREAKS = re.compile(rf"([{PARAGRAPH}{LINE}][\s{PARAGRAPH}{LINE}]*)")
_BLANK_LINE = re.compile(r"^[ \t]+$", re.MULTILINE)

_TABLE_END_IN_QUOTE = re.compile(r"^((>[> ]*)\|.*\|)\n(?=\2(?!\s*\|))", re.M)
# The converter writes emphasis with "*" alone; the page's own asterisks are _PAGE_STAR meanwhile.
_TOUCHING_EMPHASIS = re.compile(r"(?<=[^ \t])\*\*( {0,2}\n)?\*\*(?=\S)")


def tree_to_markdown(root: HtmlElement, base_url: str = "") -> str:
    """Markdown of a parsed fragment (with the notes normalisation marked), by html-to-markdown:
    unwrapped lines, Unicode kept, fenced code, tables between pipes; what the page showed as text
    stays text in every Markdown reader (see _make_inert). The tree is changed on the way: it is
    the last thing made from it."""
    _make_inert(root, base_url)
    html = lxml.html.tostring(root, encoding="unicode")
    stars = "*" in html
    if stars:  # stand aside while the converter's own are mended: "12****34", "my__init__" are the page's
        html = html.replace("*", _PAGE_STAR)
    markdown = html_to_markdown.convert(html, _OPTIONS).content or ""
    # Emphasis that ends where the same begins (two <strong> side by side, across elements) would
    # show as "****": one run.
    if "****" in markdown or "\n**" in markdown:  # most Markdown has none: no need to look
        markdown = _TOUCHING_EMPHASIS.sub(lambda m: m.group(1) or "", markdown)
    if stars:
        markdown = markdown.replace(_PAGE_STAR, "*")
    markdown = _BLANK_LINE.sub("", markdown.replace("\u00a0", " "))
    if "|\n" in markdown:
        # In a quote the converter writes what follows a table on the line after its last row,
        # where readers take it for one more row.
        markdown = _TABLE_END_IN_QUOTE.sub(lambda m: f"{m.group(1)}\n{m.group(2).rstrip()}\n", markdown)
    return re.sub(r"\n{3,}", "\n\n", markdown).strip("\n").rstrip()


# html-to-markdown writes what it is given as Markdown of the same meaning; the rest is done to the
# tree before it reads it (see _make_inert). Its escaping is off but for what would start a block
# (a heading's "#", a quote's ">", a list item's "1."), as text is escaped here; the tags and
# attributes it would write out as text (abbreviations' titles, quotes' citations) are left out or
# made inert; images stay images wherever they are (a table's cell, a link).
_OPTIONS = html_to_markdown.ConversionOptions(
    heading_style="atx", bullets="*", strong_em_symbol="*", code_block_style="backticks", newline_style="spaces",
    escape_asterisks=False, escape_underscores=False, escape_misc=False, escape_ascii=False,
    autolinks=False, expand_abbreviations=False, include_blockquote_citations=False, highlight_style="none",
    br_in_tables=False, extract_metadata=False, wrap=False, hidden_content="all",
    keep_inline_images_in=["a", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "figcaption", "li", "dt", "dd"],
    inline_data_media="keep", max_depth=None)


# --- Markdown that cannot run ----------------------------------------------------------------
#
# A converter writes the page's text as it is, so text that a reader saw as "<script>" (the HTML
# said &lt;script&gt;) would become live HTML in Jekyll, a backtick in the text could end a code
# span early and let the code's raw "<" out as HTML, and "{{ }}" or "{% %}" would run as Liquid
# or a Hugo shortcode. Once written, text and code can no longer be told apart, so it is done in
# the tree, where they can (_make_inert):
# - text (and alt and title attributes) is written with every character that Markdown, kramdown,
#   Liquid or Hugo could read as syntax of their own (HTML, code spans, links, template tags,
#   attribute lists, tables) as a character reference, which every Markdown reader shows as the
#   character itself;
# - link and image addresses keep only the http, https and mailto schemes (and data: images);
#   the rest lose their link and stay as text; characters that could end the address are
#   percent-encoded; no other element keeps an address for the converter to write out;
# - inline code is one line of text, which the converter delimits with a backtick run longer than
#   any inside it, and <pre> a fence longer than any backtick run inside it, with our language
#   alone as its info string. Code's characters stay raw only there.

# Characters written as references in text. Entity-like "&" only: "AT&T" stays readable.
_TEXT_ESCAPES = {"<": "&lt;", "`": "&#96;", "{": "&#123;", "}": "&#125;", "[": "&#91;", "]": "&#93;",
                 "|": "&#124;", "\\": "&#92;", "~": "&#126;", "$": "&#36;", "&": "&amp;"}
_ENTITY_LIKE = re.compile(r"&(?=#[0-9]{1,7};|#[xX][0-9A-Fa-f]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
# Always escaped in text; the others only where they would start something: "~~" (fences,
# strikethrough), "$$" (kramdown's maths), "](", "][", "]:" (links), an entity-like "&".
_TEXT_SPECIAL = re.compile(r"[<`{|\\]|~(?=~)|\$(?=\$)|\](?=[(\[\]:])")
_MAYBE_SPECIAL = re.compile(r"[<`{|\\~$\]&]")
# What follows these may complete something ("&" + "amp;", "]" + "(…)"): at a text's end they are escaped.
_OPEN_AT_END = re.compile(r"[&~$\]]$")
_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_DATA_IMAGE = re.compile(r"^data:image/(?:png|gif|jpeg|webp)[;,]", re.I)
_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f<>\"`{}|^]")
_OUTER_CONTROLS = re.compile(r"^[\x00-\x20]+|[\x00-\x20]+$")
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")


def inert_text(text: str) -> str:
    """Text as Markdown that every reader shows as this text, whatever comes before or after it:
    no HTML, code, links or template tags."""
    if not _MAYBE_SPECIAL.search(text):
        return text  # most text: nothing to escape
    text = _ENTITY_LIKE.sub("&amp;", text)
    text = _TEXT_SPECIAL.sub(lambda m: _TEXT_ESCAPES[m.group(0)], text)
    return _OPEN_AT_END.sub(lambda m: _TEXT_ESCAPES[m.group(0)], text)


def safe_url(url: str, *, image: bool = False) -> str | None:
    """A link or image address fit for Markdown, or None when its scheme may not become a link:
    http, https, mailto and relative addresses (and data: raster images) only."""
    # Browsers drop surrounding spaces and controls and every tab and newline before they read
    # the scheme, so "java\tscript:" is javascript: to them; it is to us too.
    cleaned = _TAB_OR_NEWLINE.sub("", _OUTER_CONTROLS.sub("", url))
    scheme = _SCHEME.match(cleaned)
    if scheme and scheme.group(1).lower() not in _SAFE_SCHEMES and not (image and _DATA_IMAGE.match(cleaned)):
        return None
    if not scheme and ":" in cleaned.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]:
        return None  # "java&#115;cript:" and the like: something before the colon that is no scheme
    cleaned = _URL_UNSAFE.sub(lambda m: "%{:02X}".format(ord(m.group(0))), cleaned)
    return _ENTITY_LIKE.sub("&amp;", cleaned)


def _inert_attribute(value: str) -> str:
    return inert_text(" ".join(value.split())).replace('"', "&quot;")


_CODE_TAGS = frozenset({"code", "kbd", "tt"})
# Markdown has no figure captions and only extended syntaxes for definition lists: a caption
# becomes a paragraph of its own, a definition the ": " line that pandoc, PHP Markdown Extra
# and goldmark (Hugo) read as one.
_RENAMED = {"figcaption": "p", "dt": "p", "dd": "p", "dl": "div",
            # what the converter would leave out (navigation, a form left in: an article wrapped in one)
            # or write as a data: image of its own (an inline SVG), where the text keeps their words
            "nav": "div", "form": "div", "svg": "span"}
# Elements the converter would write out as something other than their text, or read the page's
# base address from.
_DROPPED = frozenset({"base", "link", "meta", "script", "style", "template"})


def _make_inert(root: HtmlElement, base_url: str) -> None:
    """The tree made ready for the converter (see above): its text escaped, its addresses checked
    (relative ones joined to base_url, when given), its code one line or a fenced block, its
    notes "[^1]" and "[^1]:", and nothing left for the converter to take as markup of its own."""
    code = _settle_code(root)  # the <pre> and inline code elements, and what is inside a <pre>
    dropped = []
    for element in root.iter():
        tag = element.tag
        inside_pre = element in code.inside_pre
        if element.tail and element is not root and not inside_pre:  # the tail is the parent's text
            element.tail = _inert_text_node(element.tail)
        if not isinstance(tag, str) or tag in _DROPPED:  # a comment or processing instruction, or not content
            dropped.append(element)
            continue
        if inside_pre or element in code.roots:
            continue
        if element.attrib:
            _defuse_attributes(element, base_url)
            if tag in CELL_TAGS:
                # Normalisation wrote out the cells a cell spans: the converter would add them again.
                element.attrib.pop("colspan", None)
                element.attrib.pop("rowspan", None)
        if tag in _RENAMED:
            element.tag = _RENAMED[tag]
            if tag == "dd":
                element.text = ": " + (element.text or "")
        elif tag == "img":
            if element.get("src") is None:
                dropped.append(element)  # as before: nothing to show
            elif element.tail and not element.tail[0].isspace():
                element.tail = " " + element.tail  # "![A](a.jpg)Text" glues the picture to the word
        if element.text:
            element.text = _inert_text_node(element.text)
    for element in dropped:
        remove(element)


class _Code(NamedTuple):
    roots: set[HtmlElement]  # each <pre> and inline code element
    inside_pre: set[HtmlElement]  # the elements inside a <pre>, whose text is code


def _settle_code(root: HtmlElement) -> _Code:
    """Code as the converter writes it as code: a <pre> with our language alone (its elements
    without attributes, as the fence holds their text alone), inline code as one line of text."""
    code = _Code(set(), set())
    for pre in root.iter("pre"):
        if pre in code.inside_pre:
            continue
        language = pre.get(LANGUAGE_ATTRIBUTE)
        pre.attrib.clear()
        if language and LANGUAGE.fullmatch(language):
            pre.set("class", f"language-{language}")
        code.roots.add(pre)
        for element in pre.iterdescendants():
            if isinstance(element.tag, str):
                element.attrib.clear()  # highlighted code's spans and links
            code.inside_pre.add(element)
    for element in list(root.iter(*_CODE_TAGS)):
        if element not in code.inside_pre and element.getparent() is not None:  # not inside a <pre> or code
            _inline_code(element, code)
    return code


def _inert_text_node(text: str) -> str:
    if not _TEXT_TO_CHANGE.search(text):
        return text  # most text: nothing to fold or escape
    # A browser folds the source's line breaks and runs of spaces into one space; the converter keeps line breaks.
    text = inert_text(_SPACES_TO_FOLD.sub(" ", text))
    if NOTE_CLOSE in text:
        text = _NOTE.sub(lambda m: f"[^{m.group(2)}]" + (":" if m.group(1) == NOTE_DEFINITION else ""), text)
    return text


def _inline_code(element: HtmlElement, code: _Code) -> None:
    """Inline code as one line of text (markup inside it dropped), which the converter writes as a
    code span; in a table, which reads "|" as a cell's end even inside code, code with one as text."""
    text = " ".join(element.text_content().split())  # one line, as browsers show it
    if "|" in text and any(a.tag in CELL_TAGS for a in element.iterancestors()):
        replace_with_text(element, text)  # escaped with the text around it
        return
    element.clear(keep_tail=True)
    element.tag = "code"
    element.text = text
    code.roots.add(element)
    following = element.getnext()
    if following is not None and following.tag in _CODE_TAGS and not element.tail:
        element.tail = " "  # two code spans side by side would read as one delimiter run


def _defuse_attributes(element: HtmlElement, base_url: str) -> None:
    """An element's attributes as the converter may write them out: a link's or image's address
    checked (or gone), alt and title text escaped; no other element keeps an address."""
    tag = element.tag
    for name in [name for name in element.attrib if name in _URL_ATTRIBUTES]:
        value = element.get(name)
        kept = (tag == "a" and name == "href") or (tag == "img" and name == "src")
        url = safe_url(urljoin(base_url, value) if base_url else value, image=tag == "img") if kept else None
        if url is None:
            del element.attrib[name]
        else:
            element.set(name, url)
    for name in ("alt", "title"):
        value = element.get(name)
        if value is not None:
            element.set(name, _inert_attribute(value))


_URL_ATTRIBUTES = frozenset({"href", "src", "srcset", "poster", "data", "cite", "action", "formaction", "background",
                             "longdesc", "usemap", "xlink:href"})
_TEXT_TO_CHANGE = re.compile("[\t\r\n\f\v\u00a0\u200b<`{|\\\\~$\\]&\ue120-\ue122]| {2}")


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
    text = fold("".join(out))
    return _NOTE.sub(r"[\2]", text) if NOTE_CLOSE in text else text


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


def within(element: HtmlElement, ancestor: HtmlElement) -> bool:
    """element is ancestor, or inside it."""
    return element is ancestor or has_ancestor(element, ancestor)


def remove(element: HtmlElement) -> None:
    """Take an element out (unless it is out already), keeping the text that follows it."""
    if element.getparent() is not None:
        element.drop_tree()


def replace_with_text(old: HtmlElement, text: str) -> None:
    """An element replaced by text, before the text that follows it."""
    old.tail = text + (old.tail or "")
    old.drop_tree()


def fold(text: str) -> str:
    """Whitespace folded as a browser would, breaks expanded, no blank-line runs."""
    pieces = _BREAKS.split(_SPACES_TO_FOLD.sub(" ", text))  # text, breaks, text, breaks, …, text
    for i in range(1, len(pieces), 2):
        pieces[i - 1] = pieces[i - 1].rstrip()
        pieces[i] = "\n\n" if PARAGRAPH in pieces[i] else "\n"
    return "".join(pieces).replace(_KEPT_SPACE, " ").strip()


def _set_apart(element: HtmlElement) -> bool:
    if element.tag == "time" or element.get("download") is not None:
        return True
    if "button" in (element.get("class") or ""):
        return True
    previous = element.getprevious()
    return previous is not None and previous.tag == "a" and not previous.tail
