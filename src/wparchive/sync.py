"""Harvesting one collection: a full pass that survives interruption, or a cheap incremental run.

Full pass (first run, --full, or an unfinished pass): every page in id order, each saved with
its page number in one transaction, every key noted; at the end, live records the pass did not
see are tombstoned. An interrupted pass resumes at its last committed page.

Incremental run: one request lists the collection newest-modified first (ids and modified_gmt
only for posts and media); what differs from the archive is fetched in full by id. X-WP-Total,
compared with the last run's, says whether anything vanished; only then is an id sweep made.
With nothing changed this costs one request. It compares WordPress's own modified_gmt values,
so clock skew between us and the site cannot hide a change, and it works on every WordPress
version with the REST API (modified_after needs 5.7).
"""

from __future__ import annotations

import json
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlite_utils.db import Database

from .client import Client, Page, route_url, utc_now, warc_record_id
from .db import (
    MODIFIED_TABLES, clear_seen, get_sync_state, live_signatures, mark_deleted, pending_retries, record_error,
    resolve_errors, save_page, save_revisions, set_sync_state, unseen_live_keys,
)
from .db.runs import SyncState
from .discover import Collection
from .errors import FetchError
from .parallel import CleaningPool
from .progress import Progress
from .records import SiteContext, build_records
from .rows import Provenance, Record, make_key

_FULL_ORDER = {"orderby": "id", "order": "asc"}


@dataclass
class CollectionHarvest:
    """One collection of one run: what it needs, and the counts and errors it gathers."""

    db: Database
    client: Client
    ctx: SiteContext
    collection: Collection
    run_id: int
    api_root: str
    progress: Progress
    limit: int | None = None
    list_params: dict[str, str] = field(default_factory=dict)  # e.g. status=… when signed in
    revisions: bool = False
    pool: CleaningPool | None = None
    to_clean: int | None = None  # how many items this run will clean: whether the pool repays starting
    counts: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.counts = new_counts()

    @property
    def url(self) -> str:
        return route_url(self.api_root, self.collection.route)

    @property
    def name(self) -> str:
        return self.collection.name


def new_counts(mode: str = "") -> dict[str, Any]:
    """What a run did to one collection, all at zero."""
    return {"mode": mode, "total": None, "seen": 0, "new": 0, "updated": 0, "unchanged": 0, "revived": 0,
            "deleted": 0, "invalid": 0, "failed_pages": 0, "revisions": 0}


def harvest_collection(job: CollectionHarvest, *, full: bool = False) -> None:
    """Bring one collection of the archive up to date with the site."""
    state = get_sync_state(job.db, job.ctx.site_id, job.name)
    _retry_failed_pages(job, in_pass=state.pass_run_id is not None)
    if full or state.complete_run_id is None or state.pass_run_id is not None or job.limit is not None:
        _full_pass(job, state, restart=full)
    else:
        _incremental(job, state)


def _full_pass(job: CollectionHarvest, state: SyncState, *, restart: bool) -> None:
    db, site_id = job.db, job.ctx.site_id
    resuming = state.pass_run_id is not None and not restart and state.resume_page
    if resuming:
        job.counts["mode"] = "resumed"
        # Fetch the last committed page again: deletions since may have shifted items onto it.
        start_page = int(state.resume_page or 1)
    else:
        job.counts["mode"] = "full"
        start_page = 1
        clear_seen(db, site_id, job.name)
        with db.atomic():
            set_sync_state(db, site_id, job.name, job.collection.table, utc_now(), pass_run_id=job.run_id,
                           resume_page=None)
    started = False
    pending: tuple[Page, list[Any], _Cleaning] | None = None
    seen = 0
    for page in job.client.paginate(job.url, {**job.list_params, **_FULL_ORDER}, start_page=start_page,
                                    on_failed_page=lambda n, exc: _page_failed(job, exc),
                                    trust_total_pages=job.collection.table == "comments"):
        if not started:
            job.counts["total"] = job.to_clean = page.total
            job.progress.begin(job.name, _bar_length(job, page.total))
            started = True
        items = page.items if job.limit is None else page.items[: max(0, job.limit - seen)]
        seen += len(items)
        # This page is cleaned (in the workers, when there are any) while the last one is saved.
        cleaning = _start_cleaning(job, items, page)
        if pending is not None:
            _save(job, *pending, track_seen=True, resume_page=pending[0].number)
        pending = (page, items, cleaning)
        if job.limit is not None and seen >= job.limit:
            break
    if pending is not None:
        _save(job, *pending, track_seen=True, resume_page=pending[0].number)
    if started:
        job.progress.end(job.name)
    complete = job.limit is None and not job.counts["failed_pages"] and not job.counts["invalid"]
    if not complete:
        return  # the pass stays open; the next run retries what failed and resumes
    gone = unseen_live_keys(db, site_id=site_id, table=job.collection.table, collection=job.name)
    job.counts["deleted"] += mark_deleted(db, job.collection.table, gone, run_id=job.run_id, at=utc_now(),
                                          site_id=site_id)
    clear_seen(db, site_id, job.name)
    with db.atomic():
        set_sync_state(db, site_id, job.name, job.collection.table, utc_now(), pass_run_id=None, resume_page=None,
                       complete_run_id=job.run_id, last_total=job.counts["total"])


