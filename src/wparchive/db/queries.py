"""Read queries for serving and exporting: SQL text and parameters, run by the caller.

Datasette runs queries asynchronously on its own connections, exports on ours; both take their
SQL from here so that it lives in one package.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

# FTS5 snippet markers: control characters that never occur in harvested text, replaced by
# <mark> only after the text around them has been HTML-escaped.
MARK_START, MARK_END = "\x02", "\x03"
# What downloads (CSV, JSON) and the command line put around the words found instead: plain text
# that any program can read; a harvested text may hold "[[" of its own, which is not a match.
PLAIN_MARK_START, PLAIN_MARK_END = "[[", "]]"

# bm25 weights per FTS column: a word in the title counts ten times one in the body.
POST_WEIGHTS = "10.0, 1.0, 3.0"  # title, content_text, excerpt_text
COMMENT_WEIGHTS = "2.0, 1.0"  # author_name, content_text

# Titles in search results are cut here: only a hostile site sends a longer one, and every hit's
# title goes into the answer (and the facets' sample holds a thousand hits).
TITLE_CHARS = 1_000

# Every hit with its rank, but no snippet: snippets cost a read of the text each, so they are
# made afterwards for the hits shown (SNIPPETS_SQL).
_HITS = f"""
    SELECT 'post' AS kind, posts_fts.rowid AS rid, p.key, substr(p.title, 1, {TITLE_CHARS}) AS title, p.type,
           p.date_gmt, substr(p.date_gmt, 1, 4) AS year, p.site_id, p.author, p.categories, p.tags, p.link,
           bm25(posts_fts, {POST_WEIGHTS}) AS score
    FROM posts_fts JOIN posts p ON p.rowid = posts_fts.rowid
    WHERE posts_fts MATCH :q AND p.deleted_at IS NULL AND p.incomplete IS NULL
    UNION ALL
    SELECT 'comment', comments_fts.rowid, c.key,
           COALESCE('Comment on ' || substr(p.title, 1, {TITLE_CHARS}), 'Comment'), 'comment', c.date_gmt,
           substr(c.date_gmt, 1, 4), c.site_id, c.author, NULL, NULL, c.link, bm25(comments_fts, {COMMENT_WEIGHTS})
    FROM comments_fts JOIN comments c ON c.rowid = comments_fts.rowid LEFT JOIN posts p ON p.key = c.post
    WHERE comments_fts MATCH :q AND c.deleted_at IS NULL AND c.incomplete IS NULL"""

def _ranked_hits(match: str, wanted: str) -> str:
    """SQL for the best `wanted` live hits of the FTS query `match` (both SQL expressions), best first."""
    # Ranked in the full-text indexes alone (bm25 needs nothing else): only the best of each
    # table are then looked up in posts and comments, as many as wanted plus every deleted or
    # incomplete row (each counted in its index), so the best live hits are all among them.
    # Ranking a word that is in most posts otherwise meant reading every one of those posts.
    return f"""
    WITH depth AS (SELECT {wanted} + (SELECT count(*) FROM posts WHERE deleted_at IS NOT NULL)
                                  + (SELECT count(*) FROM posts WHERE incomplete IS NOT NULL)
                                  + (SELECT count(*) FROM comments WHERE deleted_at IS NOT NULL)
                                  + (SELECT count(*) FROM comments WHERE incomplete IS NOT NULL) AS n),
    post_hits AS MATERIALIZED (
        SELECT rowid AS rid, bm25(posts_fts, {POST_WEIGHTS}) AS score FROM posts_fts
        WHERE posts_fts MATCH {match} ORDER BY score, rowid LIMIT (SELECT n FROM depth)),
    comment_hits AS MATERIALIZED (
        SELECT rowid AS rid, bm25(comments_fts, {COMMENT_WEIGHTS}) AS score FROM comments_fts
        WHERE comments_fts MATCH {match} ORDER BY score, rowid LIMIT (SELECT n FROM depth))
    SELECT 'post' AS kind, h.rid, p.key, substr(p.title, 1, {TITLE_CHARS}) AS title, p.type, p.date_gmt,
           substr(p.date_gmt, 1, 4) AS year, p.site_id, p.author, p.categories, p.tags, p.link, h.score
    FROM post_hits h JOIN posts p ON p.rowid = h.rid WHERE p.deleted_at IS NULL AND p.incomplete IS NULL
    UNION ALL
    SELECT 'comment', h.rid, c.key, COALESCE('Comment on ' || substr(p.title, 1, {TITLE_CHARS}), 'Comment'),
           'comment', c.date_gmt, substr(c.date_gmt, 1, 4), c.site_id, c.author, NULL, NULL, c.link, h.score
    FROM comment_hits h JOIN comments c ON c.rowid = h.rid LEFT JOIN posts p ON p.key = c.post
    WHERE c.deleted_at IS NULL AND c.incomplete IS NULL
    ORDER BY score, kind, rid LIMIT {wanted}"""


# The same hits, best first: the search page's, for :q already an FTS5 query.
_RANKED_HITS = _ranked_hits(":q", ":wanted")

# Live hits counted without ranking: all matches, less those of deleted rows and of live incomplete
# ones (few, and found by the deleted_at and incomplete indexes; CROSS JOIN keeps SQLite from
# walking every match instead, and the unary + from looking up the many live rows by deleted_at).
_LIVE_COUNT = """
    SELECT (SELECT count(*) FROM posts_fts WHERE posts_fts MATCH :q)
         - (SELECT count(*) FROM posts p CROSS JOIN posts_fts ON posts_fts.rowid = p.rowid
            WHERE p.deleted_at IS NOT NULL AND posts_fts MATCH :q)
         - (SELECT count(*) FROM posts p CROSS JOIN posts_fts ON posts_fts.rowid = p.rowid
            WHERE p.incomplete IS NOT NULL AND +p.deleted_at IS NULL AND posts_fts MATCH :q)
         + (SELECT count(*) FROM comments_fts WHERE comments_fts MATCH :q)
         - (SELECT count(*) FROM comments c CROSS JOIN comments_fts ON comments_fts.rowid = c.rowid
            WHERE c.deleted_at IS NOT NULL AND comments_fts MATCH :q)
         - (SELECT count(*) FROM comments c CROSS JOIN comments_fts ON comments_fts.rowid = c.rowid
            WHERE c.incomplete IS NOT NULL AND +c.deleted_at IS NULL AND comments_fts MATCH :q)"""

# Snippets of long texts are made from their first SNIPPET_SOURCE_CHARS characters, not from the
# archive's full-text index: FTS5's snippet() costs the square of the matches in the text it reads
# (a 50 MB post that repeats the word searched for had no snippet after ten minutes), and
# Datasette's time limit cannot stop one call of it. wparchive_snippet (a function the Datasette
# plugin gives every connection) indexes that prefix in a small table of its own, in chunks of
# SNIPPET_CHUNK_CHARS, and takes the snippet from the best chunk: milliseconds, whatever the post.
# A hit no longer than SNIPPET_DIRECT_CHARS (its columns together) keeps the index's own
# snippet(), ten times cheaper, and at worst (every word a match) under 10 ms. Search itself
# still finds every word of every post.
SNIPPET_SOURCE_CHARS = 100_000
SNIPPET_CHUNK_CHARS = 1_000
SNIPPET_DIRECT_CHARS = 2_000
_SNIPPET_COLUMNS = {"posts": ("title", "content_text", "excerpt_text"), "comments": ("author_name", "content_text")}


def _snippet_of(query: str, alias: str, table: str) -> str:
    """SQL for a hit's snippet, in a full-text query of table's index (alias: its row of table)."""
    columns = _SNIPPET_COLUMNS[table]
    size = " + ".join(f"coalesce(length({alias}.{column}), 0)" for column in columns)
    bounded = {column: f"substr({alias}.{column}, 1, {SNIPPET_SOURCE_CHARS})" for column in columns}
    arguments = ", ".join(bounded.get(name, "NULL") for name in ("title", "author_name", "content_text",
                                                                   "excerpt_text"))
    return (f"CASE WHEN {size} <= {SNIPPET_DIRECT_CHARS} THEN snippet({table}_fts, -1, char(2), char(3), '…', 24) "
            f"ELSE wparchive_snippet({query}, {arguments}) END")


# Snippets are made only for the hits shown (:posts and :comments are JSON lists of their rowids).
SNIPPETS_SQL = f"""
    SELECT 'post' AS kind, posts_fts.rowid AS rid, {_snippet_of(":q", "p", "posts")} AS snippet
    FROM json_each(:posts) shown CROSS JOIN posts_fts ON posts_fts.rowid = shown.value
    CROSS JOIN posts p ON p.rowid = posts_fts.rowid WHERE posts_fts MATCH :q
    UNION ALL
    SELECT 'comment', comments_fts.rowid, {_snippet_of(":q", "c", "comments")}
    FROM json_each(:comments) shown CROSS JOIN comments_fts ON comments_fts.rowid = shown.value
    CROSS JOIN comments c ON c.rowid = comments_fts.rowid WHERE comments_fts MATCH :q"""

# wparchive_snippet's own table, in memory: the columns of both full-text indexes (so that an
# advanced search naming a column works there too), tokenized as they are.
SNIPPET_TABLE_SQL = ("CREATE VIRTUAL TABLE snippet_source USING fts5(title, author_name, content_text, excerpt_text, "
                     "tokenize='porter')")
SNIPPET_CLEAR_SQL = "DELETE FROM snippet_source"
SNIPPET_INSERT_SQL = ("INSERT INTO snippet_source (rowid, title, author_name, content_text, excerpt_text) "
                      "VALUES (?, ?, ?, ?, ?)")
# The best chunk by rank (bm25, over what its chunk holds), and its snippet alone.
SNIPPET_SQL = ("SELECT snippet(snippet_source, -1, char(2), char(3), '…', 24) FROM snippet_source "
               "WHERE snippet_source MATCH ? ORDER BY rank LIMIT 1")

def _plain(snippet: str) -> str:
    """A snippet's SQL with the plain markers instead of the control characters."""
    return f"replace(replace({snippet}, char(2), '{PLAIN_MARK_START}'), char(3), '{PLAIN_MARK_END}')"


