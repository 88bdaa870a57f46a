"""A parsed, normalised fragment as plain text or as Markdown (html2text, configured)."""

from __future__ import annotations

import re
from urllib.parse import quote

import html2text
from html2text.config import TABLE_MARKER_FOR_PAD
from html2text.utils import reformat_table
from lxml.html import HtmlElement

# Private-use characters stand for the breaks we insert, so that the whitespace of the HTML
# source (which a browser folds into one space) can be folded before they are expanded.
PARAGRAPH = "\ue000"
LINE = "\ue001"
_KEPT_SPACE = "\ue002"  # a space inside <pre>, which must survive folding
# A footnote's reference and its note as normalisation marks them (notes.py), written "[^1]" and
# "[^1]: note" in Markdown, "[1]" and "[1] note" in text. Private-use characters the page cannot hold.
NOTE_REFERENCE, NOTE_DEFINITION, NOTE_CLOSE = "\ue120", "\ue122", "\ue121"
# Every private-use character wparchive writes for one of its own (here and in _InertConverter):
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

# Markdown has no figure captions and only extended syntaxes for definition lists: a caption
# becomes a paragraph of its own, a definition the ": " line that pandoc, PHP Markdown Extra
# and goldmark (Hugo) read as one. The name html2text is given for a tag ("" for none).
_MARKDOWN_TAG_NAMES = {"figcaption": "p", "dt": "p", "dd": "p", "dl": ""}
# Elements that have no end tag: the parser reports them opened, never closed.
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                   "wbr"})
_TOUCHING_EMPHASIS = re.compile(r"(?<=[^ \t])(\*\*|_)( {0,2}\n)?\1(?=\S)")

def tree_to_markdown(root: HtmlElement, base_url: str = "") -> str:
    """Markdown of a parsed fragment (with the notes normalisation marked), by html2text: unwrapped
    lines, Unicode kept, fenced code; what the page showed as text stays text in every Markdown
    reader (see _InertConverter). The tree is handed to html2text as its parser would report the
    serialised tree, without serialising and parsing it again (that was most of cleaning's cost)."""
    converter = _InertConverter(baseurl=base_url)
    converter.body_width = 0
    converter.unicode_snob = True
    converter.ignore_images = False
    converter.ignore_links = False
    converter.wrap_links = False
    converter.inline_links = True
    converter.backquote_code_style = True  # ``` fences, which survive copy-paste better than indents
    converter.pad_tables = True  # rows between pipes, as GitHub, Hugo and kramdown (Jekyll) all read them
    markdown = converter.handle_tree(root)
    # Emphasis that ends where the same begins (two <strong> side by side, across elements) would
    # show as "****": one run. Text has its stars escaped, and code's wait as other characters.
    if "****" in markdown or "__" in markdown or "\n**" in markdown:  # most Markdown has none: no need to look
        markdown = _TOUCHING_EMPHASIS.sub(lambda m: m.group(2) or "", markdown)
    markdown = _settle_code_blocks(markdown)
    markdown = _settle_deferred(markdown)
    markdown = _BLANK_LINE.sub("", markdown.replace("\u00a0", " "))
    if NOTE_CLOSE in markdown:
        markdown = _NOTE.sub(lambda m: f"[^{m.group(2)}]" + (":" if m.group(1) == NOTE_DEFINITION else ""), markdown)
    # Strip blank lines only: html2text indents list items, and the first may open the text.
    return re.sub(r"\n{3,}", "\n\n", markdown).strip("\n").rstrip()


# --- Markdown that cannot run ----------------------------------------------------------------
#
# html2text writes the page's text as it is, so text that a reader saw as "<script>" (the HTML
# said &lt;script&gt;) would become live HTML in Jekyll, a backtick in the text could end a code
# span early and let the code's raw "<" out as HTML, and "{{ }}" or "{% %}" would run as Liquid
# or a Hugo shortcode. Once written, text and code can no longer be told apart, so it is done
# while converting, where html2text knows which is which:
# - text (and alt and title attributes) is written with every character that Markdown, kramdown,
#   Liquid or Hugo could read as syntax of their own (HTML, code spans, links, template tags,
#   attribute lists, tables) as a character reference, which every Markdown reader shows as the
#   character itself;
# - link and image addresses keep only the http, https and mailto schemes (and data: images);
#   the rest lose their link and stay as text; characters that could end the address are
#   percent-encoded;
# - inline code gets delimiters longer than any backtick run inside it, and <pre> becomes a fence
#   longer than any backtick run inside it. Its characters stay raw only inside a fence that every
#   reader closes where we do; anything else about it is written as text.

