"""Turning raw REST items into database rows: pure functions between clean and store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, ValidationError

from .clean import Boilerplate, clean_content, html_to_text, normalise_url, title_text
from .models import Comment, ContentItem, Media, Term, User, term_ids
from .rows import Provenance, Record, make_key, raw_json_of, sha256_hex

# REST fields that are mapped to columns of our own, or are not worth a column.
_HANDLED_FIELDS = frozenset({
    "id", "date", "date_gmt", "modified", "modified_gmt", "slug", "status", "type", "link",
    "title", "content", "excerpt", "author", "parent", "menu_order", "featured_media",
    "comment_status", "ping_status", "sticky", "format", "guid", "template", "meta", "class_list",
    "_links", "_embedded", "categories", "tags", "post", "alt_text", "caption", "description",
    "media_type", "mime_type", "source_url", "media_details", "name", "taxonomy", "count",
    "url", "avatar_urls", "author_avatar_urls", "author_name", "author_url", "generated_slug",
    "permalink_template", "missing_image_sizes",
})


@dataclass(frozen=True)
class SiteContext:
    """What row-building needs to know about the site being harvested."""

    site_id: int
    home: str
    hosts: frozenset[str]
    taxonomy_by_rest_base: dict[str, str] = field(default_factory=dict)
    term_names: dict[str, str] = field(default_factory=dict)
    boilerplate: Boilerplate | None = None

    def key(self, wp_id: int | None) -> str | None:
        """The archive key of a WordPress id on this site, None for 0 or missing."""
        return make_key(self.site_id, wp_id)


class InvalidItem(ValueError):
    """An item that cannot be read at all (no usable id)."""


def post_record(item: dict[str, Any], ctx: SiteContext, prov: Provenance) -> Record:
    """A post, page or custom post type item with its text, links, images and terms."""
    post = _validate(ContentItem, item)
    key = ctx.key(post.id)
    cleaned = clean_content(post.content.rendered, post.link or ctx.home, ctx.hosts, ctx.boilerplate)
    term_rows = []
    names_by_taxonomy: dict[str, list[str]] = {}
    for rest_base, taxonomy in ctx.taxonomy_by_rest_base.items():
        for term_id in term_ids(item, rest_base):
            term_key = ctx.key(term_id)
            term_rows.append({"post": key, "term": term_key, "taxonomy": taxonomy})
            names_by_taxonomy.setdefault(taxonomy, []).append(ctx.term_names.get(term_key or "", str(term_id)))
    row = {
        **_identity(ctx, post.id),
        "type": post.type or item.get("wparchive_collection", ""),  # an incomplete item may lack it
        "status": post.status,
        "title": title_text(post.title.rendered),
        "slug": post.slug,
        "link": post.link,
        "date": post.date,
        "date_gmt": post.date_gmt,
        "year": int(post.date[:4]) if post.date and post.date[:4].isdigit() else None,
        "modified": post.modified,
        "modified_gmt": post.modified_gmt,
        "author": ctx.key(post.author),
        "parent": ctx.key(post.parent),
        "menu_order": post.menu_order,
        "featured_media": ctx.key(post.featured_media),
        "comment_status": post.comment_status,
        "sticky": int(post.sticky),
        "format": post.format,
        "protected": int(post.content.protected),
        "categories": names_by_taxonomy.get("category", []),
        "tags": names_by_taxonomy.get("post_tag", []),
        "excerpt_text": html_to_text(post.excerpt.rendered),
        "content_text": cleaned.text,
        "content_markdown": cleaned.markdown,
        "word_count": cleaned.word_count,
        "reading_minutes": cleaned.reading_minutes,
        "language": cleaned.language,
        "pages": cleaned.pages,
        "headings": [{"level": h.level, "text": h.text} for h in cleaned.headings],
        "shortcodes": cleaned.shortcodes,
        "link_norm": normalise_url(post.link) if post.link else None,
        # rest, or feed / html when the REST API was closed and the fallback read the site
        "source": item.get("wparchive_source", "rest"),
        "author_name": item.get("wparchive_author_name") or None,
        "content_html": post.content.rendered,
        **_extra_fields(item),
    }
    if "wparchive_categories" in item:  # the fallback knows names, not term ids
        row["categories"] = item["wparchive_categories"]
        row["tags"] = item.get("wparchive_tags", [])
    children: dict[str, list[dict[str, Any]]] = {
        "post_terms": term_rows,
        "links": [
            {"post": key, "position": i, "href": link.href, "text": link.text, "internal": int(link.internal),
             "host": link.host, "href_norm": link.href_norm, "target_hint": ctx.key(link.wp_id),
             "target": None}
            for i, link in enumerate(cleaned.links)
        ],
        "images": [
            {"post": key, "position": i, "src": img.src, "alt": img.alt, "caption": img.caption,
             "width": img.width, "height": img.height, "media": ctx.key(img.media_id)}
            for i, img in enumerate(cleaned.images)
        ],
        "embeds": [
            {"post": key, "position": i, "provider": embed.provider, "url": embed.url}
            for i, embed in enumerate(cleaned.embeds)
        ],
    }
    return _record("posts", row, item, prov, children, _invalid(post))


def media_record(item: dict[str, Any], ctx: SiteContext, prov: Provenance) -> Record:
    """An attachment's metadata (the file itself is not fetched)."""
    media = _validate(Media, item)
    details = media.media_details if isinstance(media.media_details, dict) else {}
    row = {
        **_identity(ctx, media.id),
        "title": title_text(media.title.rendered),
        "slug": media.slug,
        "link": media.link,
        "date": media.date,
        "date_gmt": media.date_gmt,
        "modified_gmt": media.modified_gmt,
        "author": ctx.key(media.author),
        "post": ctx.key(media.post),
        "media_type": media.media_type,
        "mime_type": media.mime_type,
        "source_url": media.source_url,
        "alt_text": media.alt_text,
        "caption_text": html_to_text(media.caption.rendered),
        "description_text": html_to_text(media.description.rendered),
        "width": details.get("width"),
        "height": details.get("height"),
        "filesize": details.get("filesize"),
        **_extra_fields(item),
    }
    return _record("media", row, item, prov, invalid_fields=_invalid(media))


