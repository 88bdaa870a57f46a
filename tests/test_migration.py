"""An archive written by schema 1 (long text in the middle of posts and comments rows) is
rebuilt on opening with the text last, losing nothing: rows, rowids, plugin columns, indexes,
full-text index and its triggers, views."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from wparchive.client import Client
from wparchive.db import open_db
from wparchive.db.schema import SCHEMA_VERSION, TEXT_COLUMNS, ensure_tables
from wparchive.harvest import harvest_site

# The column order of schema 1, as archives of that version have it.
SCHEMA_1_ORDER = {
    "posts": ["key", "site_id", "wp_id", "type", "status", "title", "slug", "link", "date", "date_gmt", "year",
              "modified", "modified_gmt", "author", "parent", "menu_order", "featured_media", "comment_status",
              "sticky", "format", "protected", "categories", "tags", "excerpt_text", "content_text",
              "content_markdown", "word_count", "reading_minutes", "language", "pages", "headings", "shortcodes",
              "link_norm", "source", "author_name", "content_html", "response_url", "fetched_at", "run_id",
              "raw_sha256", "warc_record_id", "deleted_at", "deleted_run_id"],
    "comments": ["key", "site_id", "wp_id", "post", "parent", "author", "author_name", "author_url", "date",
                 "date_gmt", "status", "type", "link", "content_text", "content_html", "response_url", "fetched_at",
                 "run_id", "raw_sha256", "warc_record_id", "deleted_at", "deleted_run_id"],
}


def _columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]


def _as_schema_1(path: str) -> None:
    """Lay posts and comments out as schema 1 did, with a column a plugin added, and say version 1."""
    connection = sqlite3.connect(path)
    connection.execute("ALTER TABLE posts ADD COLUMN wp_custom TEXT")
    connection.execute("UPDATE posts SET wp_custom = 'plugin ' || key")
    views = connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'").fetchall()
    for name, _ in views:
        connection.execute(f'DROP VIEW "{name}"')
    for table, order in SCHEMA_1_ORDER.items():
        extra = [c for c in _columns(connection, table) if c not in order]
        names = ", ".join(f'"{c}"' for c in order + extra)
        kept = connection.execute("SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') "
                                  "AND sql IS NOT NULL", [table]).fetchall()
        connection.execute(f'CREATE TABLE "{table}_1" ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in order + extra)}, '
                           "PRIMARY KEY (key))")
        connection.execute(f'INSERT INTO "{table}_1" (rowid, {names}) SELECT rowid, {names} FROM "{table}"')
        connection.execute(f'DROP TABLE "{table}"')
        connection.execute(f'ALTER TABLE "{table}_1" RENAME TO "{table}"')
        for (sql,) in kept:
            connection.execute(sql)
    for _, sql in views:
        connection.execute(sql)
    connection.execute("PRAGMA user_version = 1")
    connection.commit()
    connection.close()


def _rows(connection: sqlite3.Connection, table: str) -> list[dict[str, object]]:
    connection.row_factory = sqlite3.Row
    rows = [dict(row) for row in connection.execute(f'SELECT rowid AS rid, * FROM "{table}" ORDER BY key')]
    connection.row_factory = None
    return rows


def test_a_schema_1_archive_gets_its_text_last_and_loses_nothing(server, tmp_path: Path) -> None:
    path = str(tmp_path / "old.db")
    harvest_site(open_db(path), Client(delay=0), server.home + "/")
    _as_schema_1(path)
    before = sqlite3.connect(path)
    assert _columns(before, "posts")[-1] == "wp_custom" and _columns(before, "posts").index("content_text") < 30
    rows_before = {table: _rows(before, table) for table in TEXT_COLUMNS}
    public = len(server.site.public_items("post")) + len(server.site.public_items("page"))
    assert {table: len(rows) for table, rows in rows_before.items()} == {
        "posts": public, "comments": len(server.site.public_comments())}
    indexes_before = before.execute("SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger') "
                                    "ORDER BY name").fetchall()
    before.close()

    db = open_db(path)

    after = db.conn
    assert after.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert _columns(after, "posts")[-4:] == ["excerpt_text", "content_text", "content_markdown", "content_html"]
    assert _columns(after, "comments")[-2:] == ["content_text", "content_html"]
    assert "wp_custom" in _columns(after, "posts")
    for table in TEXT_COLUMNS:
        assert _rows(after, table) == rows_before[table]
    assert after.execute("SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger') "
                         "ORDER BY name").fetchall() == indexes_before
    after.execute("INSERT INTO posts_fts(posts_fts) VALUES ('integrity-check')")
    # views work again: one current state per post, no versions yet
    assert after.execute("SELECT state, count(*) FROM post_history GROUP BY state").fetchall() == [("current", public)]
    # the full-text triggers survived: a changed text is found by its new word, not its old one
    key, rowid = after.execute("SELECT key, rowid FROM posts ORDER BY key LIMIT 1").fetchone()
    with db.atomic():
        after.execute("UPDATE posts SET content_text = 'zanzibarish' WHERE key = ?", [key])
    assert after.execute("SELECT rowid FROM posts_fts WHERE posts_fts MATCH 'zanzibarish'").fetchall() == [(rowid,)]
    after.execute("INSERT INTO posts_fts(posts_fts) VALUES ('integrity-check')")
    # and a second opening has nothing more to do
    open_db(path)
    assert _rows(sqlite3.connect(path), "comments") == rows_before["comments"]


def test_a_read_only_schema_1_archive_still_opens(server, tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    harvest_site(open_db(str(path)), Client(delay=0), server.home + "/")
    _as_schema_1(str(path))
    db = Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True))  # as on read-only storage
    ensure_tables(db)
    public = len(server.site.public_items("post")) + len(server.site.public_items("page"))
    assert db.execute("SELECT count(*) FROM posts").fetchone()[0] == public == 29
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
