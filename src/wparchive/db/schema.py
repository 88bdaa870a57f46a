"""The archive's schema: tables, indexes, full-text search, and the check that a file is ours."""

from __future__ import annotations

import sqlite3

from sqlite_utils.db import Database

from ..errors import NotAnArchive

SCHEMA_VERSION = 1

# Columns every archived row carries: where it came from, and whether the site still serves it.
_PROVENANCE = """
    response_url TEXT, fetched_at TEXT, run_id INTEGER REFERENCES harvest_runs(id), raw_sha256 TEXT,
    deleted_at TEXT, deleted_run_id INTEGER REFERENCES harvest_runs(id)"""

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
        reason TEXT, message TEXT, body BLOB, at TEXT, retry INTEGER DEFAULT 0,
        resolved_run_id INTEGER REFERENCES harvest_runs(id)""",
    # Per site and collection: what the last complete pass saw, and where an unfinished one stands.
    "sync_state": """
        site_id INTEGER REFERENCES sites(id), collection TEXT, kind TEXT, last_total INTEGER,
        complete_run_id INTEGER REFERENCES harvest_runs(id), pass_run_id INTEGER REFERENCES harvest_runs(id),
        resume_page INTEGER, updated_at TEXT, PRIMARY KEY (site_id, collection)""",
    # Keys seen by the full pass in progress, kept across interruptions so a resumed pass can
    # still tell at its end which items the site no longer serves.
    "sweep_seen": """
        site_id INTEGER, collection TEXT, key TEXT, PRIMARY KEY (site_id, collection, key)""",
    # Earlier states of records, kept when a newer one replaces them.
    "versions": """
        id INTEGER PRIMARY KEY, "table" TEXT, key TEXT, run_id INTEGER REFERENCES harvest_runs(id),
        replaced_by_run_id INTEGER REFERENCES harvest_runs(id), replaced_at TEXT, source TEXT,
        modified_gmt TEXT, raw_sha256 TEXT, json TEXT""",
    # What each run changed: new, updated, deleted (no longer served) and revived records.
    "changes": """
        id INTEGER PRIMARY KEY, run_id INTEGER REFERENCES harvest_runs(id),
        site_id INTEGER REFERENCES sites(id), "table" TEXT, key TEXT, change TEXT, at TEXT""",
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
    "harvest_errors": [["run_id"], ["site_id", "collection"]],
    "versions": [["table", "key"]],
    "changes": [["run_id"], ["key"]],
}

FTS_CONFIG = {
    "posts": ["title", "content_text", "excerpt_text"],
    "comments": ["author_name", "content_text"],
}

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
    if existing and "harvest_runs" not in existing:
        raise NotAnArchive("the database has tables but no harvest_runs: not a wparchive archive")
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
