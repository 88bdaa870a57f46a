"""The archive's schema: tables, indexes, full-text search, and the check that a file is ours."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from sqlite_utils.db import Database

from ..errors import ArchiveUnavailable, NotAnArchive, archive_error

# 2: the long text columns of posts and comments moved to the end of their rows
# 3: incomplete, on every table of records
SCHEMA_VERSION = 3

# Columns every archived row carries: where it came from, whether the site still serves it, and
# whether all of it arrived (incomplete says what is missing of an item salvaged from a broken body).
_PROVENANCE = """
    response_url TEXT, fetched_at TEXT, run_id INTEGER REFERENCES harvest_runs(id), raw_sha256 TEXT,
    warc_record_id TEXT,
    deleted_at TEXT, deleted_run_id INTEGER REFERENCES harvest_runs(id), incomplete TEXT"""
RECORD_TABLES = ("users", "terms", "posts", "media", "comments")

# Long text goes last in its row: SQLite reads a row's columns in order, and reaching one stored
# after 25 KB of text means following a chain of overflow pages. Search looks up every hit's
# deleted_at, type, date and author; with the text last that is one page read, not six.
TEXT_COLUMNS = {
    "posts": "excerpt_text TEXT, content_text TEXT, content_markdown TEXT, content_html TEXT",
    "comments": "content_text TEXT, content_html TEXT",
}

SCHEMA = {
    "sites": """
        id INTEGER PRIMARY KEY, home TEXT NOT NULL UNIQUE, url TEXT, api_root TEXT, name TEXT,
        description TEXT, gmt_offset TEXT, timezone_string TEXT, namespaces TEXT, taxonomies TEXT,
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
        revision_id INTEGER, modified_gmt TEXT, raw_sha256 TEXT, json TEXT""",
    # Per run and collection: what WordPress said it had (X-WP-Total) beside what the run did
    # and what the archive holds afterwards.
    "run_collections": """
        run_id INTEGER REFERENCES harvest_runs(id), site_id INTEGER REFERENCES sites(id), collection TEXT,
        kind TEXT, mode TEXT, total INTEGER, stored INTEGER, seen INTEGER, new INTEGER, updated INTEGER,
        unchanged INTEGER, revived INTEGER, deleted INTEGER, invalid INTEGER, failed_pages INTEGER,
        PRIMARY KEY (run_id, collection)""",
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
        status TEXT, title TEXT, slug TEXT, link TEXT, date TEXT, date_gmt TEXT, year INTEGER, modified TEXT,
        modified_gmt TEXT, author TEXT REFERENCES users(key), parent TEXT REFERENCES posts(key),
        menu_order INTEGER, featured_media TEXT REFERENCES media(key), comment_status TEXT,
        sticky INTEGER, format TEXT, protected INTEGER, categories TEXT, tags TEXT, word_count INTEGER,
        reading_minutes INTEGER, language TEXT, pages INTEGER, headings TEXT, shortcodes TEXT,
        link_norm TEXT, source TEXT, author_name TEXT,{_PROVENANCE},
        {TEXT_COLUMNS["posts"]}""",
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
        date_gmt TEXT, status TEXT, type TEXT, link TEXT,{_PROVENANCE},
        {TEXT_COLUMNS["comments"]}""",
    "post_terms": """
        post TEXT REFERENCES posts(key), term TEXT REFERENCES terms(key), taxonomy TEXT,
        PRIMARY KEY (post, term)""",
    # target: the archived post a link points at (a link graph); found at the end of each run.
    "links": """
        post TEXT REFERENCES posts(key), position INTEGER, href TEXT, text TEXT, internal INTEGER, host TEXT,
        href_norm TEXT, target_hint TEXT, target TEXT REFERENCES posts(key), PRIMARY KEY (post, position)""",
    "images": """
        post TEXT REFERENCES posts(key), position INTEGER, src TEXT, alt TEXT, caption TEXT, width INTEGER,
        height INTEGER, media TEXT REFERENCES media(key), PRIMARY KEY (post, position)""",
    "embeds": """
        post TEXT REFERENCES posts(key), position INTEGER, provider TEXT, url TEXT,
        PRIMARY KEY (post, position)""",
    # Downloaded media (--media): named by the SHA-256 of their bytes in the media folder.
    "files": """
        url TEXT PRIMARY KEY, site_id INTEGER REFERENCES sites(id), fetched_url TEXT, sha256 TEXT, size INTEGER,
        content_type TEXT, path TEXT, error TEXT, fetched_at TEXT, run_id INTEGER REFERENCES harvest_runs(id)""",
    # Vectors of posts and pages (`wparchive embed`): float32, normalised, from the text whose SHA-256
    # is text_sha256, by the model named (with its version); another text or model is embedded again.
    "embeddings": """
        key TEXT PRIMARY KEY REFERENCES posts(key), model TEXT, dims INTEGER, vector BLOB, text_sha256 TEXT,
        generation INTEGER""",
    # For each embedded post, the most similar others (rank 1 the nearest), of its site and of the others.
    "related": """
        key TEXT REFERENCES posts(key), rank INTEGER, related TEXT REFERENCES posts(key), similarity REAL,
        PRIMARY KEY (key, rank)""",
    # Posts whose text is the same or nearly (shingles and MinHash), by group: group_key is the key of
    # the group's first post, similarity the estimated share of shingles a post has in common with it.
    "duplicates": """
        key TEXT PRIMARY KEY REFERENCES posts(key), group_key TEXT REFERENCES posts(key), similarity REAL""",
    # Raw JSON lives apart from the hot tables: it is most of the bytes and rarely read.
    "raw_json": """
        "table" TEXT, key TEXT, json TEXT, sha256 TEXT, PRIMARY KEY ("table", key)""",
}

INDEXES = {
    # deleted_at: search counts and skips the deleted rows among its hits
    # incomplete: search leaves incomplete rows out, and counts the live ones from this index alone
    # year: the posts table's year facet; (type, deleted_at, date_gmt) and (site_id, deleted_at, type, date_gmt):
    # the home page's posts per month and per site, counted from an index instead of every row;
    # source: the category and tag facets count the names of the posts read by the fallback (feed, html)
    "posts": [["site_id", "wp_id"], ["type"], ["date_gmt"], ["author"], ["parent"], ["link_norm"], ["deleted_at"],
              ["incomplete", "deleted_at"], ["year"], ["type", "deleted_at", "date_gmt"],
              ["site_id", "deleted_at", "type", "date_gmt"], ["source"]],
    "terms": [["site_id", "wp_id"], ["taxonomy"]],
    "users": [["site_id", "wp_id"]],
    # (site_id, deleted_at): the home page and `status` count each site's live and deleted media
    "media": [["site_id", "wp_id"], ["post"], ["site_id", "deleted_at"]],
    "comments": [["site_id", "wp_id"], ["post"], ["parent"], ["deleted_at"], ["incomplete", "deleted_at"],
                 ["site_id", "deleted_at"]],
    # (taxonomy, term): the posts table's category and tag facets (wparchive.web.facets)
    "post_terms": [["term"], ["taxonomy", "term"]],
    "links": [["href"], ["target"], ["href_norm"], ["host"]],
    "embeds": [["provider"]],
    # (path): a reader page's archived picture is looked up by its path (web.media_files)
    "files": [["sha256"], ["path"]],
    "harvest_errors": [["run_id"], ["site_id", "collection"]],
    "versions": [["table", "key"]],
    "changes": [["run_id"], ["key"]],
}

VIEWS = {
    # One row per harvest: what it found and how long it took.
    "run_summary": """
        SELECT r.id AS run_id, s.name AS site, r.site_url, r.started_at, r.finished_at,
               CAST(ROUND((julianday(r.finished_at) - julianday(r.started_at)) * 86400) AS INTEGER) AS seconds,
               r.status, COALESCE(SUM(c.new), 0) AS new, COALESCE(SUM(c.updated), 0) AS updated,
               COALESCE(SUM(c.deleted), 0) AS removed, COALESCE(SUM(c.revived), 0) AS revived,
               r.error_count AS errors, r.requests
        FROM harvest_runs r LEFT JOIN sites s ON s.id = r.site_id LEFT JOIN run_collections c ON c.run_id = r.id
        GROUP BY r.id""",
    # Where the archive holds fewer (or more) records than WordPress announced. Comments and
    # media may differ legitimately: WordPress counts those on unreadable posts, then hides them.
    "collection_gaps": """
        SELECT run_id, site_id, collection, total AS wordpress_total, stored, total - stored AS gap, mode,
               failed_pages, invalid
        FROM run_collections WHERE total IS NOT NULL AND total != stored""",
    # Every state of every post: the current one and those versions kept.
    "post_history": """
        SELECT key, 'current' AS state, run_id, NULL AS replaced_by_run_id, modified_gmt, title,
               content_html, deleted_at FROM posts
        UNION ALL
        SELECT v.key, v.source, v.run_id, v.replaced_by_run_id, v.modified_gmt,
               json_extract(v.json, '$.title.rendered'), json_extract(v.json, '$.content.rendered'), NULL
        FROM versions v WHERE v."table" = 'posts'""",
    "recent_changes": """
        SELECT c.id, c.at, c.run_id, c.change, c."table", c.key,
               COALESCE(p.title, t.name, u.name, m.title, cm.author_name) AS label
        FROM changes c
        LEFT JOIN posts p ON c."table" = 'posts' AND p.key = c.key
        LEFT JOIN terms t ON c."table" = 'terms' AND t.key = c.key
        LEFT JOIN users u ON c."table" = 'users' AND u.key = c.key
        LEFT JOIN media m ON c."table" = 'media' AND m.key = c.key
        LEFT JOIN comments cm ON c."table" = 'comments' AND cm.key = c.key""",
}

FTS_CONFIG = {
    "posts": ["title", "content_text", "excerpt_text"],
    "comments": ["author_name", "content_text"],
}

def scope(table: str, collection: str, site_id: int) -> tuple[str, list[Any]]:
    """The WHERE clause and parameters that select one collection of one site in its table."""
    if table == "posts":
        return "site_id = ? AND type = ?", [site_id, collection]
    if table == "terms":
        return "site_id = ? AND taxonomy = ?", [site_id, collection]
    return "site_id = ?", [site_id]


# How long a connection waits for a lock before SQLite says "database is locked". In WAL mode readers
# never block the harvest, nor the harvest them: what is left to wait for is the moment SQLite
# recovers the WAL after a crash, or an archive still in rollback mode being switched to WAL.
BUSY_TIMEOUT_MS = 60_000


class _Archive(Database):
    """sqlite-utils' Database, whose transactions take the write lock as they begin (BEGIN IMMEDIATE).

    Sites harvested at once (harvest --jobs) write through connections of their own. A transaction
    that read first and then writes cannot wait its turn once another connection has written
    meanwhile (SQLite says "database is locked" at once); one that starts as a writer waits up to
    the busy timeout, like any other.
    """

    @contextmanager
    def atomic(self) -> Iterator[Database]:
        if self.conn.in_transaction:  # nested: sqlite-utils' savepoint
            with super().atomic():
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
            self.conn.execute("COMMIT")
        except BaseException:
            self.rollback()  # a no-op if the error already ended the transaction
            raise


def open_db(path: str, *, immutable: bool = False) -> Database:
    """Open (creating if needed) an archive database with its tables in place, in WAL mode.

    immutable opens a file nothing writes (serve -i) without locks, WAL or -shm: it also reads
    an archive on read-only storage.
    """
    try:
        if immutable:
            db = _Archive(sqlite3.connect(f"file:{quote(os.path.abspath(path))}?immutable=1", uri=True,
                                          check_same_thread=False))
        else:
            db = _Archive(path)
    except sqlite3.OperationalError as exc:
        raise ArchiveUnavailable.opening(path, str(exc)) from None
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    ensure_tables(db, label=path)
    if not immutable:
        use_wal(db, label=path)
    return db


def use_wal(db: Database, *, label: str = "the database") -> None:
    """Put the archive in WAL mode, once and for good (it is kept in the file): Datasette's readers
    then never block a harvest, nor a harvest them. Left as it is where it cannot be changed."""
    try:
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            db.execute("PRAGMA journal_mode = WAL")
    except sqlite3.OperationalError as exc:
        # Read-only storage keeps the mode it has; a reader holding an archive still in rollback
        # mode past the busy timeout only delays the change to the next run.
        if getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_READONLY", "SQLITE_BUSY")):
            return
        raise archive_error(exc, label) from exc


def checkpoint(path: str) -> None:
    """Copy what the WAL holds into the archive's file and empty the WAL, so that a reader of the
    file alone (Datasette's immutable mode) sees every committed page. Nothing where it cannot write."""
    if not os.path.isfile(path):
        return  # not created here: the caller says what is missing
    try:
        # A reader elsewhere (a Datasette without -i) holds off only the WAL's last frames: no
        # minute-long wait for it at startup.
        conn = sqlite3.connect(path, timeout=5)
    except sqlite3.Error:
        return
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error:
        pass  # read-only storage: whatever is there stays, and nothing else can change it either
    finally:
        conn.close()


def ensure_tables(db: Database, *, label: str = "the database") -> None:
    """Create any missing table; refuse a database from a newer version of this tool.

    label is what messages call the database: its path, when known.
    """
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        existing = set(db.table_names())
    except sqlite3.DatabaseError as exc:
        raise archive_error(exc, label) from exc
    if version > SCHEMA_VERSION:
        raise NotAnArchive(f"{label} was written by a newer wparchive (schema {version})")
    if existing and "harvest_runs" not in existing:
        raise NotAnArchive(f"{label} has tables but no harvest_runs: not a wparchive archive")
    missing = [name for name in SCHEMA if name not in existing]
    if not missing and version == SCHEMA_VERSION:
        return  # nothing to write: a finished archive may be opened read-only (serve -i)
    try:
        with db.atomic():
            for name in missing:
                db.execute(f'CREATE TABLE "{name}" ({SCHEMA[name]})')
            if version < 3:
                for table in RECORD_TABLES:
                    if table in existing and "incomplete" not in _columns_of(db, table):
                        db.execute(f'ALTER TABLE "{table}" ADD COLUMN incomplete TEXT')
                        if table in TEXT_COLUMNS:  # search reads it: indexed at once, not at the next harvest
                            db.execute(f'CREATE INDEX IF NOT EXISTS "idx_{table}_incomplete_deleted_at" '
                                       f'ON "{table}" (incomplete, deleted_at)')
                # Schema 1 had the long text mid-row, and a column added goes after it: the text goes last.
                for table in TEXT_COLUMNS:
                    if table in existing:
                        _text_columns_last(db, table)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc):
            raise archive_error(exc, label) from exc
        # An archive on read-only storage is served as it is; only slower to search.