# The `search` canned query: the best SEARCH_QUERY_ROWS live hits with snippets, ranked as the search
# page ranks them, for a person's words in :q (wparchive_fts, a function the Datasette plugin gives
# every connection, makes them a safe FTS5 query). A comment's title is its author's name.
SEARCH_QUERY_NAME = "search"
SEARCH_QUERY_ROWS = 500
SEARCH_QUERY_SQL = f"""
    WITH q AS (SELECT wparchive_fts(:q) AS text),
    hits AS MATERIALIZED ({_ranked_hits("(SELECT text FROM q)", str(SEARCH_QUERY_ROWS))})
    SELECT 'post' AS kind, hits.key, hits.title, hits.type, hits.date_gmt, hits.link,
           {_plain(_snippet_of("(SELECT text FROM q)", "p", "posts"))} AS snippet, hits.score
    FROM hits CROSS JOIN posts_fts ON posts_fts.rowid = hits.rid CROSS JOIN posts p ON p.rowid = hits.rid
    WHERE hits.kind = 'post' AND posts_fts MATCH (SELECT text FROM q)
    UNION ALL
    SELECT 'comment', hits.key, substr(c.author_name, 1, {TITLE_CHARS}), 'comment', hits.date_gmt, hits.link,
           {_plain(_snippet_of("(SELECT text FROM q)", "c", "comments"))}, hits.score
    FROM hits CROSS JOIN comments_fts ON comments_fts.rowid = hits.rid CROSS JOIN comments c ON c.rowid = hits.rid
    WHERE hits.kind = 'comment' AND comments_fts MATCH (SELECT text FROM q)
    ORDER BY score"""
