"""What an export takes: its --site, --type and --since checked against the archive once, the same
way for every format (CSV, JSON, JSONL, Markdown, WXR, WACZ).

A site is named whole, never by a part ("1" is not every site on 127.0.0.1): by its id, its name,
its address (home page or the URL it was harvested from, with or without scheme, "www." and the
final "/"), or its host (with or without port). A filter naming what the archive does not have is
a BadFilter that lists what it has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils.db import Database

from .db.queries import EXPORT_SITES_SQL, EXPORT_TYPES_SQL
from .errors import BadFilter

LISTED = 10  # choices named in a BadFilter's message; the rest are counted
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Selection:
    """The checked filters of an export: the sites chosen (every one without --site) as rows of
    the sites table, their ids for export_sql (None: no --site), the post type and the first day."""

    sites: list[dict[str, Any]]
    site_ids: list[int] | None
    post_type: str | None
    since: str | None

    def described(self) -> str:
        """What the filters ask for, in words: "of type page on site 1 since 2030-01-01"."""
        words = [f"of type {self.post_type}" if self.post_type else "",
                 "on site " + ", ".join(str(s["id"]) for s in self.sites) if self.site_ids is not None else "",
                 f"since {self.since}" if self.since else ""]
        return " ".join(w for w in words if w) or "in the archive"


def select(db: Database, *, site: str | None, post_type: str | None, since: str | None,
           other_types: tuple[str, ...] = ()) -> Selection:
    """The filters checked against the archive (other_types: types the format exports besides the
    posts table's, such as WXR's attachment); BadFilter for one that names nothing there."""
    if since is not None and not _is_day(since):
        raise BadFilter(f"--since {since!r} is not a date: give it as YYYY-MM-DD, e.g. 2024-01-31")
    sites = [dict(zip(("id", "home", "url", "name", "description"), row, strict=True))
             for row in db.execute(EXPORT_SITES_SQL)]
    chosen = sites
    if site is not None:
        chosen = [s for s in sites if _names_site(site, s)]
        if not chosen:
            listed = _listed([f"{s['id']} ({s['home']})" for s in sites])
            raise BadFilter(f"--site {site!r} names no site of the archive; " +
                            (f"give the id, address or host of one of: {listed}" if sites else "it holds none yet"))
    if post_type is not None:
        types = [t for (t,) in db.execute(EXPORT_TYPES_SQL)] + list(other_types)
        if post_type not in types:
            raise BadFilter(f"--type {post_type!r} is no type of the archive; it holds: {_listed(types) or 'none'}")
    return Selection(chosen, None if site is None else [s["id"] for s in chosen], post_type, since)


def _is_day(text: str) -> bool:
    if not _DAY.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:  # 2024-02-30
        return False
    return True


def _names_site(wanted: str, site: dict[str, Any]) -> bool:
    """Whether wanted is the site's id, name, address or host, whole."""
    wanted = wanted.strip()
    if not wanted:
        return False  # not the name of every site without one
    if wanted.isdigit():
        return str(site["id"]) == wanted
    if wanted.casefold() == str(site["name"] or "").strip().casefold():
        return True
    host, port, path = _address(wanted)
    for url in (site["home"], site["url"]):
        if isinstance(url, str) and host:
            there_host, there_port, there_path = _address(url)
            # What is given must be there: a host alone names every site on it, whatever its port or path.
            if host == there_host and port in (None, there_port) and path in ("", there_path):
                return True
    return False


def _address(url: str) -> tuple[str, int | None, str]:
    """Host (lower case, no "www."), port and path (no final "/") of an address, with or without scheme."""
    try:
        parts = urlsplit(url.strip() if "://" in url else "//" + url.strip())
        return (parts.hostname or "").removeprefix("www."), parts.port, parts.path.rstrip("/")
    except ValueError:  # a port that is none
        return "", None, ""


def _listed(names: list[str]) -> str:
    more = len(names) - LISTED
    return ", ".join(names[:LISTED]) + (f" and {more} more" if more > 0 else "")
