"""Cleaning on every core: pages of items turned into records in worker processes.

Cleaning (parsing HTML, html2text, language) is most of a harvest's work; fetching and saving
stay in the harvest's own process, which cleans the next page's items in the workers while it
saves the last one's. The pool starts only when a collection is large enough to repay it.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from .records import SiteContext, build_records
from .rows import Provenance

# Below this many items a collection is cleaned in-process: starting workers costs about a second.
POOL_THRESHOLD = 400


class CleaningPool:
    """Worker processes that build records; started on first use, shut down by close()."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None

    def wanted(self, total: int | None) -> bool:
        """Whether a collection of this size is worth cleaning in the workers."""
        return self.workers > 1 and (total or 0) >= POOL_THRESHOLD

    def submit(self, table: str, items: list[Any], ctx: SiteContext,
               provenance: Provenance | list[Provenance]) -> list[Future[Any]]:
        """Futures of (records, failures) for the items, split across the workers, in order."""
        if self._executor is None:
            # forkserver: forking a process that runs threads (an HTTP pool, a test server) is unsafe.
            self._executor = ProcessPoolExecutor(max_workers=self.workers,
                                                 mp_context=multiprocessing.get_context("forkserver"))
        size = max(1, -(-len(items) // self.workers))
        return [self._executor.submit(build_records, table, items[start:start + size], ctx,
                                      provenance[start:start + size] if isinstance(provenance, list) else provenance)
                for start in range(0, len(items), size)]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None
