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

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from .client import Client, route_url, warc_record_id
from .db import (
    MODIFIED_TABLES, clear_seen, get_sync_state, live_signatures, mark_deleted, pending_retries, resolve_errors,
    save_revisions, set_sync_state, unseen_live_keys,
)
from .db.runs import SyncState
from .discover import Collection
from .errors import FetchError
from .pages import ItemPage, ItemPipeline
from .pagination import Page, paginate
from .rows import Provenance, Record, make_key, utc_now

_FULL_ORDER = {"orderby": "id", "order": "asc"}


@dataclass
class CollectionSync:
    """One collection of one run: where its pages come from, and the pipeline they go through
    (which holds the run's counts and errors for it)."""

    client: Client
    collection: Collection
    api_root: str
    pages: ItemPipeline
    limit: int | None = None
    list_params: dict[str, str] = field(default_factory=dict)  # e.g. status=… when signed in
    revisions: bool = False  # signed in: fetch the revisions of every new or changed item

    def __post_init__(self) -> None:
        if self.revisions:
            self.pages.on_written = self._fetch_revisions

    @property
    def url(self) -> str:
        return route_url(self.api_root, self.collection.route)

    @property
    def name(self) -> str:
        return self.collection.name

    @property
    def counts(self) -> dict[str, Any]:
        return self.pages.counts

    def provenance(self, page: Page) -> Provenance:
        return Provenance(response_url=page.url, fetched_at=page.fetched_at, run_id=self.pages.run_id,
                          warc_record_id=page.warc_record_id)

    def _fetch_revisions(self, records: list[Record]) -> None:
        """WordPress's own revisions of new and changed items, into versions (signed-in runs only)."""
        for record in records:
            url = route_url(self.api_root, f"{self.collection.route}/{record.row['wp_id']}/revisions")
            try:
                for page in paginate(self.client, url, {"orderby": "id", "order": "asc"}):
                    self.counts["revisions"] += save_revisions(self.pages.db, "posts", record.key, page.items,
                                                               run_id=self.pages.run_id, at=utc_now())
            except FetchError as exc:
                self.pages.page_failed(exc, retry=False)


def sync_collection(job: CollectionSync, *, full: bool = False) -> None:
    """Bring one collection of the archive up to date with the site."""
    state = get_sync_state(job.pages.db, job.pages.ctx.site_id, job.name)
    _retry_failed_pages(job, in_pass=state.pass_run_id is not None)
    if full or state.complete_run_id is None or state.pass_run_id is not None or job.limit is not None:
        _full_pass(job, state, restart=full)
    else:
        _incremental(job, state)


def _full_pass(job: CollectionSync, state: SyncState, *, restart: bool) -> None:
    db, site_id, table = job.pages.db, job.pages.ctx.site_id, job.collection.table
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
            set_sync_state(db, site_id, job.name, table, utc_now(), pass_run_id=job.pages.run_id, resume_page=None)
    started = False

    def pages() -> Iterator[ItemPage]:
        """The pages in id order, each numbered so the pass can resume after it; no further than --limit."""
        nonlocal started
        seen = 0
        for page in paginate(job.client, job.url, {**job.list_params, **_FULL_ORDER}, start_page=start_page,
                                        on_failed_page=lambda n, exc: job.pages.page_failed(exc),
                                        trust_total_pages=table == "comments"):
            if not started:
                job.pages.progress.begin(job.name, _within_limit(job, page.total))
                started = True
            if job.counts["total"] is None:  # from the first page that says (what was salvaged does not)
                job.counts["total"] = page.total
                job.pages.to_clean = _within_limit(job, page.total)
            items = page.items if job.limit is None else page.items[: max(0, job.limit - seen)]
            seen += len(items)
            yield ItemPage(items, job.provenance(page), number=page.number)
            if job.limit is not None and seen >= job.limit:
                return

    job.pages.save_all(pages(), track_seen=True)
    if started:
        job.pages.progress.end(job.name)
    complete = job.limit is None and not job.counts["failed_pages"] and not job.counts["invalid"]
    if not complete:
        return  # the pass stays open; the next run retries what failed and resumes
    gone = unseen_live_keys(db, site_id=site_id, table=table, collection=job.name)
    job.counts["deleted"] += mark_deleted(db, table, gone, run_id=job.pages.run_id, at=utc_now(), site_id=site_id)
    clear_seen(db, site_id, job.name)
    with db.atomic():
        set_sync_state(db, site_id, job.name, table, utc_now(), pass_run_id=None, resume_page=None,
                       complete_run_id=job.pages.run_id, last_total=job.counts["total"])


