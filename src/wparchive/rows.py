"""What the archive stores, apart from how it is made: a record's row, its raw JSON and
provenance, and the keys and hashes that name them.

A leaf module: cleaning (records.py) builds these, storage (db/) writes them, and neither
needs the other to do so.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


@dataclass
class Provenance:
    """Where and when a page of items was fetched."""

    response_url: str
    fetched_at: str
    run_id: int
    warc_record_id: str | None = None


@dataclass
class Record:
    """One item's row for its archive table, its raw JSON, and the child rows that hang off it."""

    table: str
    row: dict[str, Any]
    raw_json: str
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return str(self.row["key"])


def utc_now() -> str:
    """The current UTC time as ISO 8601 with seconds: how the archive writes every time it keeps."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def make_key(site_id: int, wp_id: int | None) -> str | None:
    """Archive-wide key of a WordPress object: "<site id>-<WordPress id>"."""
    if not wp_id:
        return None
    return f"{site_id}-{wp_id}"


def raw_json_of(item: dict[str, Any]) -> str:
    """The JSON text kept for an item; its SHA-256 is the record's provenance hash."""
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))


def sha256_hex(text: str) -> str:
    """SHA-256 of text encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
