"""Two wparchive archives of two WordPress sites compared item by item: what a migration kept.

Items are matched by what survives a move between sites, never by WordPress ids: posts, pages and
media by (type, slug), or by (type, title, date) when the slug differs or is empty (drafts); terms by
(taxonomy, slug); users by slug; comments by (post, author name, date). References (parents,
authors, terms, featured images, parent comments) are compared through those identities. Each
site's own address is written as {site} in text before comparing, so that a site's links to itself
on another address count as equal.

compare_archives(a, b) gives a Comparison: per aspect, how many of A's items B has equal, and the
differences. A missing item counts as a difference in each aspect that applies to it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from sqlite_utils.db import Database

SITE = "{site}"


@dataclass(frozen=True)
class Difference:
    """One item whose aspect differs: its identity, and the value in A and in B (MISSING when absent)."""

    aspect: str
    item: str
    a: Any
    b: Any

    @property
    def where(self) -> tuple[str, str]:
        """What identifies the difference across comparisons: aspect and item, not the values."""
        return self.aspect, self.item


MISSING = "(missing)"


@dataclass
class Aspect:
    """One aspect of the comparison: equal of total, and what differed."""

    name: str
    description: str
    equal: int = 0
    total: int = 0
    differences: list[Difference] = field(default_factory=list)

    def record(self, item: str, a: Any, b: Any) -> None:
        self.total += 1
        if a == b:
            self.equal += 1
        else:
            self.differences.append(Difference(self.name, item, a, b))


@dataclass
class Comparison:
    """Per aspect, what of archive A the archive B holds equal; and what B has that A has not."""

    aspects: dict[str, Aspect]
    only_in_b: list[str] = field(default_factory=list)

    def table(self) -> list[tuple[str, int, int]]:
        """(aspect, equal, total) for every aspect, in the comparison's order."""
        return [(a.name, a.equal, a.total) for a in self.aspects.values()]

    def differences(self, aspect: str | None = None) -> list[Difference]:
        """Every difference, or those of one aspect."""
        chosen = [self.aspects[aspect]] if aspect else self.aspects.values()
        return [d for a in chosen for d in a.differences]

    def losses_beyond(self, baseline: "Comparison") -> list[Difference]:
        """Differences of this comparison that the baseline (e.g. WordPress's own round trip) does not have."""
        known = {d.where for d in baseline.differences()}
        return [d for d in self.differences() if d.where not in known]

    def markdown(self, title: str = "Aspect") -> str:
        """The table (aspect: equal of total) as Markdown."""
        return render_markdown(self, title)


def render_markdown(comparison: Comparison, title: str = "Aspect") -> str:
    """A Markdown table of the comparison: aspect, equal of total, and what the aspect covers."""
    lines = [f"| {title} | Equal | Of | What is compared |", "|---|---:|---:|---|"]
    for aspect in comparison.aspects.values():
        lines.append(f"| {aspect.name} | {aspect.equal} | {aspect.total} | {aspect.description} |")
    return "\n".join(lines) + "\n"


ASPECTS = {
    "items": "posts, pages and media of A found in B",
    "titles": "title",
    "slugs": "slug",
    "status": "status (publish, draft, future, private, inherit)",
    "dates": "date and date_gmt",
    "parents": "parent, by its type and slug",
    "menu order": "menu_order",
    "authors": "author, by user slug and name",
    "featured images": "featured image, by its slug",
    "formats": "post format",
    "sticky": "sticky posts",
    "protected": "password protection",
    "comment status": "comments open or closed",
    "terms per post": "the post's terms, by taxonomy and slug",
    "content text": "content as text",
    "block markup": "content.raw, where the archive holds it (edit context)",
    "excerpts": "excerpt as text",
    "media text": "alt text, caption and description of media",
    "terms": "terms of A found in B, by taxonomy and slug",
    "term names": "term name",
    "term hierarchy": "parent term, by its slug",
    "term descriptions": "term description",
    "users": "users of A found in B, by slug",
    "user names": "user display name",
    "comments": "comments of A found in B, by post, author name and date",
    "comment counts": "comments per post",
    "threading": "parent comment, by author name and date",
    "comment text": "comment content as text",
}


@dataclass
class Item:
    """A post, page or media item of one archive, with its references resolved to identities."""

    kind: str  # the post type; "attachment" for media
    slug: str
    title: str
    date: str
    fields: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.kind} {self.slug or repr(self.title)}"