def _incremental(job: CollectionHarvest, state: SyncState) -> None:
    job.counts["mode"] = "incremental"
    table = job.collection.table
    job.progress.begin(job.name, None)
    if table in MODIFIED_TABLES:
        total, changed_ids = _probe_by_modified(job)
        _fetch_by_ids(job, changed_ids)
    else:
        total = _probe_newest(job)
    job.counts["total"] = total
    expected = (state.last_total or 0) + job.counts["new"] + job.counts["revived"]
    if total != expected:
        _sweep(job)
    job.progress.end(job.name)
    if not job.counts["failed_pages"] and not job.counts["invalid"]:
        with job.db.atomic():
            set_sync_state(job.db, job.ctx.site_id, job.name, table, utc_now(), complete_run_id=job.run_id,
                           last_total=total)


def _probe_by_modified(job: CollectionHarvest) -> tuple[int | None, list[int]]:
    """Ids whose modified_gmt differs from the archive, newest first, reading only as far as needed."""
    known = live_signatures(job.db, site_id=job.ctx.site_id, table=job.collection.table, collection=job.name)
    params = {**job.list_params, "orderby": "modified", "order": "desc", "_fields": "id,modified_gmt"}
    total: int | None = None
    changed: list[int] = []
    for page in job.client.paginate(job.url, params):
        total = page.total if total is None else total
        fresh = [item["id"] for item in page.items if isinstance(item, dict) and "id" in item
                 and known.get(job.ctx.key(item["id"]) or "") != item.get("modified_gmt")]
        changed += fresh
        if len(fresh) < len(page.items):
            break  # the rest of the collection is older than what we have
    return total, changed


def _probe_newest(job: CollectionHarvest) -> int | None:
    """Save the newest items (terms, users, comments) until a page holds one we already have."""
    total: int | None = None
    for page in job.client.paginate(job.url, {**job.list_params, "orderby": "id", "order": "desc"}):
        total = page.total if total is None else total
        counts = _save(job, page, page.items, _start_cleaning(job, page.items, page))
        if counts["unchanged"] or len(page.items) == 0:
            break
    return total


def _fetch_by_ids(job: CollectionHarvest, ids: Iterable[int]) -> None:
    wanted = list(dict.fromkeys(ids))
    job.to_clean = len(wanted)
    for start in range(0, len(wanted), 100):
        chunk = wanted[start:start + 100]
        params = {**job.list_params, "include": ",".join(map(str, chunk)), "orderby": "include"}
        for page in job.client.paginate(job.url, params, on_failed_page=lambda n, exc: _page_failed(job, exc)):
            _save(job, page, page.items, _start_cleaning(job, page.items, page))
            if len(page.items) >= len(chunk):
                break  # all that was asked for: no need to look past it


def _sweep(job: CollectionHarvest) -> None:
    """Ids the site serves now: tombstone what is gone, fetch what we lack."""
    served: set[int] = set()
    for page in job.client.paginate(job.url, {**job.list_params, **_FULL_ORDER, "_fields": "id"},
                                    on_failed_page=lambda n, exc: _page_failed(job, exc),
                                    trust_total_pages=job.collection.table == "comments"):
        served |= {item["id"] for item in page.items if isinstance(item, dict) and isinstance(item.get("id"), int)}
    if job.counts["failed_pages"]:
        return  # an incomplete list would tombstone what merely failed to load
    known = live_signatures(job.db, site_id=job.ctx.site_id, table=job.collection.table, collection=job.name)
    served_keys = {make_key(job.ctx.site_id, wp_id) for wp_id in served}
    gone = [key for key in known if key not in served_keys]
    job.counts["deleted"] += mark_deleted(job.db, job.collection.table, gone, run_id=job.run_id, at=utc_now(),
                                          site_id=job.ctx.site_id)
    missing = [wp_id for wp_id in sorted(served) if make_key(job.ctx.site_id, wp_id) not in known]
    _fetch_by_ids(job, missing)


