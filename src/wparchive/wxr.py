"""WXR: WordPress eXtended RSS 1.2 as WordPress's own exporter writes it, so that the official
WordPress Importer (and `wp import`) brings an archived site back into a WordPress.

Everything comes from the raw JSON the site served: signed in (context=edit), that holds the raw
block markup of content, title and excerpt, which Gutenberg needs; anonymous, the rendered HTML
goes in its place. Items are streamed in WordPress id order, and files are split at a size: the
importer reads a whole file into memory, and hosts cap uploads. It links a page to its parent and
a post to its featured image only within one import, so a file repeats what an item needs of
earlier files (its ancestors, its featured image) before the item.
"""

from __future__ import annotations

import heapq
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import IO, Any, Iterator
from xml.sax.saxutils import escape, quoteattr

from sqlite_utils.db import Database

from .db.queries import WXR_COMMENTS_SQL, WXR_ITEM_SQL, WXR_TERMS_SQL, WXR_USERS_SQL, wxr_item_sql
from .errors import ExportError, NothingToExport
from .export_choices import WXR_MAX_MB
from .progress import Progress, SilentProgress
from .selection import select

WXR_VERSION = "1.2"
_NO_DATE = "0000-00-00 00:00:00"  # what WordPress writes for a draft never scheduled
# What XML 1.0 cannot hold, however escaped: control characters, lone surrogates, U+FFFE/U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_FOOTER = "</channel>\n</rss>\n"
_NAMESPACES = ('xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/" '
               'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
               'xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
               'xmlns:dc="http://purl.org/dc/elements/1.1/" '
               'xmlns:wp="http://wordpress.org/export/1.2/"')
# Comment states as the REST API names them, and as wp_comments.comment_approved holds them.
_APPROVED = {"approved": "1", "approve": "1", "hold": "0", "unapproved": "0", "spam": "spam", "trash": "trash"}
# Statuses an imported item may have; anything else a site sends becomes a draft.
_STATUSES = frozenset({"publish", "future", "draft", "pending", "private", "inherit"})


@dataclass
class WxrExport:
    """What an export wrote: its files, the items and comments in them, and what it left out and why."""

    files: list[Path] = field(default_factory=list)
    items: int = 0
    comments: int = 0
    repeated: int = 0  # items written again in a later file, for what needs them there
    rendered: int = 0  # items harvested without signing in: their rendered HTML, not their block markup
    left_out: list[str] = field(default_factory=list)


def write_wxr(db: Database, out: Path, *, site: str | None = None, post_type: str | None = None,
              since: str | None = None, include_deleted: bool = False, max_mb: float = WXR_MAX_MB,
              media_url: str | None = None, progress: Progress | None = None) -> WxrExport:
    """Write one site of the archive as WXR to out, or, past max_mb, to out-001.xml, out-002.xml …
    each importable on its own. media_url is where the archive's media folder is served: a file
    downloaded with --media is then fetched by the importer from there, not from the old site."""
    progress = progress or SilentProgress()
    chosen = select(db, site=site, post_type=post_type, since=since, other_types=("attachment",))
    site_row = _one_site(chosen.sites)
    queries = wxr_item_sql(site_id=site_row["id"], post_type=post_type, since=since, include_deleted=include_deleted)
    total = sum(db.execute(count, params).fetchone()[0] for _, count, params in queries)
    if not total and (post_type or since):  # a site without items still has authors and terms to import
        raise NothingToExport(f"nothing to export: no {'' if include_deleted else 'live '}item {chosen.described()}")
    writer = _Writer(db, out, site_row, max_bytes=int(max_mb * 1024 * 1024), include_deleted=include_deleted,
                     media_url=media_url)
    progress.begin("export", total)
    try:
        # Posts and attachments share WordPress's ids: merged, they come in the order WordPress exports them.
        for row in heapq.merge(*(_rows(db, sql, params) for sql, _, params in queries), key=lambda r: r["wp_id"]):
            writer.add(row)
            progress.advance(1)
        writer.close()
    finally:
        writer.abandon()
        progress.end("export")
    return writer.result


def _one_site(sites: list[dict[str, Any]]) -> dict[str, Any]:
    """The site to export, of those the filters chose: a WXR file holds one blog."""
    if len(sites) == 1:
        return sites[0]
    if not sites:
        raise NothingToExport("nothing to export: the archive holds no site yet", hint="")
    listed = ", ".join(f"{s['id']} ({s['home']})" for s in sites)
    raise ExportError(f"a WXR file holds one site, and {len(sites)} match: {listed}",
                      hint="Choose one with --site ID, and export each site to a file of its own.")