# Characters written as references in text. Entity-like "&" only: "AT&T" stays readable.
_TEXT_ESCAPES = {"<": "&lt;", "`": "&#96;", "{": "&#123;", "}": "&#125;", "[": "&#91;", "]": "&#93;",
                 "|": "&#124;", "\\": "&#92;", "~": "&#126;", "$": "&#36;", "*": "&#42;", "_": "&#95;",
                 "&": "&amp;"}
_ENTITY_LIKE = re.compile(r"&(?=#[0-9]{1,7};|#[xX][0-9A-Fa-f]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)")
# Always escaped in text; the others only where they would start something: "~~" (fences,
# strikethrough), "$$" (kramdown's maths), "](", "][", "]:" (links), an entity-like "&".
_TEXT_SPECIAL = re.compile(r"[<`{|\\]|~(?=~)|\$(?=\$)|\](?=[(\[\]:])")
# html2text hands text over in pieces (an entity is a piece of its own), so one of those at the
# end of a piece waits as a private-use character until what follows it is known.
_DEFERRED = {"&": "\ue110", "~": "\ue111", "$": "\ue112", "]": "\ue113"}
_DEFERRED_END = re.compile(r"[&~$\]]$")
_UNDEFERRED = re.compile("\ue110(?=#[0-9]{1,7};|#[xX][0-9A-Fa-f]{1,6};|[A-Za-z][A-Za-z0-9]{1,31};)"
                         "|\ue111(?=[~\ue111])|\ue112(?=[$\ue112])|\ue113(?=[(\\[\\]:\ue113])")
_DEFERRED_CHAR = re.compile("[\ue110-\ue113]")
_MAYBE_SPECIAL = re.compile(r"[<`{|\\~$\]&]")
_FROM_DEFERRED = {v: k for k, v in _DEFERRED.items()}
_SECTION_SPECIAL = re.compile(r"\\|^\s*(?:\d|[+-])", re.M)  # what html2text's escape_md_section may change
_NBSP_PLACEHOLDER = "&nbsp_place_holder;"  # html2text's own, replaced by it at the end
_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_DATA_IMAGE = re.compile(r"^data:image/(?:png|gif|jpeg|webp)[;,]", re.I)
_URL_UNSAFE = re.compile(r"[\x00-\x20\x7f<>\"`{}|^]")
_CODE_TAGS = frozenset({"code", "kbd", "tt"})
_TAGS_WRITTEN_WITH_ATTRIBUTES = frozenset({"a", "img", "abbr"})  # html2text writes out no others'
_OUTER_CONTROLS = re.compile(r"^[\x00-\x20]+|[\x00-\x20]+$")
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")

# Inside <pre>, characters whose meaning differs between code and text wait as private-use
# characters until the block is settled: raw inside a fence that holds, references elsewhere.
_CODE_CHARS = "`<&{}[]|\\~$*_"
_CODE_CHAR_BASE = 0xE100
_TO_CODE_CHAR = {ord(c): chr(_CODE_CHAR_BASE + i) for i, c in enumerate(_CODE_CHARS)}
_FROM_CODE_CHAR = {chr(_CODE_CHAR_BASE + i): c for i, c in enumerate(_CODE_CHARS)}
_CODE_CHAR = re.compile("[\ue100-\ue10f]")
_FENCE_LINE = re.compile(r"^(?P<prefix>[ >]*)```(?:[A-Za-z0-9][\w+#.-]{0,29})?[ \t]*$")  # opening: with its language
_LOOKS_LIKE_FENCE = re.compile(r"^[ >]*(?:`{3,}|~{3,})")  # only html2text's own fences are real backticks here


