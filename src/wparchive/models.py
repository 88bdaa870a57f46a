"""Pydantic models of the REST objects: every field optional, unknown fields kept."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class WPModel(BaseModel):
    """Tolerant base: extra fields are allowed, missing ones take defaults."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Rendered(WPModel):
    """A {"rendered": ..., "protected": ...} field such as title, content or excerpt."""

    rendered: str = ""
    protected: bool = False


def _rendered(value: Any) -> Any:
    # Some plugins flatten rendered fields to plain strings; accept both shapes.
    if value is None:
        return {}
    if isinstance(value, str):
        return {"rendered": value}
    return value


def _int_list(value: Any) -> list[int]:
    if not isinstance(value, list):
        return []
    return [int(v) for v in value if isinstance(v, int) or (isinstance(v, str) and v.isdigit())]


class SiteIndex(WPModel):
    """The /wp-json/ index."""

    name: str = ""
    description: str = ""
    url: str = ""
    home: str = ""
    gmt_offset: float | str = 0
    timezone_string: str = ""
    namespaces: list[str] = []
    routes: dict[str, Any] = {}


class PostType(WPModel):
    """An entry of /wp/v2/types."""

    slug: str = ""
    name: str = ""
    rest_base: str = ""
    rest_namespace: str = "wp/v2"
    taxonomies: list[str] = []
    hierarchical: bool = False
    viewable: bool | None = None  # only in the edit context


class Taxonomy(WPModel):
    """An entry of /wp/v2/taxonomies."""

    slug: str = ""
    name: str = ""
    rest_base: str = ""
    rest_namespace: str = "wp/v2"
    types: list[str] = []
    hierarchical: bool = False


class ContentItem(WPModel):
    """A post, page or item of another post type (also the base of media)."""

    id: int
    date: str | None = None
    date_gmt: str | None = None
    modified: str | None = None
    modified_gmt: str | None = None
    slug: str = ""
    status: str = ""
    type: str = ""
    link: str = ""
    title: Rendered = Rendered()
    content: Rendered = Rendered()
    excerpt: Rendered = Rendered()
    author: int = 0
    parent: int = 0
    menu_order: int = 0
    featured_media: int = 0
    comment_status: str = ""
    sticky: bool = False
    format: str = ""
    guid: Rendered = Rendered()

    _fix_rendered = field_validator("title", "content", "excerpt", "guid", mode="before")(_rendered)

    @field_validator("author", "parent", "menu_order", "featured_media", mode="before")
    @classmethod
    def _zero_for_null(cls, value: Any) -> Any:
        return 0 if value in (None, "", False) else value


class Media(ContentItem):
    """An attachment from /wp/v2/media (metadata only)."""

    post: int | None = None
    alt_text: str = ""
    caption: Rendered = Rendered()
    description: Rendered = Rendered()
    media_type: str = ""
    mime_type: str = ""
    source_url: str = ""
    media_details: dict[str, Any] | list[Any] = {}

    _fix_media_rendered = field_validator("caption", "description", mode="before")(_rendered)


class Term(WPModel):
    """A category, tag or term of another taxonomy."""

    id: int
    name: str = ""
    slug: str = ""
    taxonomy: str = ""
    description: str = ""
    parent: int = 0
    count: int = 0
    link: str = ""


class User(WPModel):
    """A user as anonymous clients see them (authors of published content)."""

    id: int
    name: str = ""
    slug: str = ""
    url: str = ""
    description: str = ""
    link: str = ""


class Comment(WPModel):
    """A comment; parent keeps threads."""

    id: int
    post: int = 0
    parent: int = 0
    author: int = 0
    author_name: str = ""
    author_url: str = ""
    date: str | None = None
    date_gmt: str | None = None
    content: Rendered = Rendered()
    link: str = ""
    status: str = ""
    type: str = ""

    _fix_rendered = field_validator("content", mode="before")(_rendered)


def term_ids(item: dict[str, Any], rest_base: str) -> list[int]:
    """The term ids an item lists under a taxonomy's rest_base (e.g. "categories"), each once."""
    return list(dict.fromkeys(_int_list(item.get(rest_base))))