SEARCH_QUERY_TITLE = "Search"
# {search_page} is the address of the search page, which only the server knows.
SEARCH_QUERY_DESCRIPTION = (
    "Ranked full-text search of posts, pages and comments (a word in a title counts ten times one in the body), "
    "with highlighted snippets. Quotes, hyphens and dots are safe; for the search page with facets go to "
    "{search_page}.")

NAMES_SQL = """
    SELECT 'user' AS kind, key, name, NULL AS home FROM users WHERE key IN (SELECT value FROM json_each(:users))
    UNION ALL
    SELECT 'site', CAST(id AS TEXT), name, home FROM sites"""

# Whether an archive can be searched: first whether it has both full-text indexes (a question that
# cannot fail, so that a database without them, the usual case, leaves no error in the server's log),
# then a query naming every table and column a search reads, which fails (no such column) on an
# archive of an older schema served as it is. It reads nothing (the empty phrase :q matches nothing).
FULL_TEXT_INDEXES_SQL = "SELECT count(*) AS n FROM sqlite_master WHERE name IN ('posts_fts', 'comments_fts')"
SEARCHABLE_SQL = f"SELECT count(*) FROM ({_HITS}) WHERE 0"

# A filter's value is a parameter of the same name. site: a site's id; an address (with "://"): the
# site at that address, whole (a final "/" may be left off), so that the site facet of several archives,
# whose values are addresses, leads to as many hits as it counts, not to those of every site under one
# (a multisite's https://h/garden under https://h); else part of its name or address. author: a user's key or name; from and to: dates (YYYY, YYYY-MM or YYYY-MM-DD,
# both included: "to 2023" keeps all of 2023).
_FILTERS = {
    "site": """site_id IN (SELECT id FROM sites WHERE CASE WHEN :site NOT GLOB '*[^0-9]*' THEN CAST(id AS TEXT) = :site
               WHEN :site GLOB '*://*' THEN home IN (:site, :site || '/')
               ELSE home LIKE '%' || :site || '%' OR name LIKE '%' || :site || '%' END)""",
    "type": "type = :type",
    "year": "year = :year",
    "author": "(author = :author OR author IN (SELECT key FROM users WHERE name = :author))",
    "category": "EXISTS (SELECT 1 FROM json_each(categories) WHERE value = :category)",
    "tag": "EXISTS (SELECT 1 FROM json_each(tags) WHERE value = :tag)",
    "from": "date_gmt >= :from",
    "to": "substr(date_gmt, 1, length(:to)) <= :to",
}
FILTER_NAMES = tuple(_FILTERS)
# Facets of a search, in the order shown: what each filter would leave.
FACET_NAMES = ("site", "type", "year", "author", "category", "tag")
FACET_SAMPLE = 1000  # facets describe the first thousand hits: counting them all means ranking them all
# The orders of a search: each a key and a direction; ties go by kind and rowid, the same way,
# so that a download read in chunks (each after the last row of the one before) is in the page's order.
SORTS = {"relevance": ("score", "ASC"), "newest": ("coalesce(date_gmt, '')", "DESC"),
         "oldest": ("coalesce(date_gmt, '')", "ASC")}


