"""Load the corpus of real WordPress post content (../shared/corpus/real/, one JSON file per post:
its content as the site served it and hand-written expectations) and check its shape."""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from shared_fixtures import SHARED

# Real posts are other people's pages: they are kept beside the project, in ../shared, not in it.
# $WPARCHIVE_CORPUS names another copy of it.
CORPUS_DIR = Path(os.environ.get("WPARCHIVE_CORPUS") or SHARED / "corpus" / "real")

SOURCE_FIELDS = ("repository", "path", "commit", "url", "license")
ITEM_FIELDS = ("source", "site", "kind", "language", "title", "link", "content_html", "expect")
EXPECT_FIELDS = ("sentences", "boilerplate", "links", "images")

# Tags that separate words when the HTML is read as text; every other tag joins its neighbours,
# so "<em>Wort</em>e" stays one word, as a browser shows it.
BLOCK_TAGS = frozenset(
    """address article aside blockquote br caption dd details div dl dt figcaption figure footer
    form h1 h2 h3 h4 h5 h6 header hr iframe img input label li main nav ol p pre section select
    summary table tbody td textarea tfoot th thead tr ul""".split()
)
# Their text is never prose the author wrote.
SKIPPED_TAGS = frozenset({"script", "style", "template"})
IMAGE_ATTRIBUTES = (
    "src", "data-src", "data-lazy-src", "data-orig-file", "data-large-file", "data-medium-file",
    "data-original", "data-full-url", "data-img-url", "href", "poster",
)
SRCSET_ATTRIBUTES = ("srcset", "data-srcset", "data-lazy-srcset")


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hrefs: set[str] = set()
        self.image_urls: set[str] = set()
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs)
        if tag in SKIPPED_TAGS:
            self._skipping += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs)

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCK_TAGS:
            self.parts.append(" ")
        for name, value in attrs:
            if value is None:
                continue
            if name == "href" and tag == "a":
                self.hrefs.add(value)
            if name in IMAGE_ATTRIBUTES:
                self.image_urls.add(value)
            if name in SRCSET_ATTRIBUTES:
                for candidate in value.split(","):
                    if candidate.strip():
                        self.image_urls.add(candidate.split()[0])

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_TAGS and self._skipping:
            self._skipping -= 1
        if tag in BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def read_html(html: str) -> _Reader:
    """Parse HTML once for its text, its link targets and its image URLs."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader


# Characters a reader never sees: soft hyphens (French sites hyphenate every word with them),
# zero-width spaces and joiners.
INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))


def collapse(text: str) -> str:
    """Drop invisible characters and collapse every run of whitespace (nbsp too) into one space."""
    return re.sub(r"\s+", " ", text.translate(INVISIBLE).replace("\u00a0", " ")).strip()


def html_text(html: str) -> str:
    """The text of an HTML fragment: tags stripped, entities decoded, whitespace collapsed."""
    return collapse("".join(read_html(html).parts))


def _require(item: dict[str, Any], fields: tuple[str, ...], where: str) -> None:
    missing = [name for name in fields if name not in item]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")


def validate(item: dict[str, Any], where: str) -> None:
    """Raise ValueError when an item lacks a field or has a field of the wrong type."""
    _require(item, ITEM_FIELDS, where)
    _require(item["source"], SOURCE_FIELDS, f"{where} source")
    _require(item["expect"], EXPECT_FIELDS, f"{where} expect")
    for name in ITEM_FIELDS:
        if name not in ("source", "expect") and not isinstance(item[name], str):
            raise ValueError(f"{where}: {name} is not a string")
    for name in EXPECT_FIELDS:
        values = item["expect"][name]
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            raise ValueError(f"{where}: expect.{name} is not a list of non-empty strings")
    if not item["content_html"].strip():
        raise ValueError(f"{where}: content_html is empty")


def load_corpus(directory: Path = CORPUS_DIR) -> list[dict[str, Any]]:
    """Every item of the corpus, sorted by file name, each validated; nothing is skipped."""
    items = []
    for path in sorted(directory.glob("*.json")):
        item = json.loads(path.read_text(encoding="utf-8"))
        validate(item, path.name)
        item["file"] = path.name
        items.append(item)
    return items
