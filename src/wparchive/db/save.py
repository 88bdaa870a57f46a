"""Saving pages of records: upserts that keep earlier versions, log changes, and mark removals."""

from __future__ import annotations

import json
from operator import itemgetter
from typing import Any, Iterable, Iterator

from sqlite_utils.db import Database

from ..rows import Record, raw_json_of, sha256_hex
from .runs import set_sync_state
from .schema import scope

# Tables whose items carry modified_gmt, the change signal WordPress maintains for them.
# Do not hash content.rendered for the others' sake: galleries get new ids on every request.
MODIFIED_TABLES = frozenset({"posts", "media"})


def signature_column(table: str) -> str:
    """The column that changes when WordPress changes an item of this table."""
    return "modified_gmt" if table in MODIFIED_TABLES else "raw_sha256"


def keeps_stored(table: str, signature: Any, incomplete: Any, row: dict[str, Any]) -> bool:
    """Whether a row arriving for a stored record leaves it as it is (signature and incomplete are the
    stored one's): the same change signature, or only part of an item where the whole one is kept."""
    cut = row.get("incomplete") is not None
    # Part of an item is no news about it, whatever it says (the whole item is kept); the whole
    # item replaces its part, though its modified_gmt is the same.
    return (cut and incomplete is None) or (signature == row.get(signature_column(table))
                                            and (cut or incomplete is None))


def save_page(
    db: Database, records: Iterable[Record], *, run_id: int, at: str, site_id: int, table: str,
    collection: str, track_seen: bool = False, resume_page: int | None = None,
) -> tuple[dict[str, int], list[str]]:
    """Save a page of records in one transaction.

    Returns counts of new, updated, unchanged and revived records, and the keys of those written.

    An updated record's previous state goes to versions first; every change is logged in changes.
    A record that arrived incomplete never replaces one that arrived whole, and a whole one always
    replaces an incomplete one. With track_seen, the keys join the running full pass; resume_page
    is committed with the page, so an interrupted pass continues after the last page that is
    really in the database.
    """
    records = list(records)
    counts = {"new": 0, "updated": 0, "unchanged": 0, "revived": 0}
    with db.atomic():
        existing = _existing(db, table, [r.key for r in records])
        changed: list[Record] = []
        revived_unchanged: list[str] = []
        log: list[tuple[str, str]] = []
        for record in records:
            before = existing.get(record.key)
            if before is None:
                counts["new"] += 1
                changed.append(record)
                log.append((record.key, "new"))
                continue
            signature, deleted_at, incomplete = before
            if deleted_at is not None:
                counts["revived"] += 1
                log.append((record.key, "revived"))
            if keeps_stored(table, signature, incomplete, record.row):
                counts["unchanged"] += 1
                if deleted_at is not None:
                    revived_unchanged.append(record.key)
                continue
            counts["updated"] += 1
            changed.append(record)
            log.append((record.key, "updated"))
        updated = [key for key, change in log if change == "updated"]
        if updated:
            keep_versions(db, table, updated, run_id=run_id, at=at)
        if changed:
            _write(db, table, changed)
        if revived_unchanged:
            _where_in(db, f'UPDATE "{table}" SET deleted_at = NULL, deleted_run_id = NULL WHERE key IN', revived_unchanged)
        if log:
            _log_changes(db, table, log, run_id=run_id, site_id=site_id, at=at)
        if track_seen and records:
            db.conn.executemany(
                "INSERT OR IGNORE INTO sweep_seen (site_id, collection, key) VALUES (?, ?, ?)",
                [(site_id, collection, r.key) for r in records])
        if resume_page is not None:
            set_sync_state(db, site_id, collection, table, at, resume_page=resume_page)
    return counts, [r.key for r in changed]


def rewrite_derived(db: Database, records: list[Record]) -> None:
    """Replace the derived columns and child rows of records in one transaction.

    Provenance, tombstones and history stay as they are: the raw JSON is the same, only our
    reading of it changes.
    """
    if records:
        with db.atomic():
            _write(db, records[0].table, records, keep_tombstones=True)


def raw_records(db: Database, table: str, batch: int = 500) -> Iterator[list[tuple[str, str, dict[str, Any], int]]]:
    """The stored raw JSON of a table in batches: (key, json, provenance fields, site id)."""
    sql = (f'SELECT r.key, r.json, t.site_id, t.response_url, t.fetched_at, t.run_id, t.warc_record_id '
           f'FROM raw_json r JOIN "{table}" t ON t.key = r.key WHERE r."table" = ? ORDER BY r.key')
    cursor = db.execute(sql, [table])
    while rows := cursor.fetchmany(batch):
        yield [(row[0], row[1], {"response_url": row[3], "fetched_at": row[4], "run_id": row[5],
                                 "warc_record_id": row[6]}, row[2]) for row in rows]