def ranked_hits_sql(filters: dict[str, str], sort: str = "relevance", *,
                    after: bool = False) -> tuple[str, dict[str, Any]]:
    """SQL for the first :wanted live hits in the order sort names, with the filters applied (and,
    with after, only those past :after_key, :after_kind, :after_rid); and the filters' parameters."""
    where = [_FILTERS[name] for name in filters if name in _FILTERS]
    params = {name: value for name, value in filters.items() if name in _FILTERS}
    if not where and sort == "relevance" and not after:
        return _RANKED_HITS, params
    # A filter, another order or a later chunk must see every hit before the first are taken: rank them all.
    key, direction = SORTS[sort]
    if after:
        where.append(f"({key}, kind, rid) {'<' if direction == 'DESC' else '>'} (:after_key, :after_kind, :after_rid)")
    return (f"WITH all_hits AS ({_HITS}) SELECT * FROM all_hits WHERE {' AND '.join(where) or '1'} "
            f"ORDER BY {key} {direction}, kind {direction}, rid {direction} LIMIT :wanted"), params


# Search by meaning: which vectors of a model an archive holds (the archive's file and the last
# generation `wparchive embed` wrote, so that a server reads them again when it writes any), the
# vectors themselves, and the nearest posts as hits. Read from the index on every search, the state
# costs a few index pages, where counting the vectors read all of them (10 ms at 100,000). Vectors
# an embed only deleted stay in a server's copy until the next embed writes: the nearest hits are
# read back from the live posts, so they never show.
VECTORS_STATE_SQL = ("SELECT max(generation) AS generation, (SELECT file FROM pragma_database_list "
                     "WHERE name = 'main') AS file FROM embeddings WHERE model = :model AND dims = :dims")
