"""A WordPress site's content held in memory and rendered in the REST API's own shapes.

The shapes follow the objects WordPress core generates for its JavaScript client tests
(the wp-core-rest fixtures); a test checks that every field of theirs is here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

PUBLIC_STATUSES = ("publish",)


@dataclass
class Item:
    """A row of wp_posts: a post, page, attachment or custom post type item."""

    id: int
    type: str
    title: str
    content: str = ""
    excerpt: str = ""
    slug: str = ""
    status: str = "publish"
    date_gmt: str = "2024-01-01T12:00:00"
    modified_gmt: str = ""
    author: int = 1
    parent: int = 0
    menu_order: int = 0
    featured_media: int = 0
    sticky: bool = False
    password: str = ""
    format: str = "standard"
    terms: dict[str, list[int]] = field(default_factory=dict)  # taxonomy slug → term ids
    revisions: list[str] = field(default_factory=list)  # earlier contents, oldest first
    mime_type: str = ""
    file: str = ""
    alt_text: str = ""
    caption: str = ""
    width: int = 0
    height: int = 0

    def __post_init__(self) -> None:
        self.slug = self.slug or slugify(self.title) or str(self.id)
        self.modified_gmt = self.modified_gmt or self.date_gmt


@dataclass
class TermItem:
    """A row of wp_terms with its taxonomy."""

    id: int
    taxonomy: str
    name: str
    slug: str = ""
    description: str = ""
    parent: int = 0

    def __post_init__(self) -> None:
        self.slug = self.slug or slugify(self.name)


@dataclass
class UserItem:
    """A user who may author content."""

    id: int
    name: str
    slug: str = ""
    description: str = ""
    url: str = ""

    def __post_init__(self) -> None:
        self.slug = self.slug or slugify(self.name)


@dataclass
class CommentItem:
    """A comment, threaded through parent."""

    id: int
    post: int
    content: str
    author_name: str = "A reader"
    author: int = 0
    parent: int = 0
    date_gmt: str = "2024-01-02T08:00:00"
    status: str = "approved"
    author_url: str = ""


@dataclass
class TypeInfo:
    """A registered post type or taxonomy as /wp/v2/types or /wp/v2/taxonomies show it."""

    slug: str
    name: str
    rest_base: str
    hierarchical: bool = False
    related: list[str] = field(default_factory=list)  # taxonomies of a type, types of a taxonomy
    refuse_with: str = ""  # an error code answered to anonymous reads (editor internals)


CORE_TYPES = [
    TypeInfo("post", "Posts", "posts", related=["category", "post_tag"]),
    TypeInfo("page", "Pages", "pages", hierarchical=True),
    TypeInfo("attachment", "Media", "media"),
    TypeInfo("nav_menu_item", "Navigation Menu Items", "menu-items", related=["nav_menu"], refuse_with="rest_cannot_view"),
    TypeInfo("wp_block", "Patterns", "blocks", refuse_with="rest_cannot_read"),
    TypeInfo("wp_template", "Templates", "templates", refuse_with="rest_cannot_manage_templates"),
    TypeInfo("wp_template_part", "Template Parts", "template-parts", refuse_with="rest_cannot_manage_templates"),
    TypeInfo("wp_navigation", "Navigation Menus", "navigation", refuse_with="rest_cannot_read"),
]
CORE_TAXONOMIES = [
    TypeInfo("category", "Categories", "categories", hierarchical=True, related=["post"]),
    TypeInfo("post_tag", "Tags", "tags", related=["post"]),
    TypeInfo("nav_menu", "Navigation Menus", "menus", related=["nav_menu_item"], refuse_with="rest_cannot_view"),
]


@dataclass
class Site:
    """Everything a fake WordPress serves."""

    name: str = "A WordPress Site"
    description: str = "Just another WordPress site"
    gmt_offset: float = 0
    timezone_string: str = ""
    items: list[Item] = field(default_factory=list)
    terms: list[TermItem] = field(default_factory=list)
    users: list[UserItem] = field(default_factory=list)
    comments: list[CommentItem] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # path under the site → bytes, e.g. uploads
    types: list[TypeInfo] = field(default_factory=lambda: list(CORE_TYPES))
    taxonomies: list[TypeInfo] = field(default_factory=lambda: list(CORE_TAXONOMIES))

    def type_by_rest_base(self, rest_base: str) -> TypeInfo | None:
        return next((t for t in self.types if t.rest_base == rest_base), None)

    def taxonomy_by_rest_base(self, rest_base: str) -> TypeInfo | None:
        return next((t for t in self.taxonomies if t.rest_base == rest_base), None)

    def public_items(self, post_type: str) -> list[Item]:
        """What an anonymous visitor may list: published items (attachments are 'inherit')."""
        if post_type == "attachment":
            return [i for i in self.items if i.type == "attachment"]
        return [i for i in self.items if i.type == post_type and i.status in PUBLIC_STATUSES]

    def counted_comments(self) -> list[CommentItem]:
        """What WordPress counts in X-WP-Total for anonymous clients: approved comments on any post."""
        return [c for c in self.comments if c.status == "approved"]

    def comment_is_readable(self, comment: CommentItem) -> bool:
        """Comments on drafts, private and password-protected posts are counted, then hidden."""
        post = next((i for i in self.items if i.id == comment.post), None)
        if post is None:
            return False
        return post.type == "attachment" or (post.status in PUBLIC_STATUSES and not post.password)

    def public_comments(self) -> list[CommentItem]:
        """The comments an anonymous client receives."""
        return [c for c in self.counted_comments() if self.comment_is_readable(c)]

    def moderated_comments(self, status: str) -> list[CommentItem]:
        """What a moderator lists with ?status=: "all" is approved and held (WP_Comment_Query's meaning)."""
        wanted = {"all": ("approved", "hold"), "hold": ("hold",), "spam": ("spam",), "trash": ("trash",)}
        return [c for c in self.comments if c.status in wanted.get(status, (status,))]

    def public_users(self) -> list[UserItem]:
        """Anonymous clients see only users who have published posts."""
        authors = {i.author for i in self.items if i.status == "publish" and i.type == "post"}
        return [u for u in self.users if u.id in authors]

    def local(self, gmt: str) -> str:
        when = datetime.fromisoformat(gmt) + timedelta(hours=float(self.gmt_offset))
        return when.strftime("%Y-%m-%dT%H:%M:%S")

    # --- REST shapes -----------------------------------------------------------------------

    def render_item(self, item: Item, home: str, api: str) -> dict[str, Any]:
        link = self.permalink(item, home)
        protected = bool(item.password)
        data: dict[str, Any] = {
            "id": item.id,
            "date": self.local(item.date_gmt),
            "date_gmt": item.date_gmt,
            "guid": {"rendered": f"{home}/?p={item.id}"},
            "modified": self.local(item.modified_gmt),
            "modified_gmt": item.modified_gmt,
            "slug": item.slug,
            "status": "inherit" if item.type == "attachment" else item.status,
            "type": item.type,
            "link": link,
            "title": {"rendered": item.title},
            "author": item.author,
            "featured_media": item.featured_media,
            "comment_status": "open",
            "ping_status": "closed",
            "template": "",
            "meta": {"footnotes": ""} if item.type != "attachment" else {},
            "class_list": [f"post-{item.id}", item.type, f"type-{item.type}", "status-publish", "hentry"],
        }
        if item.type == "attachment":
            data.update({
                "description": {"rendered": f'<p class="attachment"><a href="{self.upload_url(item, home)}">'
                                            f'{item.title}</a></p>\n'},
                "caption": {"rendered": f"<p>{item.caption}</p>\n" if item.caption else ""},
                "alt_text": item.alt_text,
                "media_type": "image" if item.mime_type.startswith("image/") else "file",
                "mime_type": item.mime_type,
                "media_details": {"width": item.width, "height": item.height, "file": item.file, "sizes": {}},
                "post": item.parent or None,
                "source_url": self.upload_url(item, home),
            })
        else:
            data["content"] = {"rendered": "" if protected else render_content(item.content), "protected": protected}
            data["excerpt"] = {"rendered": "" if protected else autop(item.excerpt or first_words(item.content)),
                               "protected": protected}
            if item.type == "post":
                data.update(sticky=item.sticky, format=item.format)
            type_info = next((t for t in self.types if t.slug == item.type), None)
            if type_info and type_info.hierarchical:
                data.update(parent=item.parent, menu_order=item.menu_order)
            for taxonomy in (type_info.related if type_info else []):
                tax = next((t for t in self.taxonomies if t.slug == taxonomy), None)
                if tax and not tax.refuse_with:
                    data[tax.rest_base] = item.terms.get(taxonomy, [])
        rest_base = next((t.rest_base for t in self.types if t.slug == item.type), item.type)
        data["_links"] = {
            "self": [{"href": f"{api}wp/v2/{rest_base}/{item.id}"}],
            "collection": [{"href": f"{api}wp/v2/{rest_base}"}],
            "author": [{"embeddable": True, "href": f"{api}wp/v2/users/{item.author}"}],
        }
        return data

    def render_revisions(self, item: Item, home: str, api: str) -> list[dict[str, Any]]:
        """Revisions as /wp/v2/posts/<id>/revisions lists them to a signed-in editor, newest first."""
        return [
            {"author": item.author, "date": self.local(item.date_gmt), "date_gmt": item.date_gmt,
             "id": item.id * 1000 + n, "modified": self.local(item.date_gmt), "modified_gmt": item.date_gmt,
             "parent": item.id, "slug": f"{item.id}-revision-v1", "guid": {"rendered": f"{home}/?p={item.id * 1000 + n}"},
             "title": {"rendered": item.title}, "content": {"rendered": autop(content)},
             "excerpt": {"rendered": ""}, "meta": {"footnotes": ""}}
            for n, content in reversed(list(enumerate(item.revisions, start=1)))
        ]

    def render_term(self, term: TermItem, home: str, api: str) -> dict[str, Any]:
        tax = next(t for t in self.taxonomies if t.slug == term.taxonomy)
        count = sum(1 for i in self.items if i.status == "publish" and term.id in i.terms.get(term.taxonomy, []))
        data: dict[str, Any] = {
            "id": term.id,
            "count": count,
            "description": term.description,
            "link": f"{home}/{'category' if term.taxonomy == 'category' else term.taxonomy.replace('post_', '')}/{term.slug}/",
            "name": term.name,
            "slug": term.slug,
            "taxonomy": term.taxonomy,
        }
        if tax.hierarchical:
            data["parent"] = term.parent
        data["meta"] = []
        data["_links"] = {"self": [{"href": f"{api}wp/v2/{tax.rest_base}/{term.id}"}]}
        return data

    def render_user(self, user: UserItem, home: str, api: str) -> dict[str, Any]:
        return {
            "id": user.id,
            "name": user.name,
            "url": user.url,
            "description": user.description,
            "link": f"{home}/author/{user.slug}/",
            "slug": user.slug,
            "avatar_urls": {size: f"{home}/avatar/{user.slug}?s={size}" for size in ("24", "48", "96")},
            "meta": [],
            "_links": {"self": [{"href": f"{api}wp/v2/users/{user.id}"}]},
        }

    def render_comment(self, comment: CommentItem, home: str, api: str) -> dict[str, Any]:
        post = next(i for i in self.items if i.id == comment.post)
        return {
            "id": comment.id,
            "post": comment.post,
            "parent": comment.parent,
            "author": comment.author,
            "author_name": comment.author_name,
            "author_url": comment.author_url,
            "date": self.local(comment.date_gmt),
            "date_gmt": comment.date_gmt,
            "content": {"rendered": autop(comment.content)},
            "link": f"{self.permalink(post, home)}#comment-{comment.id}",
            "status": comment.status,
            "type": "comment",
            "author_avatar_urls": {size: f"{home}/avatar/x?s={size}" for size in ("24", "48", "96")},
            "meta": [],
            "_links": {"self": [{"href": f"{api}wp/v2/comments/{comment.id}"}]},
        }

    def editor_view(self, obj: Any, data: dict[str, Any]) -> dict[str, Any]:
        """data as WordPress shows it in context=edit: the raw fields beside the rendered ones, and
        what only editors see."""
        if isinstance(obj, Item):
            data["title"]["raw"] = obj.title
            data["guid"]["raw"] = data["guid"]["rendered"]
            if "content" in data:
                data["content"].update(raw=obj.content, block_version=int("<!-- wp:" in obj.content))
                data["excerpt"]["raw"] = obj.excerpt
            data.update(password=obj.password, permalink_template=self.permalink(obj, "").replace(obj.slug, "%postname%"),
                        generated_slug=slugify(obj.title))
        elif isinstance(obj, UserItem):
            data.update(username=obj.slug, email=f"{obj.slug}@example.org", first_name="", last_name="",
                        nickname=obj.slug, registered_date="2020-01-01T00:00:00+00:00", roles=["administrator"])
        elif isinstance(obj, CommentItem):
            data["content"]["raw"] = obj.content
            data.update(author_email=f"{slugify(obj.author_name)}@example.net" if obj.author_name else "",
                        author_ip="127.0.0.1", author_user_agent="")
        return data

    def permalink(self, item: Item, home: str) -> str:
        if item.type == "page":
            return f"{home}/{item.slug}/"
        if item.type == "attachment":
            return f"{home}/?attachment_id={item.id}"
        return f"{home}/{item.date_gmt[:4]}/{item.date_gmt[5:7]}/{item.slug}/"

    def upload_url(self, item: Item, home: str) -> str:
        return f"{home}/wp-content/uploads/{quote(item.file)}"


def slugify(text: str) -> str:
    """A WordPress-like slug: lower case ASCII words joined by hyphens."""
    text = re.sub(r"<[^>]+>|&[#\w]+;", "", text).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


_BLOCK_DELIMITER = re.compile(r"<!-- /?wp:[^>]*-->\n?")


def render_content(content: str) -> str:
    """post_content as the_content() renders it: blocks without their delimiters (and no
    wpautop, which WordPress skips for block content); classic content through wpautop."""
    if "<!-- wp:" in content:
        return _BLOCK_DELIMITER.sub("", content)
    return autop(content)


def autop(text: str) -> str:
    """Paragraphs for plain blocks separated by blank lines, as WordPress's wpautop does."""
    if not text:
        return ""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    out = []
    for block in blocks:
        if re.match(r"<(p|div|h[1-6]|ul|ol|table|blockquote|pre|figure|!--)\b", block):
            out.append(block)
        else:
            out.append(f"<p>{block}</p>")
    return "\n".join(out) + "\n"


def first_words(html: str, count: int = 55) -> str:
    """An automatic excerpt: the first words of the text, ending with […] as WordPress does."""
    words = re.sub(r"<[^>]+>", " ", html).split()
    if len(words) <= count:
        return " ".join(words)
    return " ".join(words[:count]) + " [&hellip;]"


def tiny_png(seed: str) -> bytes:
    """A valid 1×1 PNG whose colour depends on seed, as a stand-in for an uploaded image."""
    import hashlib
    import struct
    import zlib

    red, green, blue = hashlib.sha256(seed.encode()).digest()[:3]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes([0, red, green, blue]))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
