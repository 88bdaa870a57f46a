"""Harvesting a WordPress site whose REST API is disabled or blocked: its RSS feed, its sitemaps,
and its pages, read the way a theme lays them out.

Every item becomes the same kind of row a REST harvest makes, with `source` saying where it
came from: "feed" (the feed gave the full text) or "html" (the page itself was read).

Only URLs on the site's own origin (the scheme, host and port of the page the harvest started
from, as it was reached) are fetched or stored: a feed or sitemap that lists other sites' pages
has them recorded as skipped, not read.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Callable, Iterator
from urllib.parse import parse_qs, urljoin, urlsplit

from sqlite_utils.db import Database

from .client import Client, warc_record_id, with_params
from .db import record_error
from .errors import FetchError
from .pages import ItemPage
from .rows import Provenance, utc_now

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

NS = {"content": "http://purl.org/rss/1.0/modules/content/", "dc": "http://purl.org/dc/elements/1.1/",
      "sm": "http://www.sitemaps.org/schemas/sitemap/0.9", "atom": "http://www.w3.org/2005/Atom"}
CONTENT_SELECTORS = (".entry-content", ".post-content", ".wp-block-post-content", "[itemprop=articleBody]",
                     ".post-entry", ".entry", "main article", "article")
_ID_CLASS = re.compile(r"\b(?:postid|page-id)-(\d+)\b")
MAX_FEED_PAGES = 1000
MAX_SKIPPED_KEPT = 1000  # URLs on other origins recorded one by one; the rest are counted


@dataclass
class Listed:
    """An item the feed gave, or a page a sitemap listed, to be read."""

    url: str
    post_type: str
    lastmod: str | None = None
    item: dict[str, Any] | None = None
    provenance: Provenance | None = None


@dataclass
class Skipped:
    """A URL the feed or a sitemap listed that is not on the site's origin: neither fetched nor stored."""

    url: str
    listed_by: str
    post_type: str


@dataclass
class Listing:
    """What a site's feed and sitemaps list: the items to read, by post type, and the URLs on
    other origins that were left alone (the first MAX_SKIPPED_KEPT of them; all are counted)."""

    by_type: dict[str, list[Listed]] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    skipped_count: int = 0

    def skip(self, url: str, listed_by: str, post_type: str) -> None:
        """Leave a URL alone, and say so."""
        self.skipped_count += 1
        if len(self.skipped) < MAX_SKIPPED_KEPT:
            self.skipped.append(Skipped(url, listed_by, post_type))


Origin = tuple[str, str, int]


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) of an http or https URL; None for any other scheme and for what a
    browser and a URL library could read differently (user:pass@, a backslash, controls)."""
    if _AMBIGUOUS_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is none, a malformed IPv6 address
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return scheme, parts.hostname.lower().rstrip("."), port or (443 if scheme == "https" else 80)


def on_origin(url: str, origin: Origin) -> bool:
    """Whether url is on origin: the same scheme, host and port; or, for a site on plain http,
    the same host over https (an upgrade; never the other way round)."""
    found = origin_of(url)
    if found is None:
        return False
    return found == origin or (origin[0] == "http" and origin[2] == 80 and found == ("https", origin[1], 443))


_AMBIGUOUS_URL = re.compile(r"[\x00-\x20\\\x7f]")


def list_items(client: Client, feed_url: str, home: str, run_id: int) -> Listing:
    """What the site says it has, by post type: the feed's items, then the pages its sitemaps
    list (to be read unless the feed gave their full text). Only URLs on the feed's origin are
    listed; the others are in the listing's skipped."""
    listing = Listing()
    origin = origin_of(feed_url)
    if origin is None:
        return listing
    found: dict[str, Listed] = {}
    for page_url, item in read_feed(client, feed_url):
        item["link"] = urljoin(page_url, item["link"]) if item["link"] else ""
        if item["link"] and not on_origin(item["link"], origin):
            listing.skip(item["link"], page_url, item["type"])
        elif item["link"] not in found:
            found[item["link"]] = Listed(item["link"], item["type"], item=item,
                                         provenance=Provenance(page_url, utc_now(), run_id))
    if on_origin(home, origin):
        for url, (post_type, lastmod) in read_sitemaps(client, home, origin, listing.skip).items():
            known = found.get(url)
            if known is None or known.item is None or not known.item["wparchive_full_text"]:
                found[url] = Listed(url, post_type, lastmod=lastmod)
    for listed in found.values():
        listing.by_type.setdefault(listed.post_type, []).append(listed)
    return listing