def _rows(db: Database, sql: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    cursor = db.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    while rows := cursor.fetchmany(200):
        for row in rows:
            yield dict(zip(columns, row, strict=True))


class _Writer:
    """The files of one export: each opened with the site's authors and terms, items added until
    the next would pass the size."""

    def __init__(self, db: Database, out: Path, site: dict[str, Any], *, max_bytes: int, include_deleted: bool,
                 media_url: str | None) -> None:
        self.db, self.out, self.site = db, out, site
        self.max_bytes, self.include_deleted = max_bytes, include_deleted
        self.media_url = media_url.rstrip("/") + "/" if media_url else None
        self.result = WxrExport()
        self.logins: dict[int, str] = {}  # user id → login, for the items' dc:creator
        self.header = self._header()
        self.stream: IO[str] | None = None
        self.size = 0
        self.in_file: set[int] = set()  # WordPress ids of the items in the file being written
        self.written: set[int] = set()  # and in any file

    def add(self, row: dict[str, Any]) -> None:
        item = _Item.of(row)
        why = item.left_out_because()
        if why:
            self.result.left_out.append(f"{item.type} {item.wp_id} ({item.title_text()}): {why}")
            return
        if self.stream is None:
            self._next_file()
        blocks = self._blocks(item)
        if len(self.in_file) and self.size + sum(len(b.encode("utf-8")) for _, b in blocks) + len(_FOOTER) > \
                self.max_bytes:
            self._next_file()
            blocks = self._blocks(item)  # what it needs, again in this file
        if item.type != "attachment" and not item.has_raw_content():
            self.result.rendered += 1
        for written, block in blocks:
            self._write(block)
            self.in_file.add(written.wp_id)
            if written is not item and written.wp_id in self.written:
                self.result.repeated += 1
            self.written.add(written.wp_id)
        self.result.items += 1

    def _blocks(self, item: _Item) -> list[tuple[_Item, str]]:
        """The XML of item, after that of what it needs and this file does not hold yet."""
        needed = [n for n in self._needs(item) if n.wp_id not in self.in_file]
        return [(n, self._item_xml(n, comments=False)) for n in needed] + [(item, self._item_xml(item, comments=True))]

    def close(self) -> None:
        if self.stream is None:
            self._next_file()  # an archive with nothing to export still gives an importable file
        assert self.stream is not None
        self.stream.write(_FOOTER)
        self.stream.close()
        self.stream = None
        if len(self.result.files) == 1:  # one file: named as asked, not numbered
            self.result.files[0] = self.result.files[0].replace(self.out)

    def abandon(self) -> None:
        """After a failure: the file being written is closed, and is not taken for a whole one."""
        if self.stream is not None:
            self.stream.close()
            self.stream = None

    def _next_file(self) -> None:
        if self.stream is not None:
            self.stream.write(_FOOTER)
            self.stream.close()
        path = self.out.with_name(f"{self.out.stem}-{len(self.result.files) + 1:03d}{self.out.suffix or '.xml'}")
        self.stream = path.open("w", encoding="utf-8", newline="\n")
        self.result.files.append(path)
        self.size = 0
        self.in_file = set()
        self._write(self.header)

    def _write(self, text: str) -> None:
        assert self.stream is not None
        self.stream.write(text)
        self.size += len(text.encode("utf-8"))

    def _needs(self, item: _Item) -> list[_Item]:
        """What the importer must meet in the same file as item: its ancestors, eldest first, and
        its featured image (which it links by id only within one import)."""
        needs: list[_Item] = []
        seen = {item.wp_id}
        parent = item.parent_id
        while parent and parent not in seen:  # a loop of parents a site may send ends here
            seen.add(parent)
            ancestor = self._item(parent)
            if ancestor is None:
                break
            needs.insert(0, ancestor)
            parent = ancestor.parent_id
        featured = item.featured_id
        if featured and featured not in seen and (image := self._item(featured)) is not None:
            needs.append(image)
        return needs

    def _item(self, wp_id: int) -> _Item | None:
        rows = [row for sql in WXR_ITEM_SQL for row in _rows(self.db, sql, {"site_id": self.site["id"], "wp_id": wp_id})]
        if not rows:
            return None
        item = _Item.of(rows[0])
        return None if item.left_out_because() or (item.deleted and not self.include_deleted) else item

    # --- XML ------------------------------------------------------------------------------

    def _header(self) -> str:
        home = self.site["home"] or ""
        parts = [
            '<?xml version="1.0" encoding="UTF-8" ?>\n',
            f"<!-- This is a WordPress eXtended RSS file written by wparchive from its archive of {_comment(home)}.\n"
            "     Import it with the WordPress Importer (Tools > Import > WordPress) or `wp import`. -->\n",
            f'<rss version="2.0" {_NAMESPACES}>\n<channel>\n',
            _element("title", self.site["name"] or home),
            _element("link", home),
            _element("description", self.site["description"] or ""),
            _element("pubDate", format_datetime(datetime.now(timezone.utc))),
            _element("wp:wxr_version", WXR_VERSION),
            _element("wp:base_site_url", home),
            _element("wp:base_blog_url", home),
        ]
        parts += [self._author_xml(row) for row in _rows(self.db, WXR_USERS_SQL, {"site_id": self.site["id"]})]
        parts += [_term_xml(term) for term in _parents_first(
            list(_rows(self.db, WXR_TERMS_SQL, {"site_id": self.site["id"]})))]
        return "".join(parts)

    def _author_xml(self, row: dict[str, Any]) -> str:
        raw = _json(row.get("json"))
        self.logins[row["wp_id"]] = login = _login(raw, row)
        return ("<wp:author>" + _element("wp:author_id", row["wp_id"]) + _cdata("wp:author_login", login)
                + _cdata("wp:author_email", raw.get("email") or "")
                + _cdata("wp:author_display_name", row.get("name") or login)
                + _cdata("wp:author_first_name", raw.get("first_name") or "")
                + _cdata("wp:author_last_name", raw.get("last_name") or "") + "</wp:author>\n")

    def _item_xml(self, item: _Item, *, comments: bool) -> str:
        raw = item.raw
        attachment = item.type == "attachment"
        guid = _text_of(raw.get("guid")) or item.link
        parts = [
            "<item>\n",
            _cdata("title", item.title()),
            _element("link", item.link),
            _element("pubDate", _rfc2822(raw.get("date_gmt"))),
            _cdata("dc:creator", self.logins.get(item.author_id, "")),
            f"<guid isPermaLink=\"false\">{_xml_text(guid)}</guid>\n",
            "<description></description>\n",
            _cdata("content:encoded", item.content()),
            _cdata("excerpt:encoded", item.excerpt()),
            _element("wp:post_id", item.wp_id),
            _cdata("wp:post_date", _wp_date(raw.get("date"))),
            _cdata("wp:post_date_gmt", _wp_date(raw.get("date_gmt"))),
            _cdata("wp:post_modified", _wp_date(raw.get("modified"))),
            _cdata("wp:post_modified_gmt", _wp_date(raw.get("modified_gmt"))),
            _cdata("wp:comment_status", _word(raw.get("comment_status"), "closed")),
            _cdata("wp:ping_status", _word(raw.get("ping_status"), "closed")),
            _cdata("wp:post_name", str(raw.get("slug") or "")),
            _cdata("wp:status", item.status()),
            _element("wp:post_parent", item.parent_id),
            _element("wp:menu_order", _int(raw.get("menu_order"))),
            _cdata("wp:post_type", item.type),
            _cdata("wp:post_password", str(raw.get("password") or "")),
            _element("wp:is_sticky", int(raw.get("sticky") is True)),
        ]
        if attachment:
            parts.append(_cdata("wp:attachment_url", self._attachment_url(item)))
        parts += [_category_xml(term) for term in item.terms]
        format_ = raw.get("format")
        if isinstance(format_, str) and format_ not in ("", "standard") and re.fullmatch(r"[a-z-]{1,20}", format_):
            parts.append(_category_xml({"taxonomy": "post_format", "slug": f"post-format-{format_}",
                                        "name": format_.capitalize()}))
        parts += [_meta_xml(key, value) for key, value in item.meta()]
        if comments:
            for comment in _rows(self.db, WXR_COMMENTS_SQL, {"post": item.key, "deleted": int(self.include_deleted)}):
                parts.append(self._comment_xml(comment))
                self.result.comments += 1
        parts.append("</item>\n")
        return "".join(parts)

    def _attachment_url(self, item: _Item) -> str:
        source = str(item.raw.get("source_url") or "")
        if self.media_url and item.file_path:
            return self.media_url + item.file_path
        return source

    def _comment_xml(self, row: dict[str, Any]) -> str:
        raw = _json(row.get("json"))
        content = raw.get("content")
        text = content.get("raw", content.get("rendered", "")) if isinstance(content, dict) else ""
        return ("<wp:comment>\n" + _element("wp:comment_id", row["wp_id"])
                + _cdata("wp:comment_author", str(raw.get("author_name") or ""))
                + _cdata("wp:comment_author_email", str(raw.get("author_email") or ""))
                + _cdata("wp:comment_author_url", str(raw.get("author_url") or ""))
                + _cdata("wp:comment_author_IP", str(raw.get("author_ip") or ""))
                + _cdata("wp:comment_date", _wp_date(raw.get("date")))
                + _cdata("wp:comment_date_gmt", _wp_date(raw.get("date_gmt")))
                + _cdata("wp:comment_content", str(text))
                + _cdata("wp:comment_approved", _APPROVED.get(str(raw.get("status")), "0"))
                + _cdata("wp:comment_type", _word(raw.get("type"), "comment"))
                + _element("wp:comment_parent", _int(raw.get("parent")))
                + _element("wp:comment_user_id", _int(raw.get("author"))) + "</wp:comment>\n")


@dataclass
class _Item:
    """A post, page, custom item or attachment as the archive holds it, read from its raw JSON."""

    key: str
    wp_id: int
    type: str
    raw: dict[str, Any]
    link: str
    deleted: bool
    incomplete: str | None
    terms: list[dict[str, Any]]
    file_path: str | None

    @classmethod
    def of(cls, row: dict[str, Any]) -> _Item:
        return cls(key=row["key"], wp_id=int(row["wp_id"]), type=str(row["type"] or "post"), raw=_json(row["json"]),
                   link=str(row.get("link") or ""), deleted=row.get("deleted_at") is not None,
                   incomplete=row.get("incomplete"), terms=json.loads(row.get("terms") or "[]"),
                   file_path=row.get("file_path"))

    @property
    def parent_id(self) -> int:
        return _int(self.raw.get("post" if self.type == "attachment" else "parent"))

    @property
    def featured_id(self) -> int:
        return _int(self.raw.get("featured_media"))

    @property
    def author_id(self) -> int:
        return _int(self.raw.get("author"))

    def left_out_because(self) -> str | None:
        if self.incomplete:
            return "only part of it arrived"
        if not self.raw:
            return "its JSON is not in the archive"
        content = self.raw.get("content")
        if isinstance(content, dict) and content.get("protected") and "raw" not in content:
            return "password-protected, and harvested without signing in: its content was never served"
        return None

    def has_raw_content(self) -> bool:
        content = self.raw.get("content")
        return isinstance(content, dict) and "raw" in content

    def title(self) -> str:
        return _text_of(self.raw.get("title"))

    def title_text(self) -> str:
        return re.sub(r"<[^>]*>", "", self.title())[:60]

    def content(self) -> str:
        if self.type == "attachment":
            return _raw_only(self.raw.get("description"))  # its rendered form is made up of the file link
        return _text_of(self.raw.get("content"))

    def excerpt(self) -> str:
        if self.type == "attachment":
            caption = self.raw.get("caption")
            return caption["raw"] if isinstance(caption, dict) and "raw" in caption else _unwrapped(_text_of(caption))
        excerpt = self.raw.get("excerpt")
        if isinstance(excerpt, dict) and "raw" in excerpt:
            return str(excerpt["raw"])
        rendered = _text_of(excerpt)
        # Without signing in, an excerpt WordPress made from the content is told from one written
        # by its author only by what it says: the start of the content, or its "[…]".
        if not rendered or "[&hellip;]" in rendered or _words(rendered) and _words(self.content()).startswith(
                _words(rendered)):
            return ""
        return _unwrapped(rendered)

    def status(self) -> str:
        status = str(self.raw.get("status") or "")
        return status if status in _STATUSES else "draft"

    def meta(self) -> Iterator[tuple[str, str]]:
        """Post meta: what the site shows in `meta`, and what WordPress keeps as meta of fields
        the REST API gives apart (featured image, page template, alt text)."""
        if self.featured_id:
            yield "_thumbnail_id", str(self.featured_id)
        template = self.raw.get("template")
        if isinstance(template, str) and template:
            yield "_wp_page_template", template
        if self.type == "attachment" and self.raw.get("alt_text"):
            yield "_wp_attachment_image_alt", str(self.raw["alt_text"])
        meta = self.raw.get("meta")
        for key, value in (meta.items() if isinstance(meta, dict) else ()):
            for one in value if isinstance(value, list) else [value]:
                if isinstance(one, bool):
                    yield key, "1" if one else ""
                elif isinstance(one, (str, int, float)) and one != "":
                    yield key, str(one)


def _category_xml(term: dict[str, Any]) -> str:
    return (f"<category domain={quoteattr(_xml_clean(str(term['taxonomy'])))} "
            f"nicename={quoteattr(_xml_clean(str(term['slug'])))}>{_cdata_text(str(term['name'] or ''))}</category>\n")


def _meta_xml(key: str, value: str) -> str:
    return "<wp:postmeta>" + _cdata("wp:meta_key", key) + _cdata("wp:meta_value", value) + "</wp:postmeta>\n"


def _term_xml(term: dict[str, Any]) -> str:
    raw = _json(term.get("json"))
    description = str(raw.get("description") or "")
    taxonomy, slug, name, parent = term["taxonomy"], term["slug"] or "", term["name"] or "", term["parent_slug"] or ""
    ident = _element("wp:term_id", term["wp_id"])
    if taxonomy == "category":
        return ("<wp:category>" + ident + _cdata("wp:category_nicename", slug) + _cdata("wp:category_parent", parent)
                + _cdata("wp:cat_name", name) + _cdata("wp:category_description", description) + "</wp:category>\n")
    if taxonomy == "post_tag":
        return ("<wp:tag>" + ident + _cdata("wp:tag_slug", slug) + _cdata("wp:tag_name", name)
                + _cdata("wp:tag_description", description) + "</wp:tag>\n")
    return ("<wp:term>" + ident + _cdata("wp:term_taxonomy", taxonomy) + _cdata("wp:term_slug", slug)
            + _cdata("wp:term_parent", parent) + _cdata("wp:term_name", name)
            + _cdata("wp:term_description", description) + "</wp:term>\n")


def _parents_first(terms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Terms with every parent before its children: the importer finds a parent by its slug
    among the terms it has already made."""
    by_key = {t["key"]: t for t in terms}
    ordered: list[dict[str, Any]] = []
    placed: set[str] = set()
    for first in terms:
        chain = []
        term: dict[str, Any] | None = first
        while term is not None and term["key"] not in placed and term not in chain:  # a loop ends here
            chain.append(term)
            term = by_key.get(term["parent"])
        for one in reversed(chain):
            placed.add(one["key"])
            ordered.append(one)
    return ordered


def _login(raw: dict[str, Any], row: dict[str, Any]) -> str:
    """A user's login: given only to editors (context=edit); else their slug, which WordPress
    makes from it."""
    login = raw.get("username") or row.get("slug") or f"user-{row['wp_id']}"
    return str(login)


def _element(name: str, value: Any) -> str:
    return f"<{name}>{_xml_text(str(value))}</{name}>\n"


def _cdata(name: str, value: str) -> str:
    return f"<{name}>{_cdata_text(value)}</{name}>\n"


def _cdata_text(value: str) -> str:
    # "]]>" would end the section: it is split across two.
    return "<![CDATA[" + _xml_clean(value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _xml_text(value: str) -> str:
    return escape(_xml_clean(value))


def _xml_clean(value: str) -> str:
    return _NOT_XML.sub("", value)


def _comment(value: str) -> str:
    return _xml_clean(value).replace("--", "- -")


def _json(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _text_of(field_: Any) -> str:
    """A REST field that is {"raw": …, "rendered": …}: raw when the site gave it, else rendered."""
    if isinstance(field_, dict):
        value = field_.get("raw", field_.get("rendered", ""))
        return value if isinstance(value, str) else ""
    return field_ if isinstance(field_, str) else ""


def _raw_only(field_: Any) -> str:
    value = field_.get("raw") if isinstance(field_, dict) else None
    return value if isinstance(value, str) else ""


def _unwrapped(html: str) -> str:
    """An excerpt or caption as WordPress rendered it, without the paragraph wpautop put round it."""
    match = re.fullmatch(r"\s*<p>(.*?)</p>\s*", html, re.S)
    return match.group(1) if match and "<p>" not in match.group(1) else html.strip()


def _words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]*>|&[#\w]+;", " ", html).split())


def _wp_date(value: Any) -> str:
    """A REST date (2023-03-08T19:30:00) as wp_posts holds it (2023-03-08 19:30:00)."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", value):
        return _NO_DATE
    return value.replace("T", " ")


def _rfc2822(value: Any) -> str:
    try:
        return format_datetime(datetime.fromisoformat(str(value)).replace(tzinfo=timezone.utc))
    except ValueError:
        return ""


def _word(value: Any, default: str) -> str:
    return value if isinstance(value, str) and re.fullmatch(r"[a-z_-]{1,20}", value) else default


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63 else 0
