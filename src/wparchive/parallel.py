"""Cleaning on every core: pages of items turned into records in worker processes.

Cleaning (parsing HTML, Markdown, language) is most of a harvest's work; fetching and saving
stay in the harvest's own process, which cleans the next page's items in the workers while it
saves the last one's. The pool starts only when a collection is large enough to repay it: a small
site is cleaned in the harvest's own process, whose language model loads in a thread while the
first pages download (warm_up), and starts no process at all.

The workers never outlive the harvest. A stop signal (Ctrl-C reaches every process of the
terminal's group, systemd's SIGTERM every process of the service) is left to the harvest, which
records its run and then shuts the pool down; a harvest killed outright (SIGKILL) cannot, so each
worker also watches a pipe whose only writer is the harvest, and exits when it closes.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .clean import load_language_model, release_language_model
from .records import Failures, SiteContext, build_records
from .rows import Provenance, Record

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing.connection import Connection

# Below this many items a collection is cleaned in-process: starting workers costs about a second.
POOL_THRESHOLD = 400

# The signals that stop a harvest: the harvest's own process handles them, its workers ignore them.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class CleaningPool:
    """Worker processes that build records; started on first use, shut down by close().

    Sites harvested at once (harvest --jobs) share one: submit may be called from several threads.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._lifeline: tuple[Connection, Connection] | None = None  # (the workers' end, ours)
        self._forkserver_started = False  # from then on the workers clean every post-type page
        self._starting = threading.Lock()  # two sites' first large collections start one pool
        self._cleaning_here = 0  # pages being cleaned in this process (by several sites' threads at once)
        self._here = threading.Lock()

    def warm_up(self) -> None:
        """Load this process's language model in a thread while the first pages download (a first
        harvest cleans everything): a small site is cleaned here, and its first post would otherwise
        wait most of a second for it. Not once the workers are starting: the model is theirs."""
        if not self._forkserver_started:
            threading.Thread(target=self._load_language_model, name="wparchive-language-model", daemon=True).start()

    def _load_language_model(self) -> None:
        if not self._forkserver_started:  # another site's large collection may have started the workers meanwhile
            load_language_model()

    def wanted(self, total: int | None) -> bool:
        """Whether a page of a collection of this size is cleaned in the workers: any, once they are
        starting; none before. The first page of the first collection large enough to repay them
        starts the process they are forked from, which loads the parsers and the language model
        (most of a second, on another core), and goes to them too: this process's own model goes
        first (unless another site's page is being cleaned here), so that the process tree never
        holds two (75 MB each) while the harvest runs."""
        if self.workers <= 1:
            return False
        with self._starting:
            if self._forkserver_started:
                return True
            if (total or 0) < POOL_THRESHOLD:
                return False
            self._workers_take_over()  # before the forkserver loads its model
            with _stop_signals_blocked():  # the forkserver inherits them blocked, as the workers do
                import multiprocessing.forkserver

                _forkserver_context()
                multiprocessing.forkserver.ensure_running()
            return True

    def clean_here(self, table: str, items: list[Any], ctx: SiteContext,
                   provenance: Provenance | list[Provenance]) -> tuple[list[Record], Failures]:
        """Records built in this process, for a page the workers do not take."""
        with self._here:
            self._cleaning_here += 1
        try:
            return build_records(table, items, ctx, provenance)
        finally:
            with self._here:
                self._cleaning_here -= 1
                self._release_language_model_if_unused()

    def submit(self, table: str, items: list[Any], ctx: SiteContext,
               provenance: Provenance | list[Provenance]) -> list[Future[Any]]:
        """Futures of (records, failures) for the items, split across the workers, in order."""
        # Processes start inside submit (workers as needed, and the forkserver if wanted has not):
        # they inherit the stop signals blocked, so none dies of one before it can ignore it.
        with _stop_signals_blocked(), self._starting:
            if self._executor is None:
                # Imported here: a small site, cleaned in this process, needs no process pool.
                from concurrent.futures import ProcessPoolExecutor

                context = _forkserver_context()
                self._workers_take_over()  # when submitted to directly
                self._lifeline = context.Pipe(duplex=False)
                # forkserver: forking a process that runs threads (an HTTP pool, a test server) is unsafe.
                self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=context,
                                                     initializer=_worker_started, initargs=(self._lifeline[0],))
            size = max(1, -(-len(items) // self.workers))
            return [self._executor.submit(build_records, table, items[start:start + size], ctx,
                                          provenance[start:start + size] if isinstance(provenance, list)
                                          else provenance)
                    for start in range(0, len(items), size)]

    def _workers_take_over(self) -> None:
        """From now on the workers clean every post-type page. Called holding _starting."""
        with self._here:
            self._forkserver_started = True
            self._release_language_model_if_unused()  # a load of ours under way ends first, then goes

    def _release_language_model_if_unused(self) -> None:
        """Once the workers clean every post, with the forkserver's model, this process's own copy
        would only hold 75 MB more: it goes as soon as no page is being cleaned here (another
        site's, under way as the workers started). Called holding _here."""
        if self._forkserver_started and not self._cleaning_here:
            release_language_model()

    def close(self) -> None:
        """Cancel what is queued, let each worker finish the chunk it is cleaning, and wait for them to exit."""
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None
        if self._lifeline is not None:
            for end in self._lifeline:
                end.close()
            self._lifeline = None


def _forkserver_context() -> Any:
    import multiprocessing  # here: only a collection large enough for the workers needs it

    context = multiprocessing.get_context("forkserver")
    # The workers are forked from the forkserver: what it loads first, they share.
    context.set_forkserver_preload(["wparchive.records", "wparchive.clean.preload"])
    return context


@contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """Hold back the stop signals of the calling thread (and of the processes it starts) meanwhile;
    one that arrives is delivered at the end, not lost."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _worker_started(lifeline: Connection) -> None:
    """In each worker: ignore the stop signals (the harvest stops the pool itself, after recording
    its run), and exit as soon as the harvest's end of the lifeline closes."""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # ignored now: blocked, they would only pile up
    threading.Thread(target=_watch_lifeline, args=(lifeline,), name="wparchive-lifeline", daemon=True).start()


def _watch_lifeline(lifeline: Connection) -> None:
    try:
        lifeline.poll(None)  # nothing is ever sent: this returns when the harvest's end closes
    finally:
        os._exit(1)  # the harvest is gone: nobody will read what this worker cleans