def _retry_failed_pages(job: CollectionHarvest, *, in_pass: bool) -> None:
    """Fetch again the pages earlier runs failed to get."""
    retried = []
    for error_id, url in pending_retries(job.db, job.ctx.site_id, job.name):
        try:
            response, data = job.client.get_json(url)
        except FetchError:
            continue  # still failing: it stays pending; the new failure is not recorded twice
        if isinstance(data, list):
            page = Page(url=response.url, number=0, items=data, total=None, total_pages=None, fetched_at=utc_now(),
                        warc_record_id=warc_record_id(response))
            _save(job, page, data, _start_cleaning(job, data, page), track_seen=in_pass)
            retried.append(error_id)
    resolve_errors(job.db, retried, job.run_id)


class _Cleaning:
    """Records being built for a page: already built, or futures in the worker processes."""

    def __init__(self, built: tuple[list[Record], list[tuple[Any, str]]] | None = None,
                 futures: list[Future[Any]] | None = None) -> None:
        self.built = built
        self.futures = futures or []

    def result(self) -> tuple[list[Record], list[tuple[Any, str]]]:
        if self.built is not None:
            return self.built
        records: list[Record] = []
        failures: list[tuple[Any, str]] = []
        for future in self.futures:
            part_records, part_failures = future.result()
            records += part_records
            failures += part_failures
        return records, failures


def _start_cleaning(job: CollectionHarvest, items: list[Any], page: Page) -> _Cleaning:
    prov = Provenance(response_url=page.url, fetched_at=page.fetched_at, run_id=job.run_id,
                      warc_record_id=page.warc_record_id)
    if job.pool is not None and job.collection.table == "posts" and job.pool.wanted(job.to_clean):
        return _Cleaning(futures=job.pool.submit(job.collection.table, items, job.ctx, prov))
    return _Cleaning(built=build_records(job.collection.table, items, job.ctx, prov))


def _save(job: CollectionHarvest, page: Page, items: list[Any], cleaning: _Cleaning, *, track_seen: bool = False,
          resume_page: int | None = None) -> dict[str, int]:
    records, failures = cleaning.result()
    for item, why in failures:
        job.counts["invalid"] += 1
        job.errors.append(f"{job.name}: {why}")
        record_error(job.db, job.run_id, at=utc_now(), site_id=job.ctx.site_id, collection=job.name, url=page.url,
                     reason="invalid_item", message=why,
                     body=json.dumps(item, ensure_ascii=False, default=str).encode("utf-8"))
    counts, written = save_page(job.db, records, run_id=job.run_id, at=utc_now(), site_id=job.ctx.site_id,
                                table=job.collection.table, collection=job.name, track_seen=track_seen,
                                resume_page=resume_page)
    for name, value in counts.items():
        job.counts[name] += value
    job.counts["seen"] += len(items)
    _record_repairs(job)
    if job.revisions:
        _fetch_revisions(job, [r for r in records if r.key in set(written)])
    job.progress.advance(len(items))
    return counts


def _fetch_revisions(job: CollectionHarvest, records: list[Record]) -> None:
    """WordPress's own revisions of new and changed items, into versions (signed-in runs only)."""
    for record in records:
        url = route_url(job.api_root, f"{job.collection.route}/{record.row['wp_id']}/revisions")
        try:
            for page in job.client.paginate(url, {"orderby": "id", "order": "asc"}):
                job.counts["revisions"] += save_revisions(job.db, "posts", record.key, page.items,
                                                          run_id=job.run_id, at=utc_now())
        except FetchError as exc:
            _page_failed(job, exc, retry=False)


def _record_repairs(job: CollectionHarvest) -> None:
    """Keep what had to be forgiven in a body (a PHP notice, invalid UTF-8) with its bytes: the
    items are saved, but the site's owner may want to know."""
    for url, what, body in job.client.repairs:
        record_error(job.db, job.run_id, at=utc_now(), site_id=job.ctx.site_id, collection=job.name, url=url,
                     reason="repaired", message=what, body=body)
    job.client.repairs.clear()


def _page_failed(job: CollectionHarvest, exc: FetchError, *, retry: bool = True) -> None:
    job.counts["failed_pages"] += 1
    job.errors.append(f"{job.name}: {exc}")
    record_error(
        job.db, job.run_id, at=utc_now(), site_id=job.ctx.site_id, collection=job.name, url=exc.url,
        status=exc.status, reason=exc.reason, message=str(exc), body=exc.body, retry=retry,
    )


def _bar_length(job: CollectionHarvest, total: int | None) -> int | None:
    if job.limit is None or total is None:
        return total
    return min(job.limit, total)