def _text_columns_last(db: Database, table: str) -> None:
    """Rebuild a table of schema 1 with its long text columns at the end, keeping rowids (the
    full-text index refers to them), indexes, triggers and columns plugins added."""
    columns = [(row[1], row[2]) for row in db.execute(f'PRAGMA table_info("{table}")')]
    text = [name.split()[0] for name in TEXT_COLUMNS[table].split(", ")]
    if [name for name, _ in columns][-len(text):] == text:
        return
    known = _column_names(SCHEMA[table])
    added = ", ".join(f'"{name}" {kind}' for name, kind in columns if name not in known)
    head = SCHEMA[table][:SCHEMA[table].rindex(TEXT_COLUMNS[table])]
    create = f"{head}{added + ', ' if added else ''}{TEXT_COLUMNS[table]}"
    kept = db.execute("SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') "
                      "AND sql IS NOT NULL", [table]).fetchall()
    views = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'").fetchall()
    names = ", ".join(f'"{name}"' for name, _ in columns)
    for name, _ in views:  # renaming a table checks every view, and they name the table being replaced
        db.execute(f'DROP VIEW "{name}"')
    db.execute(f'CREATE TABLE "{table}_rebuilt" ({create})')
    db.execute(f'INSERT INTO "{table}_rebuilt" (rowid, {names}) SELECT rowid, {names} FROM "{table}"')
    db.execute(f'DROP TABLE "{table}"')
    db.execute(f'ALTER TABLE "{table}_rebuilt" RENAME TO "{table}"')
    for (sql,) in kept:
        db.execute(sql)
    for _, sql in views:
        db.execute(sql)