def term_record(item: dict[str, Any], ctx: SiteContext, prov: Provenance) -> Record:
    """A category, tag or term of another taxonomy, with its parent kept."""
    term = _validate(Term, item)
    row = {
        **_identity(ctx, term.id),
        "taxonomy": term.taxonomy or item.get("wparchive_collection", ""),  # an incomplete item may lack it
        "name": title_text(term.name),
        "slug": term.slug,
        "description_text": html_to_text(term.description),
        "parent": ctx.key(term.parent),
        "count": term.count,
        "link": term.link,
        **_extra_fields(item),
    }
    return _record("terms", row, item, prov, invalid_fields=_invalid(term))


def user_record(item: dict[str, Any], ctx: SiteContext, prov: Provenance) -> Record:
    """A user as the site shows them publicly."""
    user = _validate(User, item)
    row = {
        **_identity(ctx, user.id),
        "name": title_text(user.name),
        "slug": user.slug,
        "url": user.url,
        "description_text": html_to_text(user.description),
        "link": user.link,
        **_extra_fields(item),
    }
    return _record("users", row, item, prov, invalid_fields=_invalid(user))


def comment_record(item: dict[str, Any], ctx: SiteContext, prov: Provenance) -> Record:
    """A comment, keeping its post and its parent so threads survive."""
    comment = _validate(Comment, item)
    row = {
        **_identity(ctx, comment.id),
        "post": ctx.key(comment.post),
        "parent": ctx.key(comment.parent),
        "author": ctx.key(comment.author),
        "author_name": title_text(comment.author_name),
        "author_url": comment.author_url,
        "date": comment.date,
        "date_gmt": comment.date_gmt,
        "status": comment.status,
        "type": comment.type,
        "link": comment.link,
        "content_text": html_to_text(comment.content.rendered),
        "content_html": comment.content.rendered,
        **_extra_fields(item),
    }
    return _record("comments", row, item, prov, invalid_fields=_invalid(comment))


