"""Pure functions from WordPress HTML to plain text, Markdown, links and images. No I/O."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import html2text
from bs4 import BeautifulSoup, NavigableString, Tag

# Private-use characters stand for the breaks we insert, so that the whitespace of the HTML
# source (which a browser folds into one space) can be folded before they are expanded.
_PARAGRAPH = "\ue000"
_LINE = "\ue001"
_KEPT_SPACE = "\ue002"  # a space inside <pre>, which must survive folding

BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "details", "dialog", "div", "dl", "dd", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hgroup", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary",
    "table", "caption", "tr", "ul",
})
LINE_TAGS = frozenset({"li", "dt", "dd", "tr", "figcaption", "caption"})
CELL_TAGS = frozenset({"td", "th"})
DROPPED_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "form")
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u200b]+")
_FIGCAPTION = re.compile(r"</?figcaption\b", re.IGNORECASE)
_BLANK_LINE = re.compile(r"^[ \t]+$", re.MULTILINE)
_BREAKS = re.compile(rf"\s*[{_PARAGRAPH}{_LINE}][\s{_PARAGRAPH}{_LINE}]*")


@dataclass
class Link:
    """A hyperlink found in content."""

    href: str
    text: str
    internal: bool


@dataclass
class Image:
    """An image found in content."""

    src: str
    alt: str
    width: int | None = None
    height: int | None = None


@dataclass
class CleanContent:
    """Everything derived from one piece of HTML."""

    text: str = ""
    markdown: str = ""
    word_count: int = 0
    links: list[Link] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)


def clean_content(content_html: str, base_url: str = "", site_hosts: frozenset[str] = frozenset()) -> CleanContent:
    """Text, Markdown, word count, links and images of a post's rendered content."""
    if not content_html or not content_html.strip():
        return CleanContent()
    soup = BeautifulSoup(content_html, "html.parser")
    links = extract_links(soup, base_url, site_hosts)
    images = extract_images(soup, base_url)
    text = _soup_to_text(soup)
    return CleanContent(
        text=text,
        markdown=html_to_markdown(content_html, base_url),
        word_count=count_words(text),
        links=links,
        images=images,
    )


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: entities decoded, paragraphs kept apart, blank runs folded."""
    if not fragment or not fragment.strip():
        return ""
    if "<" not in fragment:
        return _fold(html.unescape(fragment))
    return _soup_to_text(BeautifulSoup(fragment, "html.parser"))


def title_text(rendered: str) -> str:
    """A title as one line of text: entities decoded (&#8217; → ’), tags removed."""
    return _SPACES.sub(" ", html_to_text(rendered)).strip()


def html_to_markdown(fragment: str, base_url: str = "") -> str:
    """Markdown of an HTML fragment, by html2text with unwrapped lines and Unicode kept."""
    if not fragment or not fragment.strip():
        return ""
    # html2text runs a caption into the image before it; as a paragraph it stands on its own.
    fragment = _FIGCAPTION.sub(lambda m: m.group(0).replace("figcaption", "p"), fragment)
    converter = html2text.HTML2Text(baseurl=base_url)
    converter.body_width = 0
    converter.unicode_snob = True
    converter.ignore_images = False
    converter.ignore_links = False
    converter.wrap_links = False
    converter.inline_links = True
    markdown = _BLANK_LINE.sub("", converter.handle(fragment))
    return re.sub(r"\n{3,}", "\n\n", markdown).strip()


def count_words(text: str) -> int:
    """Words in text, counted as runs of letters or digits."""
    return len(re.findall(r"\w+(?:['’]\w+)*", text))


def extract_links(soup: BeautifulSoup, base_url: str, site_hosts: frozenset[str]) -> list[Link]:
    """Every http(s) link with its absolute href and anchor text, marked internal or external."""
    links = []
    for anchor in soup.find_all("a", href=True):
        href = urljoin(base_url, str(anchor["href"]).strip())
        parts = urlsplit(href)
        if parts.scheme not in ("http", "https"):
            continue
        links.append(Link(href=href, text=title_text(anchor.decode_contents()), internal=_host(href) in site_hosts))
    return links


def extract_images(soup: BeautifulSoup, base_url: str) -> list[Image]:
    """Every image with its absolute src, alt text and declared size."""
    images = []
    for img in soup.find_all("img"):
        src = img.get("src") or img.get("data-src") or ""
        if not src:
            continue
        images.append(Image(
            src=urljoin(base_url, str(src).strip()),
            alt=_SPACES.sub(" ", str(img.get("alt") or "")).strip(),
            width=_int_attr(img.get("width")),
            height=_int_attr(img.get("height")),
        ))
    return images


def site_hosts_of(*urls: str) -> frozenset[str]:
    """The host names that count as internal for a site (with and without www.)."""
    hosts = set()
    for url in urls:
        host = _host(url)
        if host:
            hosts.add(host)
    return frozenset(hosts)


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _int_attr(value: object) -> int | None:
    try:
        return int(str(value).strip().removesuffix("px"))
    except (TypeError, ValueError):
        return None


def _soup_to_text(soup: BeautifulSoup) -> str:
    for tag in soup.find_all(DROPPED_TAGS):
        tag.decompose()
    for pre in soup.find_all("pre"):
        for string in pre.find_all(string=True):
            string.replace_with(string.replace("\n", _LINE).replace(" ", _KEPT_SPACE))
    for br in soup.find_all("br"):
        br.replace_with(_LINE)
    for tag in soup.find_all(True):
        name = tag.name
        if name in CELL_TAGS:
            tag.append(NavigableString(" "))
        elif name in LINE_TAGS or (name in ("ul", "ol") and tag.find_parent("li") is not None):
            _surround(tag, _LINE)
        elif name in BLOCK_TAGS:
            _surround(tag, _PARAGRAPH)
    return _fold(soup.get_text())


def _surround(tag: Tag, marker: str) -> None:
    tag.insert_before(NavigableString(marker))
    tag.insert_after(NavigableString(marker))


def _fold(text: str) -> str:
    text = _SPACES.sub(" ", text)
    text = _BREAKS.sub(lambda m: "\n\n" if _PARAGRAPH in m.group(0) else "\n", text)
    return text.replace(_KEPT_SPACE, " ").strip()