def _incremental(job: CollectionSync, state: SyncState) -> None:
    job.counts["mode"] = "incremental"
    table = job.collection.table
    job.pages.progress.begin(job.name, None)
    if table in MODIFIED_TABLES:
        total, changed_ids = _probe_by_modified(job)
        _fetch_by_ids(job, changed_ids)
    else:
        total = _probe_newest(job)
    job.counts["total"] = total
    expected = (state.last_total or 0) + job.counts["new"] + job.counts["revived"]
    if total != expected:
        _sweep(job)
    job.pages.progress.end(job.name)
    if not job.counts["failed_pages"] and not job.counts["invalid"]:
        with job.pages.db.atomic():
            set_sync_state(job.pages.db, job.pages.ctx.site_id, job.name, table, utc_now(),
                           complete_run_id=job.pages.run_id, last_total=total)


def _probe_by_modified(job: CollectionSync) -> tuple[int | None, list[int]]:
    """Ids whose modified_gmt differs from the archive, newest first, reading only as far as needed."""
    known = live_signatures(job.pages.db, site_id=job.pages.ctx.site_id, table=job.collection.table,
                            collection=job.name)
    params = {**job.list_params, "orderby": "modified", "order": "desc", "_fields": "id,modified_gmt"}
    total: int | None = None
    changed: list[int] = []
    for page in paginate(job.client, job.url, params):
        total = page.total if total is None else total
        fresh = [item["id"] for item in page.items if isinstance(item, dict) and "id" in item
                 and known.get(job.pages.ctx.key(item["id"]) or "") != item.get("modified_gmt")]
        changed += fresh
        if len(fresh) < len(page.items):
            break  # the rest of the collection is older than what we have
    return total, changed


def _probe_newest(job: CollectionSync) -> int | None:
    """Save the newest items (terms, users, comments) until a page holds one we already have."""
    total: int | None = None
    for page in paginate(job.client, job.url, {**job.list_params, "orderby": "id", "order": "desc"}):
        total = page.total if total is None else total
        counts = job.pages.save(ItemPage(page.items, job.provenance(page)))
        if counts["unchanged"] or len(page.items) == 0:
            break
    return total


def _fetch_by_ids(job: CollectionSync, ids: Iterable[int]) -> None:
    wanted = list(dict.fromkeys(ids))
    job.pages.to_clean = len(wanted)
    for start in range(0, len(wanted), 100):
        chunk = wanted[start:start + 100]
        params = {**job.list_params, "include": ",".join(map(str, chunk)), "orderby": "include"}
        for page in paginate(job.client, job.url, params, on_failed_page=lambda n, exc: job.pages.page_failed(exc)):
            job.pages.save(ItemPage(page.items, job.provenance(page)))
            if len(page.items) >= len(chunk):
                break  # all that was asked for: no need to look past it


def _sweep(job: CollectionSync) -> None:
    """Ids the site serves now: tombstone what is gone, fetch what we lack."""
    served: set[int] = set()
    for page in paginate(job.client, job.url, {**job.list_params, **_FULL_ORDER, "_fields": "id"},
                                    on_failed_page=lambda n, exc: job.pages.page_failed(exc),
                                    trust_total_pages=job.collection.table == "comments"):
        served |= {item["id"] for item in page.items if isinstance(item, dict) and isinstance(item.get("id"), int)}
    if job.counts["failed_pages"]:
        return  # an incomplete list would tombstone what merely failed to load
    site_id = job.pages.ctx.site_id
    known = live_signatures(job.pages.db, site_id=site_id, table=job.collection.table, collection=job.name)
    served_keys = {make_key(site_id, wp_id) for wp_id in served}
    gone = [key for key in known if key not in served_keys]
    job.counts["deleted"] += mark_deleted(job.pages.db, job.collection.table, gone, run_id=job.pages.run_id,
                                          at=utc_now(), site_id=site_id)
    missing = [wp_id for wp_id in sorted(served) if make_key(site_id, wp_id) not in known]
    _fetch_by_ids(job, missing)


def _retry_failed_pages(job: CollectionSync, *, in_pass: bool) -> None:
    """Fetch again the pages earlier runs failed to get."""
    retried = []
    for error_id, url in pending_retries(job.pages.db, job.pages.ctx.site_id, job.name):
        try:
            response, data = job.client.get_json(url)
        except FetchError:
            continue  # still failing: it stays pending; the new failure is not recorded twice
        if isinstance(data, list):
            prov = Provenance(response_url=response.url, fetched_at=utc_now(), run_id=job.pages.run_id,
                              warc_record_id=warc_record_id(response))
            job.pages.save(ItemPage(data, prov), track_seen=in_pass)
            retried.append(error_id)
    resolve_errors(job.pages.db, retried, job.pages.run_id)


def _within_limit(job: CollectionSync, total: int | None) -> int | None:
    """How many of a collection's total items this run reads: no more than --limit."""
    if job.limit is None or total is None:
        return total
    return min(job.limit, total)
