"""How long work reports as it goes: harvests, media downloads, rebuilds and exports alike.

The library calls a Progress; the CLI draws bars from it (with the rate and the time left, on a
terminal only) or stays quiet, tests record it.
A task is a collection of a harvest, a table of a rebuild, the files of a media pass, the rows
of an export. Sites harvested at once report from threads of their own, each through a
SiteProgress: their tasks then overlap, and advance counts for the current task of the calling thread.
"""

from __future__ import annotations

import threading
from typing import Protocol


class Progress(Protocol):
    """What long work reports as it goes."""

    def begin(self, task: str, total: int | None) -> None:
        """A task starts; total is how many items it will do, when known (a harvest's comes from
        X-WP-Total, which may count items WordPress then hides)."""

    def advance(self, count: int) -> None:
        """count more items of the current task are done."""

    def end(self, task: str) -> None:
        """The task is finished: what was done is all there was, whatever total begin said."""

    def note(self, message: str) -> None:
        """Something the user should know that is not an error."""


class SilentProgress:
    """A Progress that reports nothing (--quiet, and the library's default)."""

    def begin(self, task: str, total: int | None) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def end(self, task: str) -> None:
        pass

    def note(self, message: str) -> None:
        pass


class SiteProgress:
    """One site's share of a Progress that sites harvested at once report to (harvest --jobs): its tasks
    and notes carry the site's name, and reach the shared Progress one report at a time."""

    def __init__(self, progress: Progress, site: str, lock: threading.Lock) -> None:
        self._progress, self._site, self._lock = progress, site, lock

    def begin(self, task: str, total: int | None) -> None:
        with self._lock:
            self._progress.begin(f"{self._site} {task}", total)

    def advance(self, count: int) -> None:
        with self._lock:
            self._progress.advance(count)

    def end(self, task: str) -> None:
        with self._lock:
            self._progress.end(f"{self._site} {task}")

    def note(self, message: str) -> None:
        with self._lock:
            self._progress.note(f"{self._site}: {message}")