def record_skipped(db: Database, run_id: int, site_id: int, listing: Listing, origin_url: str) -> None:
    """Keep the URLs a listing left alone in harvest_errors (reason off_origin), where users see them."""
    for skipped in listing.skipped:
        record_error(db, run_id, at=utc_now(), site_id=site_id, collection=skipped.post_type, url=skipped.url,
                     reason="off_origin", message=f"not fetched: {skipped.url} is not on the site's origin "
                                                  f"({origin_url}); listed by {skipped.listed_by}")
    if listing.skipped_count > len(listing.skipped):
        record_error(db, run_id, at=utc_now(), site_id=site_id, reason="off_origin",
                     message=f"not fetched: {listing.skipped_count - len(listing.skipped)} more URLs on other "
                             f"origins than the {len(listing.skipped)} above")


def read_items(client: Client, listed: list[Listed], run_id: int, *, on_failed: Callable[[FetchError], None],
               size: int = 100) -> Iterator[ItemPage]:
    """The items listed, a hundred at a time, each with the provenance of the page it was read
    from: feed items as they are, the others read from their pages (a page that cannot be read
    goes to on_failed and is left out)."""
    items: list[dict[str, Any]] = []
    provenance: list[Provenance] = []
    for entry in listed:
        if entry.item is not None and entry.provenance is not None:
            item, prov = entry.item, entry.provenance
        else:
            try:
                response = client.get(entry.url)
                if response.status_code >= 400:
                    raise FetchError(f"HTTP {response.status_code} from {entry.url}", url=entry.url,
                                     status=response.status_code, body=response.content,
                                     reason=f"http_{response.status_code}")
                if not on_origin(response.url, origin_of(entry.url) or ("", "", 0)):
                    # The page sent us to another origin: what came from there is not the site's.
                    raise FetchError(f"{entry.url} redirects off the site's origin, to {response.url}",
                                     url=entry.url, status=response.status_code, reason="off_origin")
            except FetchError as exc:
                on_failed(exc)
                continue
            item = read_page(response.content, response.url)
            item["type"] = entry.post_type
            item["modified_gmt"] = dates_of(entry.lastmod)[1] or item["modified_gmt"]
            prov = Provenance(response.url, utc_now(), run_id, warc_record_id(response))
        items.append(item)
        provenance.append(prov)
        if len(items) == size:
            yield ItemPage(items, provenance)
            items, provenance = [], []
    if items:
        yield ItemPage(items, provenance)


def locate_feed(client: Client, page_url: str) -> tuple[str, str]:
    """The site's RSS feed URL and its home, from the page's <link rel=alternate> or the usual places."""
    from bs4 import BeautifulSoup  # here: only a site without its REST API needs it

    response = client.get(page_url)
    soup = BeautifulSoup(response.content, "html.parser")
    link = soup.find("link", rel="alternate", type=re.compile(r"application/(rss|atom)\+xml"))
    named = urljoin(response.url, str(link["href"])) if link is not None and link.get("href") else ""
    origin = origin_of(response.url)
    if named and "comments" not in named and origin is not None and on_origin(named, origin):
        feed = named
    else:  # none named, or one on another site's origin: the usual place on this one
        parts = urlsplit(response.url)
        feed = f"{parts.scheme}://{parts.netloc}/feed/"
    home = re.sub(r"/(?:feed/?(?:rss2?|atom)?/?|\?feed=\w+)$", "", feed).rstrip("/") or feed
    return feed, home