def _columns_of(db: Database, table: str) -> list[str]:
    return [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]


def _column_names(definition: str) -> set[str]:
    return {part.split()[0].strip('"') for part in definition.replace("\n", " ").split(",")
            if part.strip() and not part.strip().startswith("PRIMARY KEY")}


def resolve_link_targets(db: Database) -> None:
    """Point links at the archived posts they lead to, by id (?p=42) or by permalink."""
    with db.atomic():
        # What is looked at on every run: internal links not yet resolved. Without this index,
        # SQLite walked every external link of the archive (their target is NULL too).
        db.execute("CREATE INDEX IF NOT EXISTS links_unresolved ON links (href_norm) "
                   "WHERE internal = 1 AND target IS NULL")
        db.execute("""
            UPDATE links INDEXED BY links_unresolved SET target = COALESCE(
                (SELECT p.key FROM posts p WHERE p.key = links.target_hint),
                (SELECT p.key FROM posts p WHERE p.link_norm = links.href_norm LIMIT 1))
            WHERE internal = 1 AND target IS NULL""")


def ensure_indexes(db: Database) -> None:
    """Create any missing index of INDEXES."""
    for table, indexes in INDEXES.items():
        for columns in indexes:
            db.table(table).create_index(columns, if_not_exists=True)


def ensure_db_shape(db: Database) -> None:
    """Idempotently add indexes and full-text search; run at the end of every harvest."""
    ensure_tables(db)
    ensure_indexes(db)
    for name, sql in VIEWS.items():
        db.create_view(name, sql, replace=True)
    resolve_link_targets(db)
    for table, columns in FTS_CONFIG.items():
        # Built once after the first bulk load (faster than triggers during it);
        # the triggers keep it current on every later run.
        if not db.table(table).detect_fts():
            db.table(table).enable_fts(columns, create_triggers=True, tokenize="porter")
