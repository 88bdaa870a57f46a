"""The one page pipeline: a page of raw items → records (cleaned in the workers or in this
process) → saved in one transaction, with what went wrong recorded where users see it.

Every harvest path feeds it: the REST sync's full passes, probes, fetches by id and retried
pages, and the fallback that reads a site's feed, sitemaps and pages. Each collection of a run
has one ItemPipeline, which gathers the counts and errors the run reports.
"""

from __future__ import annotations

import json
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from sqlite_utils.db import Database

from .db import record_error, record_failure, save_page
from .errors import FetchError, ItemCutOff, PageNarrowed, PaginationStopped
from .parallel import CleaningPool
from .progress import Progress
from .records import Failures, SiteContext, build_records
from .rows import Provenance, Record, utc_now


@dataclass
class ItemPage:
    """Raw items of one collection, and where they came from: one provenance for a page of the
    REST API, or one per item when each was read from a page of its own (the fallback)."""

    items: list[Any]
    provenance: Provenance | list[Provenance]
    number: int | None = None  # its page number in a full pass, committed with it for resuming


def new_counts(mode: str = "") -> dict[str, Any]:
    """What a run did to one collection, all at zero."""
    return {"mode": mode, "total": None, "seen": 0, "new": 0, "updated": 0, "unchanged": 0, "revived": 0,
            "deleted": 0, "invalid": 0, "failed_pages": 0, "incomplete": 0, "revisions": 0}


@dataclass
class ItemPipeline:
    """Clean and save the pages of one collection of one run, and count what happened."""

    db: Database
    ctx: SiteContext
    run_id: int
    table: str
    collection: str
    progress: Progress
    pool: CleaningPool | None = None
    # What the client forgave in the bodies it decoded (URL, what, the raw bytes); recorded and
    # emptied after each page.
    repairs: list[tuple[str, str, bytes]] = field(default_factory=list)
    # Called with the records a page wrote (new or changed), e.g. to fetch their revisions.
    on_written: Callable[[list[Record]], None] | None = None
    to_clean: int | None = None  # how many items this run will clean: whether the pool repays starting
    counts: dict[str, Any] = field(default_factory=new_counts)
    errors: list[str] = field(default_factory=list)

    def save(self, page: ItemPage, *, track_seen: bool = False) -> dict[str, int]:
        """Clean a page and save it at once; returns what the save did (new, updated…)."""
        return self._finish(page, self._start(page), track_seen=track_seen)

    def save_all(self, pages: Iterable[ItemPage], *, track_seen: bool = False) -> None:
        """Clean and save pages in order, each cleaned while the one before it is saved."""
        pending: tuple[ItemPage, _Cleaning] | None = None
        for page in pages:
            cleaning = self._start(page)
            if pending is not None:
                self._finish(*pending, track_seen=track_seen)
            pending = (page, cleaning)
        if pending is not None:
            self._finish(*pending, track_seen=track_seen)

    def page_failed(self, exc: FetchError, *, retry: bool = True) -> None:
        """A page, or an item of one, that could not be read whole: kept with its bytes where users see it.

        A page read again in smaller pages, or paging stopped where X-WP-Total says nothing is left,
        loses nothing: it is only recorded. An item kept incomplete is counted as such; anything
        else is a failed page, which keeps a full pass open. With retry, the next run fetches the
        URL again (paging stopped for a loop is not retried: the next pass reads the collection again).
        """
        if isinstance(exc, PageNarrowed) or (isinstance(exc, PaginationStopped) and exc.complete):
            self.progress.note(f"{self.collection}: {exc}")
            record_failure(self.db, self.run_id, exc, at=utc_now(), site_id=self.ctx.site_id,
                           collection=self.collection)
            return
        if isinstance(exc, ItemCutOff) and exc.wp_id is not None:
            self.counts["incomplete"] += 1
        else:
            self.counts["failed_pages"] += 1
        self.error(exc, retry=retry and not isinstance(exc, PaginationStopped))

    def error(self, exc: Exception, *, retry: bool = False) -> None:
        """Report and record a failure of this collection."""
        hint = getattr(exc, "hint", "")
        self.errors.append(f"{self.collection}: {exc}" + (f" ({hint})" if hint else ""))
        record_failure(self.db, self.run_id, exc, at=utc_now(), site_id=self.ctx.site_id,
                       collection=self.collection, retry=retry)

    def _start(self, page: ItemPage) -> _Cleaning:
        for item in page.items:
            if isinstance(item, dict) and "wparchive_incomplete" in item:
                # what arrived may end before its type or taxonomy: the collection says which
                item.setdefault("wparchive_collection", self.collection)
        if self.pool is None or self.table != "posts":  # only posts are heavy to clean (HTML, language)
            return _Cleaning(built=build_records(self.table, page.items, self.ctx, page.provenance))
        if self.pool.wanted(self.to_clean):
            return _Cleaning(futures=self.pool.submit(self.table, page.items, self.ctx, page.provenance))
        return _Cleaning(built=self.pool.clean_here(self.table, page.items, self.ctx, page.provenance))

    def _finish(self, page: ItemPage, cleaning: _Cleaning, *, track_seen: bool) -> dict[str, int]:
        records, failures = cleaning.result()
        for item, why, url in failures:
            self.counts["invalid"] += 1
            self.errors.append(f"{self.collection}: {why}")
            record_error(self.db, self.run_id, at=utc_now(), site_id=self.ctx.site_id, collection=self.collection,
                         url=url, reason="invalid_item", message=why,
                         body=json.dumps(item, ensure_ascii=False, default=str).encode("utf-8"))
        counts, written = save_page(self.db, records, run_id=self.run_id, at=utc_now(), site_id=self.ctx.site_id,
                                    table=self.table, collection=self.collection, track_seen=track_seen,
                                    resume_page=page.number)
        for name, value in counts.items():
            self.counts[name] += value
        self.counts["seen"] += len(page.items)
        self._record_repairs()
        if self.on_written is not None and written:
            keys = set(written)
            self.on_written([r for r in records if r.key in keys])
        self.progress.advance(len(page.items))
        return counts

    def _record_repairs(self) -> None:
        """Keep what had to be forgiven in a body (a PHP notice, invalid UTF-8) with its bytes: the
        items are saved, but the site's owner may want to know."""
        for url, what, body in self.repairs:
            record_error(self.db, self.run_id, at=utc_now(), site_id=self.ctx.site_id, collection=self.collection,
                         url=url, reason="repaired", message=what, body=body)
        self.repairs.clear()


class _Cleaning:
    """Records being built for a page: already built, or futures in the worker processes."""

    def __init__(self, built: tuple[list[Record], Failures] | None = None,
                 futures: list[Future[Any]] | None = None) -> None:
        self.built = built
        self.futures = futures or []

    def result(self) -> tuple[list[Record], Failures]:
        if self.built is not None:
            return self.built
        records: list[Record] = []
        failures: Failures = []
        for future in self.futures:
            part_records, part_failures = future.result()
            records += part_records
            failures += part_failures
        return records, failures