# In the order tables are built: terms and users first, so posts can name their categories,
# tags and authors.
RECORD_BUILDERS: dict[str, Callable[[dict[str, Any], SiteContext, Provenance], Record]] = {
    "terms": term_record,
    "users": user_record,
    "posts": post_record,
    "media": media_record,
    "comments": comment_record,
}
TABLE_ORDER = tuple(RECORD_BUILDERS)


# Items that could not be read: (the item, why, the URL it came from).
Failures = list[tuple[Any, str, str]]


def build_records(table: str, items: list[Any], ctx: SiteContext,
                  provenance: Provenance | list[Provenance]) -> tuple[list[Record], Failures]:
    """Records of items for one table, and the items that could not be read.

    provenance is the page's, or one per item. A plain function of picklable arguments, so
    that worker processes can run it.
    """
    build = RECORD_BUILDERS[table]
    records: list[Record] = []
    failures: Failures = []
    for i, item in enumerate(items):
        prov = provenance[i] if isinstance(provenance, list) else provenance
        try:
            if not isinstance(item, dict):
                raise InvalidItem(f"item is a {type(item).__name__}, not an object")
            records.append(build(item, ctx, prov))
        except InvalidItem as exc:
            failures.append((item, str(exc), prov.response_url))
    return records, failures


def _identity(ctx: SiteContext, wp_id: int) -> dict[str, Any]:
    return {"key": ctx.key(wp_id), "site_id": ctx.site_id, "wp_id": wp_id}


def _validate(model: type[BaseModel], item: dict[str, Any]) -> Any:
    """The item as a model; fields of the wrong type are left out (the raw JSON keeps them) and
    named in _invalid_fields. Without a usable id there is no record: InvalidItem."""
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        bad = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        if "id" in bad or not bad:
            raise InvalidItem(f"{model.__name__} item {item.get('id')!r}: {exc.errors()[0]['msg']}") from exc
    try:
        valid = model.model_validate({k: v for k, v in item.items() if k not in bad})
    except ValidationError as exc:
        raise InvalidItem(f"{model.__name__} item {item.get('id')!r}: {exc.errors()[0]['msg']}") from exc
    object.__setattr__(valid, "_invalid_fields", sorted(bad))
    return valid


def _record(
    table: str, row: dict[str, Any], item: dict[str, Any], prov: Provenance,
    children: dict[str, list[dict[str, Any]]] | None = None, invalid_fields: list[str] | None = None,
) -> Record:
    raw = raw_json_of(item)
    row.update(response_url=prov.response_url, fetched_at=prov.fetched_at, run_id=prov.run_id,
               raw_sha256=sha256_hex(raw), warc_record_id=prov.warc_record_id)
    if invalid_fields:
        row["invalid_fields"] = invalid_fields
    if item.get("wparchive_incomplete"):
        # only part of the item arrived (the harvest salvaged it from a body that broke off): what is missing
        row["incomplete"] = str(item["wparchive_incomplete"])
    return Record(table=table, row=row, raw_json=raw, children=children or {})


def _invalid(model: BaseModel) -> list[str]:
    return list(getattr(model, "_invalid_fields", []))


def _extra_fields(item: dict[str, Any]) -> dict[str, Any]:
    """Fields added by plugins or newer WordPress versions, kept as columns of their own."""
    return {
        f"wp_{name}": value
        for name, value in item.items()
        if name not in _HANDLED_FIELDS and not name.startswith(("_", "wparchive_"))
        and isinstance(value, (str, int, float, bool))
    }
