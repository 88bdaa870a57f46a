"""Embeddings of posts and pages (which need (re)computing, saving them, what reading them takes), and
what is derived from them or from the same texts: related posts, near-duplicates.

The vectors are computed elsewhere (wparchive.meaning); storage sees only their bytes and hashes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from sqlite_utils import Database

# Live posts and pages with the text embedded, and the hash of what their stored vector (of the
# model asked) was computed from, if any. Every text is read and hashed: a rebuild changes the
# cleaned text without changing the raw JSON, so raw_sha256 or modified_gmt cannot tell.
_CANDIDATES = """
    SELECT p.key, p.title, substr(p.content_text, 1, :chars) AS content_text, e.text_sha256 AS stored_sha256
    FROM posts p LEFT JOIN embeddings e ON e.key = p.key AND e.model = :model
    WHERE p.deleted_at IS NULL AND p.incomplete IS NULL ORDER BY p.rowid"""

# Vectors of posts the archive no longer holds live, or of a model not asked for.
_STALE = """
    DELETE FROM embeddings WHERE model IS NOT :model
       OR key NOT IN (SELECT key FROM posts WHERE deleted_at IS NULL AND incomplete IS NULL)"""


_TEXTS = """
    SELECT p.key, p.title, substr(p.content_text, 1, :chars) AS content_text
    FROM json_each(:keys) wanted JOIN posts p ON p.key = wanted.value"""


def ensure_vector_index(db: Database) -> None:
    """Index the embeddings by model: a search counts them (and reads their last generation) on
    every query, which without it reads every vector's row."""
    db.execute("CREATE INDEX IF NOT EXISTS embeddings_model ON embeddings (model, dims, generation)")


def embedding_candidates(db: Database, model: str, chars: int) -> Iterator[dict[str, Any]]:
    """Every live post and page: key, title, the first chars of content_text, and stored_sha256,
    the text hash of its vector by model (None when it has none)."""
    return _rows(db, _CANDIDATES, {"model": model, "chars": chars})


def texts_of(db: Database, keys: list[str], chars: int) -> list[dict[str, Any]]:
    """The key, title and first chars of content_text of these posts."""
    return list(_rows(db, _TEXTS, {"keys": json.dumps(keys), "chars": chars}))


def _rows(db: Database, sql: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    for row in cursor:
        yield dict(zip(names, row, strict=True))


def save_embeddings(db: Database, rows: Iterable[dict[str, Any]]) -> int:
    """Write vectors (key, model, dims, vector bytes, text_sha256, generation) in one transaction."""
    rows = list(rows)
    with db.atomic():
        db.conn.executemany("INSERT INTO embeddings (key, model, dims, vector, text_sha256, generation) "
                       "VALUES (:key, :model, :dims, :vector, :text_sha256, :generation) "
                       "ON CONFLICT (key) DO UPDATE SET model = excluded.model, dims = excluded.dims, "
                       "vector = excluded.vector, text_sha256 = excluded.text_sha256, "
                       "generation = excluded.generation", rows)
    return len(rows)


def drop_stale_embeddings(db: Database, model: str) -> int:
    """Delete the vectors of posts no longer live and of other models; how many went."""
    with db.atomic():
        return int(db.execute(_STALE, {"model": model}).rowcount)


_LIVE_VECTORS = """
    SELECT e.key, p.site_id, e.vector FROM embeddings e JOIN posts p ON p.key = e.key
    WHERE e.model = :model AND e.dims = :dims AND p.deleted_at IS NULL AND p.incomplete IS NULL ORDER BY p.rowid"""


def live_vectors(db: Database, model: str, dims: int) -> list[tuple[str, int, bytes]]:
    """Every live post's vector by model: key, site id, vector bytes."""
    return [(key, site_id, vector) for key, site_id, vector
            in db.execute(_LIVE_VECTORS, {"model": model, "dims": dims})]


def replace_related(db: Database, rows: Iterable[tuple[str, int, str, float]]) -> int:
    """Replace the related table with rows (key, rank, related key, similarity), in one transaction."""
    with db.atomic():
        db.execute("DELETE FROM related")
        return int(db.conn.executemany("INSERT INTO related (key, rank, related, similarity) VALUES (?, ?, ?, ?)",
                                       rows).rowcount)


def has_related(db: Database) -> bool:
    """Whether the related table holds any row."""
    return db.execute("SELECT EXISTS (SELECT 1 FROM related)").fetchone()[0] == 1


_LIVE_TEXTS = """
    SELECT key, title, substr(content_text, 1, :chars) AS content_text FROM posts
    WHERE deleted_at IS NULL AND incomplete IS NULL ORDER BY rowid"""


def live_texts(db: Database, chars: int) -> Iterator[dict[str, Any]]:
    """Every live post and page: key, title and the first chars of content_text, in the order stored."""
    return _rows(db, _LIVE_TEXTS, {"chars": chars})


def replace_duplicates(db: Database, rows: Iterable[tuple[str, str, float]]) -> int:
    """Replace the duplicates table with rows (key, group key, similarity), in one transaction."""
    with db.atomic():
        db.execute("DELETE FROM duplicates")
        return int(db.conn.executemany("INSERT INTO duplicates (key, group_key, similarity) VALUES (?, ?, ?)",
                                       rows).rowcount)