def save_revisions(db: Database, table: str, key: str, revisions: list[dict[str, Any]], *, run_id: int,
                   at: str) -> int:
    """Keep WordPress's revisions of a record in versions, each once; returns how many were new."""
    known = {row[0] for row in db.execute(
        "SELECT revision_id FROM versions WHERE \"table\" = ? AND key = ? AND revision_id IS NOT NULL", [table, key])}
    rows = [
        {"table": table, "key": key, "run_id": run_id, "replaced_at": at, "source": "revision",
         "revision_id": revision["id"], "modified_gmt": revision.get("modified_gmt"),
         "raw_sha256": sha256_hex(raw_json_of(revision)), "json": raw_json_of(revision)}
        for revision in revisions if isinstance(revision.get("id"), int) and revision["id"] not in known
    ]
    if rows:
        with db.atomic():
            db.table("versions").insert_all(rows)
    return len(rows)


def mark_deleted(db: Database, table: str, keys: list[str], *, run_id: int, at: str, site_id: int) -> int:
    """Tombstone records the site no longer serves (rows are never deleted); returns how many were
    live until now (a key already tombstoned, or unknown, is neither counted nor logged again)."""
    if not keys:
        return 0
    with db.atomic():
        marks = ",".join("?" * len(keys))
        gone = [row[0] for row in db.execute(
            f'UPDATE "{table}" SET deleted_at = ?, deleted_run_id = ? WHERE deleted_at IS NULL AND key IN ({marks}) '
            "RETURNING key", [at, run_id, *keys]).fetchall()]
        if gone:
            _log_changes(db, table, [(key, "deleted") for key in gone], run_id=run_id, site_id=site_id, at=at)
    return len(gone)


def unseen_live_keys(db: Database, *, site_id: int, table: str, collection: str) -> list[str]:
    """Live records of a collection that the full pass in progress has not seen."""
    where, params = scope(table, collection, site_id)
    sql = (f'SELECT key FROM "{table}" WHERE {where} AND deleted_at IS NULL AND key NOT IN '
           "(SELECT key FROM sweep_seen WHERE site_id = ? AND collection = ?)")
    return [row[0] for row in db.execute(sql, [*params, site_id, collection])]


def clear_seen(db: Database, site_id: int, collection: str) -> None:
    """Forget the keys of a finished or abandoned full pass."""
    with db.atomic():
        db.execute("DELETE FROM sweep_seen WHERE site_id = ? AND collection = ?", [site_id, collection])


def live_signatures(db: Database, *, site_id: int, table: str, collection: str) -> dict[str, Any]:
    """Key → change signature of every record of a collection the site still serves."""
    where, params = scope(table, collection, site_id)
    sql = f'SELECT key, {signature_column(table)} FROM "{table}" WHERE {where} AND deleted_at IS NULL'
    return {key: value for key, value in db.execute(sql, params)}


def _existing(db: Database, table: str, keys: list[str]) -> dict[str, tuple[Any, Any, Any]]:
    if not keys:
        return {}
    marks = ",".join("?" * len(keys))
    sql = f'SELECT key, {signature_column(table)}, deleted_at, incomplete FROM "{table}" WHERE key IN ({marks})'
    return {row[0]: (row[1], row[2], row[3]) for row in db.execute(sql, keys)}


def _log_changes(db: Database, table: str, log: list[tuple[str, str]], *, run_id: int, site_id: int,
                 at: str) -> None:
    """One changes row per (key, change): new, updated, revived, deleted."""
    write_rows(db, "changes", [{"run_id": run_id, "site_id": site_id, "table": table, "key": key, "change": change,
                             "at": at} for key, change in log])


def keep_versions(db: Database, table: str, keys: list[str], *, run_id: int | None, at: str | None,
                  once: bool = False) -> None:
    """Copy the stored state of records to versions before a newer one replaces it (by run_id, at at).

    once leaves out a state versions already holds (the same run saw the same JSON): a merge meets
    states that the archive merged in kept already.
    """
    modified = "t.modified_gmt" if table in MODIFIED_TABLES else "NULL"
    marks = ",".join("?" * len(keys))
    kept = ('AND NOT EXISTS (SELECT 1 FROM versions v WHERE v."table" = ? AND v.key = t.key '
            "AND v.run_id IS t.run_id AND v.raw_sha256 IS t.raw_sha256)") if once else ""
    db.execute(
        f'INSERT INTO versions ("table", key, run_id, replaced_by_run_id, replaced_at, source, modified_gmt, '
        f"raw_sha256, json) SELECT ?, t.key, t.run_id, ?, ?, 'rest', {modified}, t.raw_sha256, r.json "
        f'FROM "{table}" t LEFT JOIN raw_json r ON r."table" = ? AND r.key = t.key WHERE t.key IN ({marks}) {kept}',
        [table, run_id, at, table, *keys, *([table] if once else [])])


