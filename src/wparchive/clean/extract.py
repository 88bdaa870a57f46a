"""What content points at and shows: links (a link graph), images with captions, headings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, urljoin, urlsplit

from lxml.html import HtmlElement

from .render import SPACES, classes_of, text_of

# Query parameters by which WordPress addresses an item whatever its permalinks.
_ID_PARAMETERS = ("p", "page_id", "attachment_id")
_MEDIA_CLASS = re.compile(r"wp-image-(\d+)")


@dataclass
class Link:
    """A hyperlink found in content."""

    href: str
    text: str
    internal: bool
    href_norm: str = ""  # matched against posts.link_norm to find the archived item it points at
    host: str = ""  # without www.
    wp_id: int | None = None  # when the URL names the item by id (?p=42)


@dataclass
class Image:
    """An image found in content."""

    src: str
    alt: str
    width: int | None = None
    height: int | None = None
    caption: str = ""
    media_id: int | None = None


@dataclass
class Heading:
    """One entry of a content's outline."""

    level: int
    text: str


def extract_links(root: HtmlElement, base_url: str, site_hosts: frozenset[str]) -> list[Link]:
    """Every http(s) link with its absolute href and anchor text, marked internal or external."""
    links = []
    for anchor in root.iter("a"):
        if (raw_href := anchor.get("href")) is None:
            continue
        href = raw_href.strip()
        if not href.startswith(("http://", "https://")) or "/." in href:
            href = urljoin(base_url, href)  # most links are absolute already, and urljoin is slow
        parts = urlsplit(href)
        if parts.scheme not in ("http", "https"):
            continue
        host = _host(parts)
        internal = host in site_hosts
        links.append(Link(
            href=href, text=text_of(anchor), internal=internal, href_norm=_normalised(parts, host), host=host,
            wp_id=_id_in_query(parts.query) if internal else None,
        ))
    return links


def extract_images(root: HtmlElement, base_url: str) -> list[Image]:
    """Every image: absolute src, alt, declared size, its caption and its media id where known."""
    images = []
    for img in root.iter("img"):
        src = img.get("src") or img.get("data-src") or img.get("data-orig-file") or ""
        if not src:
            continue
        media = _MEDIA_CLASS.search(img.get("class") or "")
        media_id = int(media.group(1)) if media else _int_attr(img.get("data-id") or img.get("data-attachment-id"))
        images.append(Image(
            src=urljoin(base_url, src.strip()),
            alt=SPACES.sub(" ", img.get("alt") or "").strip(),
            width=_int_attr(img.get("width")),
            height=_int_attr(img.get("height")),
            caption=img.get("data-wparchive-caption") or _caption_of(img),
            media_id=media_id,
        ))
    return images


def extract_headings(root: HtmlElement) -> list[Heading]:
    """The outline: every heading with its level."""
    return [Heading(int(h.tag[1]), text) for h in root.iter("h1", "h2", "h3", "h4", "h5", "h6")
            if (text := text_of(h))]


def host_of(url: str) -> str:
    return _host(urlsplit(url))


def normalise_url(url: str) -> str:
    """A URL reduced to what identifies a page: host without www, path without trailing slash, query."""
    parts = urlsplit(url)
    return _normalised(parts, _host(parts))


def _host(parts: SplitResult) -> str:
    host = (parts.hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _normalised(parts: SplitResult, host: str) -> str:
    path = parts.path.rstrip("/") or "/"
    return f"{host}{path}" + (f"?{parts.query}" if parts.query else "")


def _caption_of(img: HtmlElement) -> str:
    holder = next(img.iterancestors("figure", "div"), None)
    if holder is None:
        return ""
    caption = next(holder.iter("figcaption"), None)
    if caption is None:
        caption = next((e for e in holder.iter("*") if "wp-caption-text" in classes_of(e)), None)
    return text_of(caption) if caption is not None else ""


def _id_in_query(query: str) -> int | None:
    values = parse_qs(query)
    for name in _ID_PARAMETERS:
        if values.get(name, [""])[0].isdigit():
            return int(values[name][0])
    return None


def _int_attr(value: object) -> int | None:
    try:
        return int(str(value).strip().removesuffix("px"))
    except (TypeError, ValueError):
        return None
