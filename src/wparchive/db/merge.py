"""Folding one archive into another (`wparchive merge`): sites, runs, records with their history and
tombstones, errors, sync state, downloaded files and vectors, every id renumbered so that none collides.

Nothing is brought in twice, so merging a file again changes nothing, and merging a newer harvest of
it brings in only what is new. What identifies a thing across archives:
- a site, its home (else its API root), as a harvest finds it again;
- a run, its site URL and start time (to the second), and its place among the runs of that URL that
  started in that second (its site, known only once it ends, may be unknown on either side);
- a record, its site and WordPress id (its key, renumbered with the site); the state last seen wins:
  when each was fetched, deleted, or last changed (the changes log), whichever is latest, and within
  one second the later run;
- a version, its record, the run that saw it and the SHA-256 of its JSON;
- an error, its run, collection, URL, reason, message and time; a change, its run, record, kind and time.
The related posts and near-duplicates are found across the whole archive: a merge that changes the
posts or their vectors empties them, and the next `wparchive embed` finds them again.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlite_utils.db import Database

from ..errors import ArchiveMissing, NotAnArchive, WPArchiveError, archive_error
from ..progress import Progress, SilentProgress
from .save import keep_versions, keeps_stored, signature_column, write_rows
from .schema import BUSY_TIMEOUT_MS, RECORD_TABLES, SCHEMA_VERSION, ensure_indexes
from .vectors import ensure_vector_index

BATCH = 500

# The columns of each table that hold record keys ("<site id>-<WordPress id>"), renumbered with the site.
KEY_COLUMNS = {
    "users": ("key",),
    "terms": ("key", "parent"),
    "posts": ("key", "author", "parent", "featured_media"),
    "media": ("key", "author", "post"),
    "comments": ("key", "post", "parent", "author"),
    "post_terms": ("post", "term"),
    "links": ("post", "target", "target_hint"),
    "images": ("post", "media"),
    "embeds": ("post",),
    "versions": ("key",),
    "changes": ("key",),
    "raw_json": ("key",),
    "sweep_seen": ("key",),
    "embeddings": ("key",),
}
RUN_COLUMNS = ("run_id", "deleted_run_id", "replaced_by_run_id", "resolved_run_id", "complete_run_id", "pass_run_id",
               "changed_run_id")
# Rows that hang off a post, replaced with it.
CHILD_TABLES = ("post_terms", "links", "images", "embeds")


@dataclass
class MergeCounts:
    """What merging one archive brought in."""

    sites: int = 0
    new_sites: int = 0
    new: int = 0  # records
    updated: int = 0
    tombstones: int = 0  # records that arrived deleted, or that the site no longer serves
    revived: int = 0
    runs: int = 0
    versions: int = 0
    errors: int = 0
    files: int = 0
    file_paths: list[str] = field(default_factory=list)  # in the media folder, of every file the source has
    vectors: int = 0
    # Vectors of another model than the archive's, by model: not brought in (embed makes them anew).
    other_vectors: Counter[str] = field(default_factory=Counter)
    model: str | None = None  # the archive's model
    derived_emptied: bool = False  # related posts and near-duplicates emptied: embed finds them again


def open_source(path: str) -> sqlite3.Connection:
    """An archive to merge from, opened read-only; NotAnArchive if it is none, or of a newer schema."""
    if not os.path.isfile(path):
        raise ArchiveMissing(f"{path} does not exist" if not os.path.exists(path) else f"{path} is not a file")
    try:
        conn = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        raise _source_error(exc, path) from None
    if version > SCHEMA_VERSION:
        conn.close()
        raise NotAnArchive(f"{path} was written by a newer wparchive (schema {version}): not merged; "
                           "a wparchive as new merges it", hint="")
    if not {"sites", "harvest_runs"} <= tables:
        conn.close()
        raise NotAnArchive(f"{path} is not a wparchive archive (it has no harvest_runs table): not merged", hint="")
    return conn


def _source_error(exc: sqlite3.DatabaseError, path: str) -> WPArchiveError:
    error = archive_error(exc, path)
    if isinstance(error, NotAnArchive):
        return NotAnArchive(f"{error}: not merged", hint="")
    return error


def merge_archive(db: Database, source: sqlite3.Connection, *, label: str,
                  progress: Progress | None = None) -> MergeCounts:
    """Fold the archive source into db in one transaction, reading source as one snapshot.

    label names source in progress and errors.
    """
    progress = progress or SilentProgress()
    ensure_indexes(db)  # what the merge looks things up by, in an archive still new
    merging = _Merge(db, source, label)
    source.execute("BEGIN")  # one snapshot, whatever a harvest writes into the file meanwhile
    try:
        with db.atomic():
            merging.run(progress)
    except sqlite3.DatabaseError as exc:
        # a full disk or read-only storage is the archive's, which alone is written
        writing = getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_FULL", "SQLITE_READONLY"))
        raise archive_error(exc, db.execute("PRAGMA database_list").fetchone()[2] if writing else label) from exc
    finally:
        source.execute("ROLLBACK")
    return merging.counts


def _last_seen(row: dict[str, Any]) -> tuple[str, int]:
    """When a record was last seen as it stands (fetched, deleted, or changed), and by which run (of the
    target's numbering): times are kept to the second, and two runs of one site may share one; the
    later run of a site has the greater id."""
    return max((row[at] or "", row[run] or 0) for at, run in (
        ("fetched_at", "run_id"), ("deleted_at", "deleted_run_id"), ("changed_at", "changed_run_id")))


def _state_time(state: dict[str, Any]) -> tuple[str, int]:
    """When a sync state was last written, and by which run (as in _last_seen)."""
    return state["updated_at"] or "", max(state["complete_run_id"] or 0, state["pass_run_id"] or 0)


class _Ids:
    """Source ids to the target's: sites, runs, and the keys that start with a site id."""

    def __init__(self) -> None:
        self.sites: dict[int, int] = {}
        self.runs: dict[int, int] = {}

    def key(self, key: Any) -> Any:
        if not isinstance(key, str):
            return key
        head, dash, rest = key.partition("-")
        site = self.sites.get(int(head)) if dash and head.isdigit() else None
        return key if site is None else f"{site}-{rest}"

    def row(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        """The row with its site, runs and keys renumbered."""
        row = dict(row)
        for column in KEY_COLUMNS.get(table, ()):
            if column in row:
                row[column] = self.key(row[column])
        for column in RUN_COLUMNS:
            if row.get(column) is not None:
                row[column] = self.runs.get(row[column])
        if row.get("site_id") is not None:
            row["site_id"] = self.sites.get(row["site_id"])
        return row


class _Merge:
    def __init__(self, db: Database, source: sqlite3.Connection, label: str) -> None:
        self.db, self.source, self.label = db, source, label
        self.ids = _Ids()
        self.counts = MergeCounts()
        self.tables = {row[0] for row in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        self.written_posts: set[str] = set()  # target keys of posts written or tombstoned

    def run(self, progress: Progress) -> None:
        before = {table: self._count(table) for table in ("harvest_runs", "versions", "harvest_errors")}
        self._sites()
        self._runs()
        self._run_collections()
        self._errors()
        # before the records: a state replaced is kept once, whichever side kept it
        self._log("versions", ("run_id", "source", "revision_id", "raw_sha256"))
        total = sum(self._source_count(table) for table in RECORD_TABLES if table in self.tables)
        progress.begin(self.label, total)
        for table in RECORD_TABLES:
            if table in self.tables:
                for done in self._records(table):
                    progress.advance(done)
        progress.end(self.label)
        # after the records: until then the target's log says when it last saw each
        self._log("changes", ("run_id", "change", "at"))
        self._sync_state()
        self._files()
        self._vectors()
        if self.written_posts or self.counts.vectors:
            self.counts.derived_emptied = self._empty_derived()
        self.counts.runs = self._count("harvest_runs") - before["harvest_runs"]
        self.counts.versions = self._count("versions") - before["versions"]
        self.counts.errors = self._count("harvest_errors") - before["harvest_errors"]

    # Reading

    def _read(self, sql: str, params: Iterable[Any] = ()) -> Iterator[list[dict[str, Any]]]:
        """Rows of the source as dicts, BATCH at a time."""
        cursor = self.source.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        while rows := cursor.fetchmany(BATCH):
            yield [dict(zip(names, row, strict=True)) for row in rows]

    def _target(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.db.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _count(self, table: str) -> int:
        return int(self.db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])

    def _source_count(self, table: str) -> int:
        return int(self.source.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])

    # Sites and runs

    def _sites(self) -> None:
        for batch in self._read("SELECT * FROM sites ORDER BY id"):
            for site in batch:
                found = self._target("SELECT * FROM sites WHERE home = ?", [site["home"]]) or (
                    self._target("SELECT * FROM sites WHERE api_root = ? ORDER BY id LIMIT 1", [site["api_root"]])
                    if site.get("api_root") else [])
                self.counts.sites += 1
                values = {k: v for k, v in site.items() if k != "id"}
                if not found:
                    write_rows(self.db, "sites", [values])
                    self.ids.sites[site["id"]] = int(self.db.execute("SELECT last_insert_rowid()").fetchone()[0])
                    self.counts.new_sites += 1
                    continue
                known = found[0]
                self.ids.sites[site["id"]] = known["id"]
                # The newer harvest describes the site; it was first harvested when either side first did.
                newer = (site.get("last_harvested") or "") > (known.get("last_harvested") or "")
                update = {k: v for k, v in values.items() if k != "home"} if newer else {}
                first = min(filter(None, (site.get("first_harvested"), known.get("first_harvested"))), default=None)
                update["first_harvested"] = first
                update = {k: v for k, v in update.items() if known.get(k, v) != v or k not in known}
                if update:
                    self.db.table("sites").update(known["id"], update, alter=True)

    def _runs(self) -> None:
        earlier: Counter[tuple[Any, Any]] = Counter()  # runs of one URL started in one second, so far
        for batch in self._read("SELECT * FROM harvest_runs ORDER BY id"):
            for run in batch:
                values = self.ids.row("harvest_runs", {k: v for k, v in run.items() if k != "id"})
                same = (run["site_url"], run["started_at"])
                found = self.db.execute(
                    "SELECT id FROM harvest_runs WHERE site_url IS ? AND started_at IS ? "
                    "AND (site_id IS NULL OR ? IS NULL OR site_id = ?) ORDER BY id LIMIT 1 OFFSET ?",
                    [*same, values.get("site_id"), values.get("site_id"), earlier[same]]).fetchone()
                earlier[same] += 1
                if found is None:
                    write_rows(self.db, "harvest_runs", [values])
                    self.ids.runs[run["id"]] = int(self.db.execute("SELECT last_insert_rowid()").fetchone()[0])
                    continue
                self.ids.runs[run["id"]] = found[0]
                # The same run, seen again: as it stands now (a run merged while running has ended since).
                if values.get("site_id") is None:
                    values.pop("site_id", None)
                self._update_changed("harvest_runs", "id", found[0], values)

    def _update_changed(self, table: str, pk: str, pk_value: Any, values: dict[str, Any]) -> None:
        """Update the columns whose values differ (none: the row is left untouched)."""
        current = self._target(f'SELECT * FROM "{table}" WHERE "{pk}" = ?', [pk_value])[0]
        changed = {k: v for k, v in values.items() if k not in current or current[k] != v}
        if changed:
            self.db.table(table).update(pk_value, changed, alter=True)

    def _run_collections(self) -> None:
        """What each run did per collection, as the source says (the same run says the same)."""
        if "run_collections" not in self.tables:
            return
        for batch in self._read("SELECT * FROM run_collections"):
            rows = [row for row in (self.ids.row("run_collections", row) for row in batch) if row["run_id"] is not None]
            if rows:
                write_rows(self.db, "run_collections", rows, upsert_on=("run_id", "collection"))

    def _errors(self) -> None:
        if "harvest_errors" not in self.tables:
            return
        identity = ("collection", "url", "reason", "message", "at")
        for batch in self._read("SELECT * FROM harvest_errors ORDER BY id"):
            rows = [self.ids.row("harvest_errors", {k: v for k, v in row.items() if k != "id"}) for row in batch]
            for run_id in {row["run_id"] for row in rows}:
                known = {tuple(e[c] for c in identity): e for e in self._target(
                    "SELECT * FROM harvest_errors WHERE run_id IS ?", [run_id])}
                new = []
                for row in (r for r in rows if r["run_id"] == run_id):
                    found = known.get(tuple(row.get(c) for c in identity))
                    if found is None:
                        new.append(row)
                    elif found["resolved_run_id"] is None and row.get("resolved_run_id") is not None:
                        # a later run of the source fetched the failed page after all
                        self.db.table("harvest_errors").update(found["id"], {"resolved_run_id": row["resolved_run_id"]})
                if new:
                    write_rows(self.db, "harvest_errors", new)

    # History

    def _log(self, table: str, identity: tuple[str, ...]) -> None:
        """Append the rows of a log of records (versions, changes) that the target lacks; identity: the
        columns that make two rows one, besides their record's table and key."""
        if table not in self.tables:
            return
        columns = ("table", "key", *identity)
        names = ", ".join(f'"{column}"' for column in columns)
        for batch in self._read(f'SELECT * FROM "{table}" ORDER BY id'):
            rows = [self.ids.row(table, {k: v for k, v in row.items() if k != "id"}) for row in batch]
            new = []
            for record_table in {row["table"] for row in rows}:
                of_table = [row for row in rows if row["table"] == record_table]
                keys = sorted({row["key"] for row in of_table})
                known = {tuple(row.values()) for row in self._target(
                    f'SELECT {names} FROM "{table}" WHERE "table" = ? AND key IN ({",".join("?" * len(keys))})',
                    [record_table, *keys])}
                for row in of_table:
                    if (found := tuple(row.get(column) for column in columns)) not in known:
                        known.add(found)
                        new.append(row)
            if new:
                write_rows(self.db, table, new)

    # Records

    def _records(self, table: str) -> Iterator[int]:
        """Merge one table of records, batch by batch; yields how many were looked at."""
        signature = signature_column(table)
        # When, and by which run, the source last saw each record change (new, updated, revived, deleted):
        # one pass over its log, in order, the last of each key kept.
        changed = {key: (at, run_id) for key, at, run_id in self.source.execute(
            'SELECT key, at, run_id FROM changes WHERE "table" = ? ORDER BY at, run_id', [table])} \
            if "changes" in self.tables else {}
        columns = f'key, "{signature}" AS signature, incomplete, fetched_at, deleted_at, deleted_run_id, run_id'
        if "incomplete" not in self._source_columns(table):  # an archive of schema 1 or 2
            columns = columns.replace("incomplete", "NULL AS incomplete")
        for batch in self._read(f'SELECT {columns} FROM "{table}" ORDER BY rowid'):
            for row in batch:
                row["changed_at"], row["changed_run_id"] = changed.get(row["key"], (None, None))
                row["seen"] = _last_seen(self.ids.row(table, row))
            by_key = {self.ids.key(row["key"]): row for row in batch}
            stored = self._stored(table, signature, list(by_key))
            write: list[str] = []
            for key, row in by_key.items():
                before = stored.get(key)
                mapped = self.ids.row(table, row)
                if before is None:
                    self.counts.new += 1
                    self.counts.tombstones += row["deleted_at"] is not None
                    write.append(row["key"])
                elif row["seen"] <= before["seen"]:
                    continue  # the target saw it as late or later
                elif keeps_stored(table, before["signature"], before["incomplete"],
                                  {signature: row["signature"], "incomplete": row["incomplete"]}):
                    self._served_or_not(table, key, before, mapped)
                else:
                    self.counts.updated += 1
                    self.counts.tombstones += row["deleted_at"] is not None and before["deleted_at"] is None
                    self.counts.revived += row["deleted_at"] is None and before["deleted_at"] is not None
                    keep_versions(self.db, table, [key], run_id=mapped["run_id"], at=row["fetched_at"], once=True)
                    write.append(row["key"])
            self._write(table, write)
            yield len(batch)

    def _served_or_not(self, table: str, key: str, before: dict[str, Any], row: dict[str, Any]) -> None:
        """The same record, seen later by the source: only whether the site still served it may differ."""
        if (row["deleted_at"] is None) == (before["deleted_at"] is None):
            return
        self.counts.tombstones += row["deleted_at"] is not None
        self.counts.revived += row["deleted_at"] is None
        self.db.execute(f'UPDATE "{table}" SET deleted_at = ?, deleted_run_id = ? WHERE key = ?',
                        [row["deleted_at"], row["deleted_run_id"], key])
        if table == "posts":
            self.written_posts.add(key)

    def _stored(self, table: str, signature: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The target's records of these keys: signature, incomplete, tombstone, and when last seen."""
        marks = ",".join("?" * len(keys))
        last_change = 'FROM changes c WHERE c.key = t.key AND c."table" = ? ORDER BY c.at DESC, c.run_id DESC LIMIT 1'
        rows = self._target(
            f'SELECT t.key, t."{signature}" AS signature, t.incomplete, t.fetched_at, t.run_id, t.deleted_at, '
            f"t.deleted_run_id, (SELECT c.at {last_change}) AS changed_at, (SELECT c.run_id {last_change}) "
            f'AS changed_run_id FROM "{table}" t WHERE t.key IN ({marks})', [table, table, *keys])
        return {row["key"]: {**row, "seen": _last_seen(row)} for row in rows}

    def _write(self, table: str, source_keys: list[str]) -> None:
        """Copy these records whole from the source: row, raw JSON, and a post's child rows."""
        if not source_keys:
            return
        marks = ",".join("?" * len(source_keys))
        # incomplete is set on every row written (an archive of schema 1 or 2 has none): a whole item
        # clears the mark of its part
        rows = [{"incomplete": None, **self.ids.row(table, row)} for batch in self._read(
            f'SELECT * FROM "{table}" WHERE key IN ({marks})', source_keys) for row in batch]
        write_rows(self.db, table, rows, upsert_on=("key",))
        raw = [self.ids.row("raw_json", row) for batch in self._read(
            f'SELECT * FROM raw_json WHERE "table" = ? AND key IN ({marks})', [table, *source_keys]) for row in batch
        ] if "raw_json" in self.tables else []
        if raw:
            write_rows(self.db, "raw_json", raw, upsert_on=("table", "key"))
        if table != "posts":
            return
        keys = [self.ids.key(key) for key in source_keys]
        self.written_posts.update(keys)
        for child in CHILD_TABLES:
            self.db.execute(f'DELETE FROM "{child}" WHERE post IN ({marks})', keys)
            if child in self.tables:
                children = [self.ids.row(child, row) for batch in self._read(
                    f'SELECT * FROM "{child}" WHERE post IN ({marks})', source_keys) for row in batch]
                if children:
                    write_rows(self.db, child, children)

    def _source_columns(self, table: str) -> set[str]:
        return {row[1] for row in self.source.execute(f'PRAGMA table_info("{table}")')}

    # Sync state, files, vectors

    def _sync_state(self) -> None:
        """The newer sync state of each collection, with the keys its unfinished full pass has seen."""
        if "sync_state" not in self.tables:
            return
        for batch in self._read("SELECT * FROM sync_state"):
            for state in batch:
                row = self.ids.row("sync_state", state)
                known = self._target("SELECT * FROM sync_state WHERE site_id = ? AND collection = ?",
                                     [row["site_id"], row["collection"]])
                if row["site_id"] is None or (known and _state_time(known[0]) >= _state_time(row)):
                    continue
                write_rows(self.db, "sync_state", [row], upsert_on=("site_id", "collection"))
                self.db.execute("DELETE FROM sweep_seen WHERE site_id = ? AND collection = ?",
                                [row["site_id"], row["collection"]])
                if "sweep_seen" in self.tables:
                    for seen in self._read("SELECT * FROM sweep_seen WHERE site_id = ? AND collection = ?",
                                           [state["site_id"], state["collection"]]):
                        write_rows(self.db, "sweep_seen", [self.ids.row("sweep_seen", r) for r in seen])

    def _files(self) -> None:
        """Downloaded media: a file one side has and the other failed to fetch (or never tried) is had."""
        if "files" not in self.tables:
            return
        for batch in self._read("SELECT * FROM files"):
            rows = [self.ids.row("files", row) for row in batch]
            self.counts.file_paths += [row["path"] for row in rows if row.get("path") and row.get("sha256")]
            marks = ",".join("?" * len(rows))
            known = {row["url"]: row for row in self._target(
                f"SELECT url, sha256, fetched_at FROM files WHERE url IN ({marks})", [row["url"] for row in rows])}
            new = [row for row in rows if row["url"] not in known or (
                known[row["url"]]["sha256"] is None and (row.get("sha256") is not None or (
                    row.get("fetched_at") or "") > (known[row["url"]]["fetched_at"] or "")))]
            if new:
                write_rows(self.db, "files", new, upsert_on=("url",))
                self.counts.files += len(new)

    def _vectors(self) -> None:
        """Vectors of the archive's model, for posts without one or written from the source."""
        if "embeddings" not in self.tables:
            return
        model = self.db.execute("SELECT model FROM embeddings GROUP BY model ORDER BY count(*) DESC, model "
                                "LIMIT 1").fetchone() or self.source.execute(
            "SELECT model FROM embeddings GROUP BY model ORDER BY count(*) DESC, model LIMIT 1").fetchone()
        if model is None:
            return
        self.counts.model = model[0]
        ensure_vector_index(self.db)
        generation = time.time_ns()  # a new set of vectors: readers read them again (see meaning.py)
        for batch in self._read("SELECT * FROM embeddings"):
            rows = [self.ids.row("embeddings", row) for row in batch]
            for row in rows:
                if row["model"] != self.counts.model:
                    self.counts.other_vectors[row["model"]] += 1
            rows = [row for row in rows if row["model"] == self.counts.model]
            if not rows:
                continue
            marks = ",".join("?" * len(rows))
            have = {key for (key,) in self.db.execute(
                f"SELECT key FROM embeddings WHERE key IN ({marks})", [row["key"] for row in rows])}
            new = [{**row, "generation": generation} for row in rows
                   if row["key"] not in have or row["key"] in self.written_posts]
            if new:
                write_rows(self.db, "embeddings", new, upsert_on=("key",))
                self.counts.vectors += len(new)

    def _empty_derived(self) -> bool:
        """Empty the related posts and near-duplicates, found across every site: True if they held any."""
        held = self.db.execute(
            "SELECT EXISTS (SELECT 1 FROM related) OR EXISTS (SELECT 1 FROM duplicates)").fetchone()[0]
        if held:
            self.db.execute("DELETE FROM related")
            self.db.execute("DELETE FROM duplicates")
        return bool(held)