def _write(db: Database, table: str, records: list[Record], *, keep_tombstones: bool = False) -> None:
    revive = {} if keep_tombstones else {"deleted_at": None, "deleted_run_id": None}
    # incomplete is set on every row written, so that a whole item clears the mark of its part
    write_rows(db, table, [{**r.row, "incomplete": r.row.get("incomplete"), **revive} for r in records],
            upsert_on=("key",))
    write_rows(db, "raw_json",
            [{"table": table, "key": r.key, "json": r.raw_json, "sha256": r.row["raw_sha256"]} for r in records],
            upsert_on=("table", "key"))
    keys = [r.key for r in records]
    for child_table in sorted({name for r in records for name in r.children}):
        _where_in(db, f'DELETE FROM "{child_table}" WHERE post IN', keys)
        rows = [row for r in records for row in r.children.get(child_table, [])]
        if rows:
            write_rows(db, child_table, rows)


def write_rows(db: Database, table: str, rows: list[dict[str, Any]], upsert_on: tuple[str, ...] = ()) -> None:
    """Insert rows (or update those whose upsert_on columns match) with one executemany.

    sqlite-utils' own upsert_all cost more than all the SQLite work of a page; it is still what
    adds a column a row brings that the table lacks (a plugin's new field).
    """
    first = rows[0].keys()
    if all(row.keys() == first for row in rows):  # rows built by one function: compared in C
        columns = list(first)
    else:
        columns = list(dict.fromkeys(column for row in rows for column in row))
    if not set(db.table(table).columns_dict).issuperset(columns):
        if upsert_on:
            db.table(table).upsert_all(rows, pk=upsert_on, alter=True)
        else:
            db.table(table).insert_all(rows, alter=True)
        return
    names = ", ".join(f'"{column}"' for column in columns)
    sql = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'
    if upsert_on:
        updates = ", ".join(f'"{column}" = excluded."{column}"' for column in columns if column not in upsert_on)
        on = ", ".join(f'"{column}"' for column in upsert_on)
        sql += f" ON CONFLICT ({on}) DO UPDATE SET {updates}" if updates else f" ON CONFLICT ({on}) DO NOTHING"
    db.conn.executemany(sql, _values(rows, columns))


_STRUCTURED = (list, dict, tuple)


def _values(rows: list[dict[str, Any]], columns: list[str]) -> list[list[Any]]:
    """Rows as lists of values in column order; lists and dicts as JSON text, as sqlite-utils
    stores them (Datasette reads them back)."""
    # A column holds lists or dicts if its first value is one; a column that starts with None
    # may hold them further down. Only those are looked at in every row.
    first = rows[0]
    structured = [i for i, column in enumerate(columns)
                  if isinstance(first.get(column), _STRUCTURED)
                  or (first.get(column) is None and any(isinstance(row.get(column), _STRUCTURED) for row in rows))]
    if all(len(row) == len(columns) for row in rows):
        pick = itemgetter(*columns)
        values = [list(pick(row)) if len(columns) > 1 else [pick(row)] for row in rows]
    else:
        values = [[row.get(column) for column in columns] for row in rows]
    for row in values:
        for i in structured:
            if isinstance(row[i], _STRUCTURED):
                row[i] = json.dumps(row[i], default=repr, ensure_ascii=False)
    return values


def _where_in(db: Database, sql_prefix: str, values: list[str], before: list[Any] | None = None) -> None:
    marks = ",".join("?" * len(values))
    db.execute(f"{sql_prefix} ({marks})", [*(before or []), *values])


def media_sources(db: Database, site_id: int) -> list[str]:
    """Every attachment and in-content image URL of a site, attachments first."""
    sql = """
        SELECT source_url FROM media WHERE site_id = ? AND deleted_at IS NULL AND source_url LIKE 'http%'
        UNION
        SELECT i.src FROM images i JOIN posts p ON p.key = i.post
        WHERE p.site_id = ? AND p.deleted_at IS NULL AND i.src LIKE 'http%'"""
    return list(dict.fromkeys(row[0] for row in db.execute(sql, [site_id, site_id])))


def fetched_links(db: Database, site_id: int, run_id: int) -> tuple[str | None, list[str]]:
    """A site's home and the addresses of its live posts and pages that a run stored, oldest first."""
    home = db.execute("SELECT home FROM sites WHERE id = ?", [site_id]).fetchone()
    sql = ("SELECT link FROM posts WHERE site_id = ? AND run_id = ? AND deleted_at IS NULL AND link LIKE 'http%' "
           "ORDER BY date_gmt, key")
    return (home[0] if home else None), list(dict.fromkeys(row[0] for row in db.execute(sql, [site_id, run_id])))


def known_files(db: Database) -> set[str]:
    """URLs already downloaded (failures are tried again)."""
    return {row[0] for row in db.execute("SELECT url FROM files WHERE sha256 IS NOT NULL")}


def save_file(db: Database, row: dict[str, Any]) -> None:
    """Record a downloaded file, or why it could not be downloaded."""
    with db.atomic():
        db.table("files").upsert(row, pk="url")