def read_feed(client: Client, feed_url: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(URL of the feed page, item) for every item of every page of an RSS 2.0 or Atom feed."""
    seen_first: set[str] = set()
    for number in range(1, MAX_FEED_PAGES + 1):
        url = feed_url if number == 1 else with_params(feed_url, {"paged": number})
        response = client.get(url)
        if response.status_code == 404 or response.status_code >= 400:
            return
        try:
            root = ET.fromstring(response.content)
        except ET.ParseError:
            return
        items = [_rss_item(i) for i in root.iter("item")] or [_atom_entry(e) for e in root.iter(f"{{{NS['atom']}}}entry")]
        if not items or items[0]["link"] in seen_first:
            return  # past the end: some sites answer every page number with the first page
        seen_first.add(items[0]["link"])
        for item in items:
            yield response.url, item


def feed_channel(client: Client, feed_url: str) -> tuple[str, str, str]:
    """The feed's title, description and site link."""
    response = client.get(feed_url)
    if response.status_code != 200:
        raise FetchError(f"no feed at {feed_url} (HTTP {response.status_code})", url=feed_url,
                         status=response.status_code, body=response.content, reason="no_feed")
    root = ET.fromstring(response.content)
    if root.tag not in ("rss", f"{{{NS['atom']}}}feed"):
        raise FetchError(f"{feed_url} is not an RSS or Atom feed", url=feed_url, body=response.content,
                         reason="no_feed")
    channel = root.find("channel")
    if channel is not None:
        link = (channel.findtext("link") or "").strip()
        origin = origin_of(response.url)
        # A feed cannot move the harvest to another site: a link elsewhere is not the site's home.
        return (channel.findtext("title") or "", channel.findtext("description") or "",
                link if origin is not None and on_origin(link, origin) else "")
    title = root.findtext(f"{{{NS['atom']}}}title") or ""
    return title, root.findtext(f"{{{NS['atom']}}}subtitle") or "", ""


def read_sitemaps(client: Client, home: str, origin: Origin,
                  skip: Callable[[str, str, str], None]) -> dict[str, tuple[str, str | None]]:
    """URL → (post type, lastmod) from WordPress's core sitemaps (or a sitemap index of a plugin):
    sitemaps and pages on origin only; skip hears of the others (URL, where listed, post type)."""
    found: dict[str, tuple[str, str | None]] = {}
    for index in (f"{home}/wp-sitemap.xml", f"{home}/sitemap_index.xml", f"{home}/sitemap.xml"):
        response = client.get(index)
        if response.status_code != 200:
            continue
        try:
            root = ET.fromstring(response.content)
        except ET.ParseError:
            continue
        maps = ([urljoin(index, (loc.text or "").strip()) for loc in root.iter(f"{{{NS['sm']}}}loc")]
                if root.tag.endswith("sitemapindex") else [index])
        for sitemap_url in maps:
            post_type = _sitemap_type(sitemap_url)
            if post_type is None:
                continue  # taxonomies, users: not content
            if not on_origin(sitemap_url, origin):
                skip(sitemap_url, index, post_type)
                continue
            answer = client.get(sitemap_url) if sitemap_url != index else response
            if answer.status_code != 200:
                continue
            for url in ET.fromstring(answer.content).iter(f"{{{NS['sm']}}}url"):
                loc = urljoin(sitemap_url, (url.findtext("sm:loc", namespaces=NS) or "").strip())
                if loc == sitemap_url:
                    continue  # no loc
                if not on_origin(loc, origin):
                    skip(loc, sitemap_url, post_type)
                else:
                    found[loc] = (post_type, url.findtext("sm:lastmod", namespaces=NS))
        if found:
            break
    return found


def read_page(html_bytes: bytes, url: str) -> dict[str, Any]:
    """A post or page as a REST-like item, read from the theme's HTML."""
    from bs4 import BeautifulSoup, Tag

    soup = BeautifulSoup(html_bytes, "html.parser")
    body = soup.find("body")
    classes = " ".join(body.get("class") or []) if isinstance(body, Tag) else ""
    wp_id = _first_int(_ID_CLASS.search(classes))
    shortlink = soup.find("link", rel="shortlink")
    if wp_id is None and shortlink is not None:
        wp_id = _id_from_url(str(shortlink.get("href") or ""))
    article = soup.find("article", id=re.compile(r"^post-\d+$"))
    if wp_id is None and article is not None:
        wp_id = int(str(article["id"]).split("-")[1])
    title_tag = soup.select_one(".entry-title, h1.post-title, article h1, h1")
    title = title_tag.decode_contents() if title_tag is not None else _meta(soup, "og:title")
    content = next((node for selector in CONTENT_SELECTORS if (node := soup.select_one(selector)) is not None), None)
    published = _meta(soup, "article:published_time") or _attr(soup.select_one("time.entry-date, time[datetime]"))
    category_links = soup.select("a[rel~=category]")
    tag_links = [a for a in soup.select("a[rel~=tag]") if "category" not in (a.get("rel") or [])]
    post_type = "page" if "page-id-" in classes or "page-template" in classes else "post"
    return _item(
        wp_id=wp_id, url=url, post_type=post_type, title=title or "", content=content.decode_contents() if content else "",
        published=published, modified=_meta(soup, "article:modified_time"),
        author=_meta(soup, "author", "name") or _text(soup.select_one(".author a, a[rel=author]")),
        categories=[_text(a) for a in category_links], tags=[_text(a) for a in tag_links], source="html",
    )


def _rss_item(node: ET.Element) -> dict[str, Any]:
    guid = node.findtext("guid") or ""
    link = (node.findtext("link") or guid).strip()
    pub = node.findtext("pubDate")
    published = parsedate_to_datetime(pub).astimezone(timezone.utc).isoformat() if pub else None
    content = node.findtext("content:encoded", namespaces=NS)
    return _item(
        wp_id=_id_from_url(guid) or _id_from_url(link), url=link, post_type="post", title=node.findtext("title") or "",
        content=content or "", excerpt=node.findtext("description") or "", published=published, modified=None,
        author=node.findtext("dc:creator", namespaces=NS) or "",
        categories=[c.text or "" for c in node.findall("category")], tags=[], source="feed",
        full_text=bool(content and content.strip()),
    )


def _atom_entry(node: ET.Element) -> dict[str, Any]:
    def text(tag: str) -> str:
        return node.findtext(f"atom:{tag}", namespaces=NS) or ""
    link = next((l.get("href", "") for l in node.findall("atom:link", NS) if l.get("rel", "alternate") == "alternate"), "")
    content = text("content")
    return _item(
        wp_id=_id_from_url(text("id")) or _id_from_url(link), url=link, post_type="post", title=text("title"),
        content=content, excerpt=text("summary"), published=text("published") or None, modified=text("updated") or None,
        author=node.findtext("atom:author/atom:name", namespaces=NS) or "",
        categories=[c.get("term", "") for c in node.findall("atom:category", NS)], tags=[], source="feed",
        full_text=bool(content.strip()),
    )


def _item(*, wp_id: int | None, url: str, post_type: str, title: str, content: str, published: str | None,
          modified: str | None, author: str, categories: list[str], tags: list[str], source: str,
          excerpt: str = "", full_text: bool = True) -> dict[str, Any]:
    """A REST-shaped item (what records.post_record reads), with what only the fallback knows."""
    local, gmt = dates_of(published)
    _, modified_gmt = dates_of(modified)
    slug = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    return {
        # No WordPress id in sight: a stable negative one from the URL keeps the key unique.
        "id": wp_id if wp_id is not None else -(zlib.crc32(url.encode("utf-8")) or 1),
        "type": post_type, "status": "publish", "link": url, "slug": slug,
        "title": {"rendered": title}, "content": {"rendered": content, "protected": False},
        "excerpt": {"rendered": excerpt}, "date": local, "date_gmt": gmt, "modified_gmt": modified_gmt or gmt,
        "wparchive_source": source, "wparchive_author_name": author, "wparchive_categories": categories,
        "wparchive_tags": tags, "wparchive_full_text": full_text,
    }


def dates_of(value: str | None) -> tuple[str | None, str | None]:
    """(site-local, GMT) times in the REST API's format from an ISO 8601 time with an offset."""
    if not value:
        return None, None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None, None
    if when.tzinfo is None:
        return when.strftime("%Y-%m-%dT%H:%M:%S"), None
    return (when.strftime("%Y-%m-%dT%H:%M:%S"),
            when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"))


def _sitemap_type(url: str) -> str | None:
    name = url.rsplit("/", 1)[-1]
    if name.startswith("wp-sitemap-posts-"):  # wp-sitemap-posts-<type>-<n>.xml
        return re.sub(r"-\d+\.xml$", "", name[len("wp-sitemap-posts-"):]) or "post"
    if name.startswith("wp-sitemap-"):
        return None  # taxonomies and users
    if name.startswith(("post-sitemap", "page-sitemap")):  # Yoast and others
        return name.split("-", 1)[0]
    if name in ("sitemap.xml",):
        return "post"
    return None


def _id_from_url(url: str) -> int | None:
    values = parse_qs(urlsplit(url).query)
    for name in ("p", "page_id"):
        if values.get(name, [""])[0].isdigit():
            return int(values[name][0])
    return None


def _first_int(match: re.Match[str] | None) -> int | None:
    return int(match.group(1)) if match else None


def _meta(soup: BeautifulSoup, name: str, attribute: str = "property") -> str:
    tag = soup.find("meta", attrs={attribute: name})
    return str(tag.get("content") or "") if tag is not None else ""


def _attr(tag: Tag | None) -> str:
    return str(tag.get("datetime") or "") if tag is not None else ""


def _text(tag: Tag | None) -> str:
    return " ".join(tag.get_text().split()) if tag is not None else ""
