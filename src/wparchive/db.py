"""The archive database: schema, savers, full-text search. The only module that writes SQL."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterable

from sqlite_utils.db import Database

from .errors import NotAnArchive
from .records import Record

SCHEMA_VERSION = 1

# Columns every archived row carries to prove where it came from.
_PROVENANCE = """
    response_url TEXT, fetched_at TEXT, run_id INTEGER REFERENCES harvest_runs(id), raw_sha256 TEXT"""

SCHEMA = {
    "sites": """
        id INTEGER PRIMARY KEY, home TEXT NOT NULL UNIQUE, url TEXT, api_root TEXT, name TEXT,
        description TEXT, gmt_offset TEXT, timezone_string TEXT, namespaces TEXT,
        first_harvested TEXT, last_harvested TEXT""",
    "harvest_runs": """
        id INTEGER PRIMARY KEY, site_id INTEGER REFERENCES sites(id), site_url TEXT,
        started_at TEXT, finished_at TEXT, status TEXT, counts TEXT, error_count INTEGER DEFAULT 0,
        requests INTEGER, version TEXT""",
    "harvest_errors": """
        id INTEGER PRIMARY KEY, run_id INTEGER REFERENCES harvest_runs(id),
        site_id INTEGER REFERENCES sites(id), collection TEXT, url TEXT, status INTEGER,
        reason TEXT, message TEXT, body BLOB, at TEXT""",
    "users": f"""
        key TEXT PRIMARY KEY, site_id INTEGER REFERENCES sites(id), wp_id INTEGER, name TEXT,
        slug TEXT, url TEXT, description_text TEXT, link TEXT,{_PROVENANCE}""",
    "terms": f"""
        key TEXT PRIMARY KEY, site_id INTEGER REFERENCES sites(id), wp_id INTEGER, taxonomy TEXT,
        name TEXT, slug TEXT, description_text TEXT, parent TEXT REFERENCES terms(key),
        count INTEGER, link TEXT,{_PROVENANCE}""",
    "posts": f"""
        key TEXT PRIMARY KEY, site_id INTEGER REFERENCES sites(id), wp_id INTEGER, type TEXT,
        status TEXT, title TEXT, slug TEXT, link TEXT, date TEXT, date_gmt TEXT, modified TEXT,
        modified_gmt TEXT, author TEXT REFERENCES users(key), parent TEXT REFERENCES posts(key),
        menu_order INTEGER, featured_media TEXT REFERENCES media(key), comment_status TEXT,
        sticky INTEGER, format TEXT, protected INTEGER, categories TEXT, tags TEXT,
        excerpt_text TEXT, content_text TEXT, content_markdown TEXT, word_count INTEGER,
        content_html TEXT,{_PROVENANCE}""",
    "media": f"""
        key TEXT PRIMARY KEY, site_id INTEGER REFERENCES sites(id), wp_id INTEGER, title TEXT,
        slug TEXT, link TEXT, date TEXT, date_gmt TEXT, modified_gmt TEXT,
        author TEXT REFERENCES users(key), post TEXT REFERENCES posts(key), media_type TEXT,
        mime_type TEXT, source_url TEXT, alt_text TEXT, caption_text TEXT, description_text TEXT,
        width INTEGER, height INTEGER, filesize INTEGER,{_PROVENANCE}""",
    "comments": f"""
        key TEXT PRIMARY KEY, site_id INTEGER REFERENCES sites(id), wp_id INTEGER,
        post TEXT REFERENCES posts(key), parent TEXT REFERENCES comments(key),
        author TEXT REFERENCES users(key), author_name TEXT, author_url TEXT, date TEXT,
        date_gmt TEXT, status TEXT, type TEXT, link TEXT, content_text TEXT, content_html TEXT,
        {_PROVENANCE.strip()}""",
    "post_terms": """
        post TEXT REFERENCES posts(key), term TEXT REFERENCES terms(key), taxonomy TEXT,
        PRIMARY KEY (post, term)""",
    "links": """
        post TEXT REFERENCES posts(key), position INTEGER, href TEXT, text TEXT, internal INTEGER,
        PRIMARY KEY (post, position)""",
    "images": """
        post TEXT REFERENCES posts(key), position INTEGER, src TEXT, alt TEXT, width INTEGER,
        height INTEGER, PRIMARY KEY (post, position)""",
    # Raw JSON lives apart from the hot tables: it is most of the bytes and rarely read.
    "raw_json": """
        "table" TEXT, key TEXT, json TEXT, sha256 TEXT, PRIMARY KEY ("table", key)""",
}

INDEXES = {
    "posts": [["site_id", "wp_id"], ["type"], ["date_gmt"], ["author"], ["parent"]],
    "terms": [["site_id", "wp_id"], ["taxonomy"]],
    "users": [["site_id", "wp_id"]],
    "media": [["site_id", "wp_id"], ["post"]],
    "comments": [["site_id", "wp_id"], ["post"], ["parent"]],
    "post_terms": [["term"]],
    "links": [["href"]],
    "harvest_errors": [["run_id"]],
}

FTS_CONFIG = {
    "posts": ["title", "content_text", "excerpt_text"],
    "comments": ["author_name", "content_text"],
}

# Tables whose items carry modified_gmt, the change signal WordPress maintains for them.
_MODIFIED_TABLES = frozenset({"posts", "media"})


def open_db(path: str) -> Database:
    """Open (creating if needed) an archive database with its tables in place."""
    db = Database(path)
    ensure_tables(db)
    return db


def ensure_tables(db: Database) -> None:
    """Create any missing table; refuse a database from a newer version of this tool."""
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise NotAnArchive(f"not a SQLite database: {exc}") from exc
    if version > SCHEMA_VERSION:
        raise NotAnArchive(f"the archive was written by a newer wparchive (schema {version})")
    existing = set(db.table_names())
    if existing and "harvest_runs" not in existing and "posts" in existing:
        raise NotAnArchive("the database has a posts table but no harvest_runs: not a wparchive archive")
    with db.conn:
        for name, columns in SCHEMA.items():
            if name not in existing:
                db.execute(f'CREATE TABLE "{name}" ({columns})')
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def ensure_db_shape(db: Database) -> None:
    """Idempotently add indexes and full-text search; run at the end of every harvest."""
    ensure_tables(db)
    for table, indexes in INDEXES.items():
        for columns in indexes:
            db.table(table).create_index(columns, if_not_exists=True)
    for table, columns in FTS_CONFIG.items():
        # Built once after the first bulk load (faster than triggers during it);
        # the triggers keep it current on every later run.
        if not db.table(table).detect_fts():
            db.table(table).enable_fts(columns, create_triggers=True, tokenize="porter")


def save_site(db: Database, index: dict[str, Any], api_root: str, harvested_at: str) -> int:
    """Insert or update the sites row from the API index; returns the site id."""
    home = (index.get("home") or index.get("url") or api_root).rstrip("/")
    row = {
        "home": home,
        "url": index.get("url"),
        "api_root": api_root,
        "name": index.get("name"),
        "description": index.get("description"),
        "gmt_offset": str(index.get("gmt_offset", "")),
        "timezone_string": index.get("timezone_string"),
        "namespaces": json.dumps(index.get("namespaces") or []),
        "last_harvested": harvested_at,
    }
    with db.conn:
        found = db.execute("SELECT id FROM sites WHERE home = ?", [home]).fetchone()
        if found:
            db.table("sites").update(found[0], row)
            return int(found[0])
        return _insert(db, "sites", {**row, "first_harvested": harvested_at})


def start_run(db: Database, site_url: str, started_at: str, version: str) -> int:
    """Record the start of a harvest; returns the run id."""
    with db.conn:
        return _insert(db, "harvest_runs", {
            "site_url": site_url, "started_at": started_at, "status": "running", "version": version,
        })


def finish_run(db: Database, run_id: int, **values: Any) -> None:
    """Record the end of a harvest: status, counts, site, requests made."""
    if isinstance(values.get("counts"), dict):
        values["counts"] = json.dumps(values["counts"])
    with db.conn:
        error_count = db.execute("SELECT count(*) FROM harvest_errors WHERE run_id = ?", [run_id]).fetchone()[0]
        db.table("harvest_runs").update(run_id, {**values, "error_count": error_count})


def record_error(db: Database, run_id: int, *, at: str, site_id: int | None = None, collection: str = "",
                 url: str = "", status: int | None = None, reason: str = "", message: str = "",
                 body: bytes = b"") -> None:
    """Keep a failure, with the raw bytes the server sent, where a user can see it."""
    with db.conn:
        db.table("harvest_errors").insert({
            "run_id": run_id, "site_id": site_id, "collection": collection, "url": url, "status": status,
            "reason": reason, "message": message, "body": body, "at": at,
        })


def save_records(db: Database, records: Iterable[Record]) -> dict[str, int]:
    """Upsert a page of records in one transaction, skipping unchanged ones; returns counts."""
    records = list(records)
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    if not records:
        return counts
    table = records[0].table
    existing = _existing_signatures(db, table, [r.key for r in records])
    changed = []
    for record in records:
        before = existing.get(record.key)
        if before is None:
            counts["new"] += 1
        elif before == _signature(table, record.row):
            counts["unchanged"] += 1
            continue
        else:
            counts["updated"] += 1
        changed.append(record)
    if not changed:
        return counts
    with db.conn:
        db.table(table).upsert_all([r.row for r in changed], pk="key", alter=True)
        db.table("raw_json").upsert_all(
            [{"table": table, "key": r.key, "json": r.raw_json, "sha256": r.row["raw_sha256"]} for r in changed],
            pk=("table", "key"),
        )
        keys = [r.key for r in changed]
        for child_table in {name for r in changed for name in r.children}:
            _delete_where_in(db, child_table, "post", keys)
            rows = [row for r in changed for row in r.children.get(child_table, [])]
            if rows:
                db.table(child_table).insert_all(rows, alter=True)
    return counts


def term_names(db: Database, site_id: int) -> dict[str, str]:
    """Names of a site's terms by key, for labelling posts' categories and tags."""
    return {key: name for key, name in db.execute("SELECT key, name FROM terms WHERE site_id = ?", [site_id])}


def table_counts(db: Database, site_id: int | None = None) -> dict[str, int]:
    """Rows per archive table, for one site or for all."""
    counts = {}
    for table in ("posts", "media", "terms", "users", "comments"):
        where, params = ("WHERE site_id = ?", [site_id]) if site_id is not None else ("", [])
        counts[table] = db.execute(f'SELECT count(*) FROM "{table}" {where}', params).fetchone()[0]
    return counts


def _insert(db: Database, table: str, row: dict[str, Any]) -> int:
    last_pk = db.table(table).insert(row).last_pk
    assert last_pk is not None
    return int(last_pk)


def _signature(table: str, row: dict[str, Any]) -> Any:
    return row.get("modified_gmt") if table in _MODIFIED_TABLES else row.get("raw_sha256")


def _existing_signatures(db: Database, table: str, keys: list[str]) -> dict[str, Any]:
    column = "modified_gmt" if table in _MODIFIED_TABLES else "raw_sha256"
    placeholders = ",".join("?" * len(keys))
    sql = f'SELECT key, {column} FROM "{table}" WHERE key IN ({placeholders})'
    return {key: value for key, value in db.execute(sql, keys)}


def _delete_where_in(db: Database, table: str, column: str, values: list[str]) -> None:
    placeholders = ",".join("?" * len(values))
    db.execute(f'DELETE FROM "{table}" WHERE "{column}" IN ({placeholders})', values)