def inert_text(text: str) -> str:
    """Text as Markdown that every reader shows as this text: no HTML, code, links or template tags."""
    return _settle_deferred(_inert_piece(text))


def _inert_piece(text: str) -> str:
    if not _MAYBE_SPECIAL.search(text):
        return text  # most pieces of text: nothing to escape
    text = _ENTITY_LIKE.sub("&amp;", text)
    text = _TEXT_SPECIAL.sub(lambda m: _TEXT_ESCAPES[m.group(0)], text)
    return _DEFERRED_END.sub(lambda m: _DEFERRED[m.group(0)], text)


def _settle_deferred(markdown: str) -> str:
    """The characters that waited for what follows them: escaped where it completes something."""
    if not _DEFERRED_CHAR.search(markdown):
        return markdown
    markdown = _UNDEFERRED.sub(lambda m: _TEXT_ESCAPES[_FROM_DEFERRED[m.group(0)]], markdown)
    return _DEFERRED_CHAR.sub(lambda m: _FROM_DEFERRED[m.group(0)], markdown)


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


def code_span(code: str) -> str:
    """Inline code with delimiters no backtick run inside it can close."""
    longest = max((len(run) for run in re.findall(r"`+", code)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if code.startswith("`") or code.endswith("`") else ""
    return f"{fence}{pad}{code}{pad}{fence}"


def _inert_attribute(value: str) -> str:
    return inert_text(" ".join(value.split())).replace('"', "&quot;")


class _InertConverter(html2text.HTML2Text):
    """html2text that writes text, attributes, links and code so that no Markdown reader can take
    the page's text for markup (see above)."""

    def __init__(self, baseurl: str = "") -> None:
        super().__init__(baseurl=baseurl)
        self._inline_code: list[str] | None = None  # the text of the inline code being read
        self._code_depth = 0
        self._tables = 0
        self._fence_language: str | None = None  # the language of the <pre> whose fence is to open
        self._write_out = self.out

    def handle_tag(self, tag: str, attrs: dict[str, str | None], start: bool) -> None:
        if tag in _CODE_TAGS and not self.pre:
            self._code_tag(start)
            return
        if self._inline_code is not None:
            return  # markup inside inline code: its text is code, the rest is dropped
        if tag == "table":
            self._tables = max(0, self._tables + (1 if start else -1))
        if tag == "pre":
            language = attrs.get(LANGUAGE_ATTRIBUTE) if start else None
            self._fence_language = language if language and LANGUAGE.fullmatch(language) else None
            # Output goes through _out only while a fence waits for its language: it is called for every piece.
            self.out = self._out if self._fence_language else self._write_out
        if start and tag in _TAGS_WRITTEN_WITH_ATTRIBUTES:
            _defuse_attributes(tag, attrs)
        super().handle_tag(tag, attrs, start)

    def handle_data(self, data: str, entity_char: bool = False) -> None:
        if self._inline_code is not None:
            self._inline_code.append(data)
            return
        if data != _NBSP_PLACEHOLDER:
            data = data.translate(_TO_CODE_CHAR) if self.pre else _inert_piece(data)
        # html2text's own escaping (escape_md_section: four expressions over every piece) changes
        # only a backslash or a line that starts like a list item; entity_char=True is its way of
        # skipping it, for the many pieces with neither.
        super().handle_data(data, entity_char or not _SECTION_SPECIAL.search(data))

    def handle_tree(self, root: HtmlElement) -> str:
        """html2text's handle() for a parsed tree: its elements and text, in document order, as
        the parser reports a serialised tree (void elements open only; comments not at all)."""
        self.start = True
        stack: list[tuple[HtmlElement, bool]] = [(root, False)]
        while stack:
            element, closing = stack.pop()
            tag = element.tag
            if closing:
                name = _MARKDOWN_TAG_NAMES.get(tag, tag)
                if name:
                    self.handle_endtag(name)
                if element.tail and element is not root:
                    self.handle_data(element.tail)
                continue
            if not isinstance(tag, str):  # a comment or processing instruction: only its tail is text
                if element.tail:
                    self.handle_data(element.tail)
                continue
            name = _MARKDOWN_TAG_NAMES.get(tag, tag)
            if name:
                self.handle_starttag(name, [(key, _serialised(tag, key, value)) for key, value in element.attrib.items()])
            if tag == "dd":
                self.handle_data(": ")
            if tag in _VOID:
                if element.tail and element is not root:
                    self.handle_data(element.tail)
                continue
            if element.text:
                self.handle_data(element.text)
            stack.append((element, True))
            stack.extend((child, False) for child in reversed(element))
        markdown = self.optwrap(self.finish())
        return _tables_between_pipes(markdown) if self.pad_tables else markdown

    def _out(self, s: str) -> None:  # named as html2text names it
        if self._fence_language is not None and s.endswith("```"):  # the opening fence of a <pre>
            s += self._fence_language
            self._fence_language = None
            self.out = self._write_out
        self._write_out(s)

    def close(self) -> None:
        if self._inline_code is not None:  # inline code never closed: it ends with the fragment
            self._code_depth = 0
            self._write_code()
        super().close()

    def _code_tag(self, start: bool) -> None:
        if start:
            self._code_depth += 1
            if self._code_depth == 1:
                self._inline_code = []
        elif self._code_depth:
            self._code_depth -= 1
            if self._code_depth == 0:
                self._write_code()

    def _write_code(self) -> None:
        code = " ".join("".join(self._inline_code or []).split())  # one line, as browsers show it
        self._inline_code = None
        if not code:
            return
        if self.maybe_automatic_link is not None:  # the code is a link's text
            self.o("[")
            self.maybe_automatic_link = None
            self.empty_link = False
        if self._tables and "|" in code:
            # A table reads "|" as a cell's end even inside code: the code goes as text instead.
            self.o(inert_text(code))
            return
        last = self.outtextlist[-1][-1:] if self.outtextlist and self.outtextlist[-1] else ""
        # Two code spans side by side would read as one delimiter run: a space keeps them apart.
        touching = last == "`" and not (self.p_p or self.space or self.start)
        self.o((" " if touching else "") + code_span(code))


# html2text writes a table as its rows of cells (normalisation left each cell one line) between
# a line with its start marker and one with its end marker; its own pad_tables_in_text pads the rows
# but drops both lines whole, with any text html2text wrote before the marker, and knows nothing of
# quotes. In a quote html2text quotes the rows but the first (written right after the start marker),
# as its delimiter row shows, and writes the quote's next line after the end marker blank.
_TABLE_START, _TABLE_END = f"<{TABLE_MARKER_FOR_PAD}>", f"</{TABLE_MARKER_FOR_PAD}>"
_LIST_MARK = re.compile(r"^(?:[*+-]|[0-9]+\.)[ \t]*")


def _tables_between_pipes(markdown: str) -> str:
    """html2text's tables as padded rows between pipes, each a block of its own: quoted on every
    line inside a quote, and the text html2text wrote on the line the table starts (a list item's)
    kept on a line of its own before it."""
    if _TABLE_START not in markdown:
        return markdown
    out: list[str] = []
    rows: list[str] | None = None  # the lines of the table being read
    quoted_blank: str | None = None  # after a table in a quote: its blank line
    for line in markdown.split("\n"):
        if rows is None:
            if _TABLE_START in line:
                before = line.split(_TABLE_START, 1)[0]
                marks = len(before) - len(before.lstrip(" >"))
                if _LIST_MARK.sub("", before[marks:]).strip(" *_"):  # words, not only marks
                    out += [before.rstrip(), ""]
                rows = []
            elif not (quoted_blank and not line):  # html2text's blank line after a table in a quote
                out.append(line)
            quoted_blank = None
            continue
        if _TABLE_END not in line:
            rows.append(line)
            continue
        delimiter = next((row for row in rows[1:] if "-" in row and not row.strip(" >|-")), "")  # html2text's own
        depth = delimiter[:len(delimiter) - len(delimiter.lstrip(" >"))].count(">")
        if depth:
            unquoted = re.compile(rf"^(?:> ?){{1,{depth}}}")
            rows[1:] = [unquoted.sub("", row) for row in rows[1:]]  # not the first: "> 5" may be a cell's
            if out and not out[-1]:
                out[-1] = ">" * depth  # the blank line before the table, written outside the quote above
        quote = "> " * depth
        out += [quote + row for row in reformat_table(rows, 1)] if rows else []
        quoted_blank = quote.rstrip()
        out.append(quoted_blank)
        rows = None
    return "\n".join(out + (rows or []))


def _serialised(tag: str, name: str, value: str) -> str:
    """An attribute as lxml writes it in HTML (and the parser would read it back): addresses in
    href, src and action (and an <a>'s name) without leading blanks, and percent-encoded but for
    what libxml2 leaves as it is."""
    if name not in _URI_ATTRIBUTES and not (name == "name" and tag == "a"):
        return value
    return _URI_ESCAPED.sub(lambda m: quote(m.group(0), safe=""), value.lstrip(" \t\n\r"))


_URI_ATTRIBUTES = frozenset({"href", "src", "action"})
# libxml2's xmlURIEscapeStr with the characters htmlAttrDumpOutput lets through.
_URI_ESCAPED = re.compile(r"[^A-Za-z0-9\-_.!~*'()@/:=?;#%&,+<>$]+")


def _defuse_attributes(tag: str, attrs: dict[str, str | None]) -> None:
    """Attributes html2text writes out, made inert in place: addresses checked, text escaped."""
    for name in ("href", "src"):
        value = attrs.get(name)
        if value is not None:
            url = safe_url(value, image=tag == "img" and name == "src")
            if url is None:
                del attrs[name]
            else:
                attrs[name] = url
    for name in ("alt", "title"):
        value = attrs.get(name)
        if value is not None:
            attrs[name] = _inert_attribute(value)


def _settle_code_blocks(markdown: str) -> str:
    """html2text's ``` blocks as fences that no line inside them can close, their characters raw;
    a block that a reader could end elsewhere is written as text instead, as are code characters
    outside any block."""
    if "```" not in markdown and not _CODE_CHAR.search(markdown):
        return markdown  # no code block: nothing to settle
    lines = markdown.split("\n")
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        opening = _FENCE_LINE.match(line)
        block = _block(lines, index + 1, opening.group("prefix")) if opening else None
        if opening is None or block is None:
            out.append(_as_text(line.replace("```", "&#96;&#96;&#96;")))
            index += 1
            continue
        prefix = opening.group("prefix")
        content, closing = block
        index += 1 + len(content) + (closing is not None)
        while content and not content[-1].strip(" >"):
            content = content[:-1]  # the line break that ends the <pre>'s text
        content = [_CODE_CHAR.sub(lambda m: _FROM_CODE_CHAR[m.group(0)], text) for text in content]
        longest = max((len(run) for text in content for run in re.findall(r"`+", text)), default=0)
        ticks = "`" * max(3, longest + 1)
        if out and out[-1].strip(" >"):  # a fence right after text is not one to every reader
            out.append(prefix.rstrip(" ") if ">" in prefix else "")
        out += [line.replace("```", ticks, 1), *content, (closing or prefix + "```").replace("```", ticks, 1)]
    return "\n".join(out)


def _block(lines: list[str], start: int, prefix: str) -> tuple[list[str], str | None] | None:
    """The lines of the block that opens before start and its closing line (None: it runs to the
    end, as readers take it); None when a reader could end it elsewhere: a line outside its
    container, or another fence."""
    quoted = prefix.rstrip(" ")
    for index in range(start, len(lines)):
        line = lines[index]
        if line.rstrip(" \t") == prefix + "```":
            return lines[start:index], line
        if (">" in prefix and not line.startswith(quoted)) or (line.strip() and not line.startswith(prefix)):
            return None  # the quote or the list item ends here, and the block with it
        if _LOOKS_LIKE_FENCE.match(line[len(prefix):]):
            return None
    return lines[start:], None


def _as_text(line: str) -> str:
    return _CODE_CHAR.sub(lambda m: _TEXT_ESCAPES[_FROM_CODE_CHAR[m.group(0)]], line)


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