class Snapshot:
    """What one site's archive holds, with identities in place of keys."""

    def __init__(self, db: Database, site_id: int | None = None) -> None:
        if site_id is None:
            site_ids = [row[0] for row in db.execute("SELECT id FROM sites ORDER BY id")]
            if len(site_ids) != 1:
                raise ValueError(f"the archive holds {len(site_ids)} sites: say which one")
            site_id = site_ids[0]
        self.db = db
        self.site_id = site_id
        self.home = db.execute("SELECT home FROM sites WHERE id = ?", [site_id]).fetchone()[0].rstrip("/")
        self.users = {row["key"]: row for row in self._rows("users")}
        self.terms = {row["key"]: row for row in self._rows("terms")}
        self.raw = {(row[0], row[1]): json.loads(row[2]) for row in db.execute(
            'SELECT "table", key, json FROM raw_json WHERE "table" IN (\'posts\', \'media\')')}
        posts = self._rows("posts")
        media = self._rows("media")
        # Identity of each post and media key, as other records refer to them.
        self.identity = {row["key"]: (row["type"], row["slug"] or "") for row in posts}
        self.identity.update({row["key"]: ("attachment", row["slug"] or "") for row in media})
        self.titles = {row["key"]: row["title"] or "" for row in posts + media}
        self.post_terms: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for post, term in db.execute("SELECT post, term FROM post_terms"):
            if term in self.terms:
                self.post_terms[post].add(self.term_identity(term))
        self.comments = self._comments()
        self.items = [self._post(row) for row in posts] + [self._media(row) for row in media]

    def _rows(self, table: str) -> list[dict[str, Any]]:
        return list(self.db[table].rows_where("site_id = ? AND deleted_at IS NULL", [self.site_id], order_by="key"))

    def text(self, value: Any) -> Any:
        """Text with this site's address written as {site}."""
        return value.replace(self.home, SITE) if isinstance(value, str) else value

    def term_identity(self, key: str | None) -> tuple[str, str] | None:
        if not key or key not in self.terms:
            return None
        return self.terms[key]["taxonomy"], self.terms[key]["slug"]

    def user_identity(self, key: str | None) -> tuple[str, str] | None:
        if not key or key not in self.users:
            return None
        return self.users[key]["slug"], self.users[key]["name"]

    def item_identity(self, key: str | None) -> str | None:
        """A post or media item named as another record refers to it: type and slug (or title)."""
        if not key or key not in self.identity:
            return None
        kind, slug = self.identity[key]
        return f"{kind} {slug or repr(self.titles[key])}"

    def _post(self, row: dict[str, Any]) -> Item:
        raw = self.raw.get(("posts", row["key"]), {})
        content = raw.get("content") or {}
        fields = {
            "titles": row["title"] or "",
            "slugs": row["slug"] or "",
            "status": row["status"],
            "dates": (row["date"], row["date_gmt"]),
            "parents": self.item_identity(row["parent"]),
            "menu order": raw.get("menu_order"),
            "authors": self.user_identity(row["author"]),
            "featured images": self.item_identity(row["featured_media"]),
            "formats": raw.get("format"),
            "sticky": bool(row["sticky"]) if row["type"] == "post" else None,
            "protected": bool(row["protected"]),
            "comment status": row["comment_status"],
            "terms per post": sorted(self.post_terms.get(row["key"], ())),
            "content text": self.text(row["content_text"] or ""),
            "block markup": self.text(content["raw"]) if "raw" in content else None,
            "excerpts": self.text(row["excerpt_text"] or ""),
            "comment counts": sum(1 for c in self.comments.values() if c["post"] == row["key"]),
        }
        return Item(row["type"], row["slug"] or "", row["title"] or "", row["date"] or "", fields)

    def _media(self, row: dict[str, Any]) -> Item:
        raw = self.raw.get(("media", row["key"]), {})
        fields = {
            "titles": row["title"] or "",
            "slugs": row["slug"] or "",
            "status": raw.get("status"),
            "dates": (row["date"], row["date_gmt"]),
            "parents": self.item_identity(row["post"]),
            "authors": self.user_identity(row["author"]),
            "comment status": raw.get("comment_status"),
            "media text": tuple(self.text(row[name] or "") for name in ("alt_text", "caption_text", "description_text")),
            "comment counts": sum(1 for c in self.comments.values() if c["post"] == row["key"]),
        }
        return Item("attachment", row["slug"] or "", row["title"] or "", row["date"] or "", fields)

    def _comments(self) -> dict[str, dict[str, Any]]:
        rows = self._rows("comments")
        for row in rows:
            row["identity"] = (self.item_identity(row["post"]), row["author_name"] or "", row["date_gmt"] or row["date"])
        by_key = {row["key"]: row for row in rows}
        for row in rows:
            parent = by_key.get(row["parent"]) if row["parent"] else None
            row["parent_identity"] = parent["identity"][1:] if parent else None
        return by_key


