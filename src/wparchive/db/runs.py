"""Sites, harvest runs, their errors, and the sync state that makes the next run incremental."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils.db import Database

from ..errors import FetchError
from .queries import STATUS_PARAMS, STATUS_SQL, status_rows
from .schema import scope


@dataclass
class SyncState:
    """Where a collection of a site stands between runs."""

    last_total: int | None = None
    complete_run_id: int | None = None
    pass_run_id: int | None = None
    resume_page: int | None = None


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
    with db.atomic():
        found = db.execute("SELECT id FROM sites WHERE home = ?", [home]).fetchone()
        if found:
            db.table("sites").update(found[0], row)
            return int(found[0])
        return _insert(db, "sites", {**row, "first_harvested": harvested_at})


def set_site_taxonomies(db: Database, site_id: int, taxonomy_by_rest_base: dict[str, str]) -> None:
    """Remember which REST field names which taxonomy, so rows can be rebuilt offline."""
    with db.atomic():
        db.table("sites").update(site_id, {"taxonomies": json.dumps(taxonomy_by_rest_base)})


def site_contexts(db: Database) -> list[dict[str, Any]]:
    """Every site's id, home, API root and taxonomy map, as stored."""
    rows = db.execute("SELECT id, home, url, api_root, taxonomies FROM sites ORDER BY id").fetchall()
    return [{"id": r[0], "home": r[1], "url": r[2], "api_root": r[3], "taxonomies": json.loads(r[4] or "{}")}
            for r in rows]


def known_api_root(db: Database, site_url: str) -> str | None:
    """The API root an earlier successful run found from this URL, to try before discovering again."""
    row = db.execute(
        "SELECT s.api_root FROM harvest_runs r JOIN sites s ON s.id = r.site_id "
        "WHERE r.site_url = ? AND r.status IN ('ok', 'partial') ORDER BY r.id DESC LIMIT 1", [site_url]).fetchone()
    return row[0] if row else None


def start_run(db: Database, site_url: str, started_at: str, version: str) -> int:
    """Record the start of a harvest; returns the run id."""
    with db.atomic():
        return _insert(db, "harvest_runs", {
            "site_url": site_url, "started_at": started_at, "status": "running", "version": version,
        })


def mark_killed_runs(db: Database) -> list[int]:
    """Mark `killed` the runs left `running` by a harvest that died without recording its end
    (SIGKILL, a crash, a power cut); returns their ids.

    Only to be called with the archive's lock held: every harvest holds it while it runs, so
    a run still `running` then has no process behind it.
    """
    with db.atomic():
        stale = [row[0] for row in db.execute("SELECT id FROM harvest_runs WHERE status = 'running' ORDER BY id")]
        if stale:
            marks = ",".join("?" * len(stale))
            db.execute("UPDATE harvest_runs SET status = 'killed', error_count = (SELECT count(*) "
                       "FROM harvest_errors e WHERE e.run_id = harvest_runs.id AND e.reason != 'repaired') "
                       f"WHERE id IN ({marks})", stale)
    return stale


def finish_run(db: Database, run_id: int, **values: Any) -> None:
    """Record the end of a harvest: status, counts, site, requests made."""
    if isinstance(values.get("counts"), dict):
        values["counts"] = json.dumps(values["counts"])
    with db.atomic():
        error_count = db.execute(
            "SELECT count(*) FROM harvest_errors WHERE run_id = ? AND reason != 'repaired'", [run_id]).fetchone()[0]
        db.table("harvest_runs").update(run_id, {**values, "error_count": error_count})


def record_error(db: Database, run_id: int, *, at: str, site_id: int | None = None, collection: str = "",
                 url: str = "", status: int | None = None, reason: str = "", message: str = "",
                 body: bytes = b"", retry: bool = False) -> None:
    """Keep a failure, with the raw bytes the server sent, where a user can see it.

    retry marks a page the next run fetches again (until it succeeds and is marked resolved).
    """
    with db.atomic():
        db.table("harvest_errors").insert({
            "run_id": run_id, "site_id": site_id, "collection": collection, "url": url, "status": status,
            "reason": reason, "message": message, "body": body, "at": at, "retry": int(retry),
        })