VECTORS_SQL = ("SELECT p.rowid AS rid, e.vector FROM embeddings e JOIN posts p ON p.key = e.key "
               "WHERE e.model = :model AND e.dims = :dims")
# The nearest posts (:rids, a JSON list of rowids, nearest first) that are live, as hits: their
# score is their place in that list; opening stands for a snippet where the words are not in them.
_NEAREST = f"""
    SELECT 'post' AS kind, p.rowid AS rid, p.key, substr(p.title, 1, {TITLE_CHARS}) AS title, p.type, p.date_gmt,
           substr(p.date_gmt, 1, 4) AS year, p.site_id, p.author, p.categories, p.tags, p.link,
           CAST(nearest.key AS REAL) AS score,
           substr(coalesce(nullif(p.excerpt_text, ''), p.content_text), 1, 400) AS opening
    FROM json_each(:rids) nearest JOIN posts p ON p.rowid = nearest.value
    WHERE p.deleted_at IS NULL AND p.incomplete IS NULL"""


def nearest_hits_sql(filters: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """SQL for the live posts among :rids (nearest first) that the filters keep, in that order; and the
    filters' parameters."""
    where = " AND ".join(_FILTERS[name] for name in filters if name in _FILTERS) or "1"
    params = {name: value for name, value in filters.items() if name in _FILTERS}
    return f"WITH nearest_hits AS ({_NEAREST}) SELECT * FROM nearest_hits WHERE {where} ORDER BY score", params


def live_count_sql(filters: dict[str, str]) -> str:
    """SQL counting the live hits with the filters applied."""
    where = " AND ".join(_FILTERS[name] for name in filters if name in _FILTERS)
    if not where:
        return _LIVE_COUNT
    unranked = _HITS.replace(f"bm25(posts_fts, {POST_WEIGHTS})", "0").replace(
        f"bm25(comments_fts, {COMMENT_WEIGHTS})", "0")
    return f"WITH all_hits AS ({unranked}) SELECT count(*) FROM all_hits WHERE {where}"


POST_SQL = """
    SELECT p.*, COALESCE(u.name, p.author_name) AS author_label, s.name AS site_name, s.home AS site_home
    FROM posts p LEFT JOIN users u ON u.key = p.author LEFT JOIN sites s ON s.id = p.site_id
    WHERE p.key = :key"""

# The posts most like one (the related table, made by `wparchive embed`), live, with their site's name.
RELATED_SQL = """
    SELECT r.related AS key, p.title, p.site_id, s.name AS site_name, p.date_gmt, r.similarity
    FROM related r JOIN posts p ON p.key = r.related LEFT JOIN sites s ON s.id = p.site_id
    WHERE r.key = :key AND p.deleted_at IS NULL ORDER BY r.rank"""
POST_COMMENTS_SQL = """
    SELECT key, parent, author_name, date_gmt, content_text FROM comments
    WHERE post = :key AND deleted_at IS NULL ORDER BY date_gmt, key"""

# The downloaded files (--media) of a post's images and attachments, by the URL the post has them at.
POST_FILES_SQL = """
    SELECT url, path FROM files WHERE sha256 IS NOT NULL AND path IS NOT NULL AND url IN (
        SELECT src FROM images WHERE post = :key UNION SELECT source_url FROM media WHERE post = :key)"""
# The type a downloaded file was served with, by its path in the media folder.
FILE_TYPE_SQL = "SELECT content_type FROM files WHERE path = :path AND sha256 IS NOT NULL LIMIT 1"

# The state of an archive, as its home page and `wparchive status` show it: per site what it holds
# (posts, pages, each other type, comments, media; deleted: what the site no longer serves), its
# last harvest and its open errors (not yet retried with success); then the last runs and the
# newest open errors. Counted from the indexes on (site_id, deleted_at, type).
SITES_SUMMARY_SQL = """
    SELECT s.id, s.name, s.home, s.description,
           (SELECT count(*) FROM posts p WHERE p.site_id = s.id AND p.deleted_at IS NULL AND p.type = 'post') AS posts,
           (SELECT count(*) FROM posts p WHERE p.site_id = s.id AND p.deleted_at IS NULL AND p.type = 'page') AS pages,
           (SELECT json_group_object(type, n) FROM (
                SELECT p.type, count(*) AS n FROM posts p WHERE p.site_id = s.id AND p.deleted_at IS NULL
                AND p.type NOT IN ('post', 'page') GROUP BY p.type ORDER BY p.type)) AS other_types,
           (SELECT count(*) FROM comments c WHERE c.site_id = s.id AND c.deleted_at IS NULL) AS comments,
           (SELECT count(*) FROM media m WHERE m.site_id = s.id AND m.deleted_at IS NULL) AS media,
           (SELECT count(*) FROM posts p WHERE p.site_id = s.id AND p.deleted_at IS NOT NULL)
           + (SELECT count(*) FROM comments c WHERE c.site_id = s.id AND c.deleted_at IS NOT NULL)
           + (SELECT count(*) FROM media m WHERE m.site_id = s.id AND m.deleted_at IS NOT NULL) AS deleted,
           (SELECT min(date_gmt) FROM posts p WHERE p.site_id = s.id AND p.deleted_at IS NULL) AS first_date,
           (SELECT max(date_gmt) FROM posts p WHERE p.site_id = s.id AND p.deleted_at IS NULL) AS last_date,
           (SELECT max(finished_at) FROM harvest_runs r WHERE r.site_id = s.id) AS last_harvest,
           (SELECT status FROM harvest_runs r WHERE r.site_id = s.id ORDER BY r.id DESC LIMIT 1) AS last_status,
           (SELECT count(*) FROM harvest_errors e WHERE e.site_id = s.id AND e.resolved_run_id IS NULL) AS open_errors
    FROM sites s ORDER BY s.name"""
RECENT_RUNS_SQL = """
    SELECT run_id, site, site_url, started_at, finished_at, seconds, status, new, updated, removed, revived, errors,
           requests
    FROM run_summary ORDER BY run_id DESC LIMIT :runs"""
OPEN_ERRORS_SQL = """
    SELECT e.id, e.run_id, s.name AS site, e.collection, e.url, e.status, e.reason, e.message, e.at
    FROM harvest_errors e LEFT JOIN sites s ON s.id = e.site_id WHERE e.resolved_run_id IS NULL
    ORDER BY e.id DESC LIMIT :errors"""
STATUS_SQL = {"sites": SITES_SUMMARY_SQL, "runs": RECENT_RUNS_SQL, "errors": OPEN_ERRORS_SQL}
STATUS_PARAMS = {"runs": 5, "errors": 10}  # the last runs and the newest open errors shown


def status_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a STATUS_SQL query as dicts, each site's other types as {type: count}."""
    decoded = [dict(row) for row in rows]
    for row in decoded:
        if "other_types" in row:
            row["other_types"] = json.loads(row["other_types"] or "{}")
    return decoded


POSTS_PER_MONTH_SQL = """
    SELECT substr(date_gmt, 1, 7) AS month, count(*) AS posts FROM posts
    WHERE type = 'post' AND deleted_at IS NULL AND date_gmt IS NOT NULL GROUP BY month ORDER BY month"""


# What an export's --site and --type may name (see selection.py).
EXPORT_SITES_SQL = "SELECT id, home, url, name, description FROM sites ORDER BY id"
EXPORT_TYPES_SQL = "SELECT DISTINCT type FROM posts WHERE type IS NOT NULL ORDER BY type"


def export_sql(*, site_ids: list[int] | None, post_type: str | None, since: str | None) -> tuple[str, dict[str, Any]]:
    """SQL streaming the live posts to export, oldest first, with their author's and site's names;
    posts of which only part arrived (incomplete) are left out. site_ids: only these sites' (None: every site's)."""
    conditions = ["p.deleted_at IS NULL", "p.incomplete IS NULL"]
    params: dict[str, Any] = {}
    if site_ids is not None:
        conditions.append("p.site_id IN (SELECT value FROM json_each(:sites))")
        params["sites"] = json.dumps(site_ids)
    if post_type:
        conditions.append("p.type = :type")
        params["type"] = post_type
    if since:
        conditions.append("p.date_gmt >= :since")
        params["since"] = since
    sql = (f"SELECT p.*, COALESCE(u.name, p.author_name) AS author_label, s.name AS site_name, s.home AS site_home, "
           f"s.gmt_offset AS site_gmt_offset FROM posts p LEFT JOIN users u ON u.key = p.author "
           f"LEFT JOIN sites s ON s.id = p.site_id WHERE {' AND '.join(conditions)} ORDER BY p.date_gmt, p.key")
    return sql, params


def export_count_sql(*, site_ids: list[int] | None, post_type: str | None, since: str | None,
                     captured_only: bool = False) -> tuple[str, dict[str, Any]]:
    """SQL counting the rows export_sql streams (its own query, unsorted), to size a progress bar;
    captured_only: only those whose API response is in a WARC file (harvested with --warc)."""
    sql, params = export_sql(site_ids=site_ids, post_type=post_type, since=since)
    unsorted = sql.rsplit(" ORDER BY ", 1)[0]  # sorted, SQLite would read every row's text only to count it
    return f"SELECT count(*) FROM ({unsorted})" + (" WHERE warc_record_id IS NOT NULL" if captured_only else ""), params


def export_places_sql(*, site_ids: list[int] | None, post_type: str | None,
                      since: str | None) -> tuple[str, dict[str, Any]]:
    """SQL for what a Markdown export needs to place the rows export_sql streams before it writes
    any (a link may lead to an item written later): the same rows in the same order, without their text."""
    sql, params = export_sql(site_ids=site_ids, post_type=post_type, since=since)
    unsorted = sql.rsplit(" ORDER BY ", 1)[0]
    return (f"SELECT key, site_id, wp_id, type, slug, date, link, site_home FROM ({unsorted}) "
            f"ORDER BY date_gmt, key"), params


def harvested_addresses_sql(*, site_ids: list[int] | None) -> tuple[str, dict[str, Any]]:
    """SQL for the addresses the harvests of these sites (None: every site) were started from (a
    WARC file is named after the host of the address its harvest was given)."""
    if site_ids is None:
        return "SELECT DISTINCT site_url FROM harvest_runs WHERE site_id IS NOT NULL ORDER BY site_url", {}
    return ("SELECT DISTINCT site_url FROM harvest_runs WHERE site_id IN (SELECT value FROM json_each(:sites)) "
            "ORDER BY site_url"), {"sites": json.dumps(site_ids)}


MEDIA_FILES_SQL = "SELECT url, path FROM files WHERE sha256 IS NOT NULL"
# The page of each attachment (?attachment_id=101, or a permalink), and its file.
MEDIA_PAGES_SQL = "SELECT link, source_url FROM media WHERE link IS NOT NULL AND source_url IS NOT NULL"
# Permalinks posts had before: a slug or date changed. A version whose JSON is broken is passed over.
EARLIER_LINKS_SQL = """
    SELECT key, CASE WHEN json_valid(json) THEN json_extract(json, '$.link') END AS link FROM versions
    WHERE "table" = 'posts' ORDER BY id"""
# The archived posts a post's links point at (resolve_link_targets found them).
LINK_TARGETS_SQL = "SELECT href, target FROM links WHERE post = ? AND target IS NOT NULL"


def stream_sql(table: str, *, is_view: bool, after: int, limit: int) -> tuple[str, dict[str, Any]]:
    """A chunk of a table (by rowid, so each chunk costs the same) or of a view (by offset)."""
    quoted = '"' + table.replace('"', '""') + '"'
    if is_view:
        return (f"SELECT {int(after)} + row_number() OVER () AS __position, * FROM {quoted} "
                f"LIMIT {int(limit)} OFFSET {int(after)}", {})
    return (f"SELECT rowid AS __position, * FROM {quoted} WHERE rowid > :after ORDER BY rowid LIMIT {int(limit)}",
            {"after": after})


def raw_count_sql(table: str) -> str:
    """SQL counting the records of a table that have their raw JSON: what a rebuild goes through."""
    return f'SELECT count(*) FROM raw_json r JOIN "{table}" t ON t.key = r.key WHERE r."table" = ?'


# --- WXR: one site's items, terms, users and comments with the JSON the site served -----------------

_WXR_POSTS = """
    SELECT p.key, p.wp_id, p.type, p.link, p.deleted_at, p.incomplete, r.json,
           (SELECT json_group_array(json_object('taxonomy', t.taxonomy, 'slug', t.slug, 'name', t.name))
            FROM post_terms pt JOIN terms t ON t.key = pt.term WHERE pt.post = p.key) AS terms,
           NULL AS file_path
    FROM posts p LEFT JOIN raw_json r ON r."table" = 'posts' AND r.key = p.key"""
_WXR_MEDIA = """
    SELECT m.key, m.wp_id, 'attachment' AS type, m.link, m.deleted_at, m.incomplete, r.json, '[]' AS terms,
           (SELECT f.path FROM files f WHERE f.url = m.source_url AND f.sha256 IS NOT NULL) AS file_path
    FROM media m LEFT JOIN raw_json r ON r."table" = 'media' AND r.key = m.key"""

WXR_USERS_SQL = """
    SELECT u.wp_id, u.name, u.slug, r.json FROM users u LEFT JOIN raw_json r ON r."table" = 'users' AND r.key = u.key
    WHERE u.site_id = :site_id AND u.deleted_at IS NULL AND u.incomplete IS NULL ORDER BY u.wp_id"""

WXR_TERMS_SQL = """
    SELECT t.key, t.wp_id, t.taxonomy, t.name, t.slug, t.parent, p.slug AS parent_slug, r.json
    FROM terms t LEFT JOIN terms p ON p.key = t.parent LEFT JOIN raw_json r ON r."table" = 'terms' AND r.key = t.key
    WHERE t.site_id = :site_id AND t.deleted_at IS NULL AND t.incomplete IS NULL ORDER BY t.taxonomy, t.wp_id"""

# Comments of one item, threads as WordPress numbers them (a parent before its replies).
WXR_COMMENTS_SQL = """
    SELECT c.wp_id, r.json FROM comments c LEFT JOIN raw_json r ON r."table" = 'comments' AND r.key = c.key
    WHERE c.post = :post AND (c.deleted_at IS NULL OR :deleted) AND c.incomplete IS NULL AND r.json IS NOT NULL
    ORDER BY c.wp_id"""


def wxr_item_sql(*, site_id: int, post_type: str | None, since: str | None,
                 include_deleted: bool) -> list[tuple[str, str, dict[str, Any]]]:
    """The queries streaming one site's items to a WXR file, each in WordPress id order (posts and
    pages, then attachments, to be merged by id), as (items SQL, count SQL, parameters)."""
    conditions = ["site_id = :site_id"]
    params: dict[str, Any] = {"site_id": site_id}
    if not include_deleted:
        conditions.append("deleted_at IS NULL")
    if since:
        conditions.append("date_gmt >= :since")
        params["since"] = since
    where = " AND ".join(conditions)
    queries = []
    if post_type != "attachment":
        typed = where + (" AND type = :type" if post_type else "")
        queries.append((f"{_WXR_POSTS} WHERE p.{typed.replace(' AND ', ' AND p.')} ORDER BY p.wp_id",
                        f"SELECT count(*) FROM posts WHERE {typed}", {**params, "type": post_type}))
    if post_type in (None, "attachment"):
        queries.append((f"{_WXR_MEDIA} WHERE m.{where.replace(' AND ', ' AND m.')} ORDER BY m.wp_id",
                        f"SELECT count(*) FROM media WHERE {where}", params))
    return queries


WXR_ITEM_SQL = [f"{_WXR_POSTS} WHERE p.site_id = :site_id AND p.wp_id = :wp_id",
                f"{_WXR_MEDIA} WHERE m.site_id = :site_id AND m.wp_id = :wp_id"]