def _match(a_items: list[Item], b_items: list[Item]) -> tuple[list[tuple[Item, Item | None]], list[Item]]:
    """Pairs of A's items with B's: by (type, slug), then the rest by (type, title, date)."""
    by_slug: dict[tuple[str, str], list[Item]] = defaultdict(list)
    by_title: dict[tuple[str, str, str], list[Item]] = defaultdict(list)
    for item in b_items:
        if item.slug:
            by_slug[(item.kind, item.slug)].append(item)
        by_title[(item.kind, item.title, item.date)].append(item)
    taken: set[int] = set()
    pairs: dict[int, Item | None] = {}

    def take(candidates: Iterable[Item]) -> Item | None:
        for candidate in candidates:
            if id(candidate) not in taken:
                taken.add(id(candidate))
                return candidate
        return None

    for index, item in enumerate(a_items):
        if item.slug:
            pairs[index] = take(by_slug.get((item.kind, item.slug), ()))
    for index, item in enumerate(a_items):
        if pairs.get(index) is None:
            pairs[index] = take(by_title.get((item.kind, item.title, item.date), ()))
    extra = [item for item in b_items if id(item) not in taken]
    return [(item, pairs[index]) for index, item in enumerate(a_items)], extra


def _record_all(aspects: dict[str, Aspect], label: str, a_fields: dict[str, Any], b_fields: dict[str, Any] | None,
                applies: Callable[[str, Any], bool]) -> None:
    for name, value in a_fields.items():
        if not applies(name, value):
            continue
        aspects[name].record(label, value, MISSING if b_fields is None else b_fields.get(name))


def compare_archives(a: Database, b: Database, *, a_site: int | None = None, b_site: int | None = None) -> Comparison:
    """Compare the archive of site A with that of site B (each the only site of its archive, or given by id)."""
    one, two = Snapshot(a, a_site), Snapshot(b, b_site)
    aspects = {name: Aspect(name, description) for name, description in ASPECTS.items()}
    only_in_b: list[str] = []

    # Posts, pages and media. An aspect applies where A has a value for it: menu order only where
    # the type has one, block markup only where the archive holds content.raw.
    pairs, extra = _match(one.items, two.items)
    for item, other in pairs:
        aspects["items"].record(item.label, item.label, other.label if other else MISSING)
        _record_all(aspects, item.label, item.fields, other.fields if other else None,
                    lambda name, value: value is not None or name in {"parents", "featured images", "authors"})
    only_in_b += [item.label for item in extra]

    # Terms.
    b_terms = {two.term_identity(key): row for key, row in two.terms.items()}
    for key, row in sorted(one.terms.items(), key=lambda kv: one.term_identity(kv[0]) or ("", "")):
        identity = one.term_identity(key)
        label = f"{identity[0]} {identity[1]}" if identity else key
        other = b_terms.pop(identity, None)
        aspects["terms"].record(label, label, label if other else MISSING)
        mine = {"term names": row["name"], "term hierarchy": one.term_identity(row["parent"]),
                "term descriptions": one.text(row["description_text"] or "")}
        theirs = None if other is None else {
            "term names": other["name"], "term hierarchy": two.term_identity(other["parent"]),
            "term descriptions": two.text(other["description_text"] or "")}
        _record_all(aspects, label, mine, theirs, lambda name, value: True)
    only_in_b += [f"{taxonomy} {slug}" for taxonomy, slug in b_terms if taxonomy]

    # Users: those WordPress exports are the authors of content; others count as missing.
    b_users = {row["slug"]: row for row in two.users.values()}
    for row in sorted(one.users.values(), key=lambda r: r["slug"] or ""):
        other = b_users.pop(row["slug"], None)
        label = f"user {row['slug']}"
        aspects["users"].record(label, label, label if other else MISSING)
        aspects["user names"].record(label, row["name"], other["name"] if other else MISSING)
    only_in_b += [f"user {slug}" for slug in b_users]

    # Comments.
    b_comments = {row["identity"]: row for row in two.comments.values()}
    for row in sorted(one.comments.values(), key=lambda r: tuple(str(part) for part in r["identity"])):
        post, author, date = row["identity"]
        label = f"comment by {author!r} on {post} at {date}"
        other = b_comments.pop(row["identity"], None)
        aspects["comments"].record(label, label, label if other else MISSING)
        aspects["threading"].record(label, row["parent_identity"], other["parent_identity"] if other else MISSING)
        aspects["comment text"].record(label, one.text(row["content_text"] or ""),
                                       two.text(other["content_text"] or "") if other else MISSING)
    only_in_b += [f"comment by {identity[1]!r} on {identity[0]} at {identity[2]}" for identity in b_comments]
    return Comparison(aspects, only_in_b)


def summarize(comparison: Comparison, limit: int = 3) -> str:
    """The table with a few differences under each aspect that has some: for a terminal or a failure message."""
    lines = []
    for aspect in comparison.aspects.values():
        lines.append(f"{aspect.name}: {aspect.equal} of {aspect.total}")
        for difference in aspect.differences[:limit]:
            lines.append(f"    {difference.item}: {_short(difference.a)} -> {_short(difference.b)}")
        if len(aspect.differences) > limit:
            lines.append(f"    … and {len(aspect.differences) - limit} more")
    if comparison.only_in_b:
        counts = Counter(entry.split(" ", 1)[0] for entry in comparison.only_in_b)
        lines.append("only in B: " + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())))
    return "\n".join(lines)


def _short(value: Any, width: int = 100) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"