def record_failure(db: Database, run_id: int, exc: Exception, *, at: str, site_id: int | None = None,
                   collection: str = "", url: str = "", retry: bool = False) -> None:
    """Keep a failed request, or whatever else ended part of a run, with the bytes the server sent."""
    fetch = exc if isinstance(exc, FetchError) else None
    record_error(db, run_id, at=at, site_id=site_id, collection=collection, url=fetch.url if fetch else url,
                 status=fetch.status if fetch else None, reason=fetch.reason if fetch else type(exc).__name__,
                 message=str(exc), body=fetch.body if fetch else b"", retry=retry)


def pending_retries(db: Database, site_id: int, collection: str) -> list[tuple[int, str]]:
    """Failed pages of a collection that no later run has fetched yet: (error id, URL)."""
    sql = ("SELECT id, url FROM harvest_errors WHERE site_id = ? AND collection = ? AND retry = 1 "
           "AND resolved_run_id IS NULL ORDER BY id")
    return [(row[0], row[1]) for row in db.execute(sql, [site_id, collection])]


def resolve_errors(db: Database, error_ids: list[int], run_id: int) -> None:
    """Mark failed pages as fetched by a later run."""
    if error_ids:
        with db.atomic():
            marks = ",".join("?" * len(error_ids))
            db.execute(f"UPDATE harvest_errors SET resolved_run_id = ? WHERE id IN ({marks})", [run_id, *error_ids])


def get_sync_state(db: Database, site_id: int, collection: str) -> SyncState:
    """The sync state of a collection (all None before its first run)."""
    row = db.execute(
        "SELECT last_total, complete_run_id, pass_run_id, resume_page FROM sync_state "
        "WHERE site_id = ? AND collection = ?", [site_id, collection]).fetchone()
    return SyncState(*row) if row else SyncState()


def set_sync_state(db: Database, site_id: int, collection: str, table: str, at: str, **values: Any) -> None:
    """Update some fields of a collection's sync state (in the caller's transaction, if any)."""
    db.table("sync_state").upsert(
        {"site_id": site_id, "collection": collection, "kind": table, "updated_at": at, **values},
        pk=("site_id", "collection"),
    )


def save_collection_counts(db: Database, run_id: int, site_id: int, collection: str, table: str,
                           counts: dict[str, Any]) -> None:
    """Record what a run did to a collection, beside X-WP-Total and the live rows it leaves."""
    where, params = scope(table, collection, site_id)
    stored = db.execute(f'SELECT count(*) FROM "{table}" WHERE {where} AND deleted_at IS NULL', params).fetchone()[0]
    fields = ("mode", "total", "seen", "new", "updated", "unchanged", "revived", "deleted", "invalid", "failed_pages")
    with db.atomic():
        db.table("run_collections").upsert(
            {"run_id": run_id, "site_id": site_id, "collection": collection, "kind": table, "stored": stored,
             **{name: counts.get(name) for name in fields}},
            pk=("run_id", "collection"))


def term_names(db: Database, site_id: int) -> dict[str, str]:
    """Names of a site's terms by key, for labelling posts' categories and tags."""
    return {key: name for key, name in db.execute("SELECT key, name FROM terms WHERE site_id = ?", [site_id])}


def _insert(db: Database, table: str, row: dict[str, Any]) -> int:
    last_pk = db.table(table).insert(row).last_pk
    assert last_pk is not None
    return int(last_pk)


def archive_status(db: Database) -> dict[str, list[dict[str, Any]]]:
    """What the archive holds per site, its last runs and its newest open errors (see STATUS_SQL):
    the same as its home page in Datasette shows."""
    status = {}
    for name, sql in STATUS_SQL.items():
        cursor = db.execute(sql, STATUS_PARAMS)
        columns = [d[0] for d in cursor.description]
        status[name] = status_rows(dict(zip(columns, row, strict=True)) for row in cursor.fetchall())
    return status
