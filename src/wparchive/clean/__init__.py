"""Pure functions from WordPress HTML to text, Markdown and metadata. No I/O.

normalise.py rewrites WordPress's peculiarities (captions, galleries, embeds, footnotes, shortcode
debris, plugin boilerplate) as plain HTML; render.py takes text and Markdown from the result;
extract.py finds links, images and headings in it.
"""

from __future__ import annotations

import html
import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from lxml.html import HtmlElement

from .extract import Heading, Image, Link, extract_headings, extract_images, extract_links, host_of, normalise_url
from .normalize import SHORTCODE, Boilerplate, Embed, normalise, parse_fragment, provider_of
from .render import LINE, PARAGRAPH, SPACES, fold, tree_to_markdown, tree_to_text

WORDS_PER_MINUTE = 230  # adult silent reading of non-fiction (Brysbaert 2019: 238)
_WORD = re.compile(r"\w+(?:['’]\w+)*")
_SIMPLE_FRAGMENT = re.compile(r"(?:[^<]|</?(?:p|br|em|strong|b|i|span|a|code|abbr|small|sup|sub)\b[^>]*>)*", re.I | re.S)
_PARAGRAPH_END = re.compile(r"</p\s*>", re.I)
_BREAK_TAG = re.compile(r"<br\b[^>]*>", re.I)
_ANY_TAG = re.compile(r"<[^>]*>")

__all__ = [
    "Boilerplate", "CleanContent", "Embed", "Heading", "Image", "Link", "clean_content", "count_words",
    "detect_language", "html_to_markdown", "html_to_text", "load_language_model", "normalise_url", "provider_of",
    "reading_minutes", "release_language_model", "site_hosts_of", "title_text",
]


@dataclass
class CleanContent:
    """Everything derived from one piece of rendered content."""

    text: str = ""
    markdown: str = ""
    word_count: int = 0
    reading_minutes: int = 0
    language: str | None = None
    pages: int = 1
    links: list[Link] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    embeds: list[Embed] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    shortcodes: list[str] = field(default_factory=list)


def clean_content(content_html: str, base_url: str = "", site_hosts: frozenset[str] = frozenset(),
                  boilerplate: Boilerplate | None = None) -> CleanContent:
    """Text, Markdown and metadata of a post's rendered content; the HTML itself is not changed."""
    if not content_html or not content_html.strip():
        return CleanContent()
    result = normalise(content_html, base_url, boilerplate, site_hosts)
    root = result.root
    # Joining every URL to the base is slow; most content has only absolute ones.
    markdown_base = "" if _all_absolute(root) else base_url
    cleaned = CleanContent(
        text=tree_to_text(root),
        links=extract_links(root, base_url, site_hosts),
        images=extract_images(root, base_url),
        headings=extract_headings(root),
        embeds=result.embeds,
        shortcodes=result.shortcodes,
        pages=result.pages,
        markdown=tree_to_markdown(root, markdown_base),
    )
    if boilerplate is not None and boilerplate.phrases:
        # Whole lines that are boilerplate phrases ("Leave a Reply") go; matching lines is far
        # cheaper than taking the text of every element.
        cleaned.text = boilerplate.without_phrase_lines(cleaned.text)
        cleaned.markdown = boilerplate.without_phrase_lines(cleaned.markdown)
        cleaned.headings = [h for h in cleaned.headings if not boilerplate.is_phrase(h.text)]
    cleaned.word_count = count_words(cleaned.text)
    cleaned.reading_minutes = reading_minutes(cleaned.word_count)
    cleaned.language = detect_language(cleaned.text)
    return cleaned


def _all_absolute(root: HtmlElement) -> bool:
    for element in root.iter("a", "img"):
        url = element.get("href" if element.tag == "a" else "src")
        if url is not None and not url.lstrip().startswith(("http://", "https://")):
            return False
    return True


def html_to_markdown(fragment: str, base_url: str = "") -> str:
    """Markdown of an HTML fragment as it is (see render.tree_to_markdown; clean_content also
    normalises it first)."""
    if not fragment or not fragment.strip():
        return ""
    return tree_to_markdown(parse_fragment(fragment), base_url)


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (an excerpt, a comment, a description)."""
    if not fragment or not fragment.strip():
        return ""
    if "<" not in fragment and "[" not in fragment:
        return fold(html.unescape(fragment))
    if _SIMPLE_FRAGMENT.fullmatch(fragment) and not SHORTCODE.search(fragment):
        # Paragraphs, breaks and inline markup only (most excerpts and comments): no tree needed.
        marked = _BREAK_TAG.sub(LINE, _PARAGRAPH_END.sub(PARAGRAPH, fragment))
        return fold(html.unescape(_ANY_TAG.sub("", marked)))
    return tree_to_text(normalise(fragment).root)


def title_text(rendered: str) -> str:
    """A title as one line of text: entities decoded (&#8217; → ’), tags removed."""
    return SPACES.sub(" ", html_to_text(rendered)).strip()


def count_words(text: str) -> int:
    """Words in text, counted as runs of letters or digits (with inner apostrophes)."""
    return len(_WORD.findall(text))


def reading_minutes(words: int) -> int:
    """Minutes an adult needs to read so many words; at least one for any text."""
    return math.ceil(words / WORDS_PER_MINUTE) if words else 0


LANGUAGE_SAMPLE_CHARS = 200


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language (py3langid), or None when there is too little text."""
    # langid's cost grows with the text: 200 characters (some 30 words) name the language of each of
    # the 67 posts of the real-posts corpus as 500 do, in half the time (0.24 ms against 0.49)
    sample = text[:LANGUAGE_SAMPLE_CHARS]
    if len(re.findall(r"[^\W\d_]", sample)) < 40:
        return None
    language, _ = _language_model().classify(sample)
    return str(language)


_language_lock = threading.Lock()
_language_identifier: Any = None


def load_language_model() -> None:
    """Load the language model now: it takes most of a second, which a harvest can spend in a
    thread while its first pages download (reading the compressed model mostly releases the GIL)."""
    _language_model()


def release_language_model() -> None:
    """Let the model go (about 75 MB), once this process will detect no more languages."""
    global _language_identifier
    with _language_lock:  # a load under way ends first
        _language_identifier = None


def _language_model() -> Any:
    global _language_identifier
    with _language_lock:
        if _language_identifier is None:
            # Imported here: py3langid brings numpy, which reading an archive never needs.
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _language_identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
        return _language_identifier


def site_hosts_of(*urls: str) -> frozenset[str]:
    """The host names that count as internal for a site (with and without www.)."""
    return frozenset(host for url in urls if (host := host_of(url)))
