"""Answers kept for a while, as long as the archives served have not changed.

An archive no one writes to gives the same page at the same address: a home page, a table with
its facets or a search for a common word is worked out once and then answered from memory for a
minute, instead of by the SQL threads again for every reader. Whether an archive changed is asked
of SQLite itself: an immutable one (`serve -i`) cannot; for the others, `PRAGMA data_version` on a
connection of our own changes whenever any other connection or process commits to the file (a
harvest, `embed`, `rebuild`), so an answer is kept only with the versions it was worked out at
and never outlives a write. Only what is the same for everyone is kept: GET requests without
cookies or credentials (an actor's pages may differ), whole answers of 200 with no cookie of
their own, up to a size; a request that asks for a fresh answer (`Cache-Control: no-cache`, as a
browser's reload sends) gets one. The minute bounds how long an answer that lost a facet to the time
limit under load is shown so.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable
from urllib.parse import quote

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

KEEP_SECONDS = 60.0
MAX_ANSWER_BYTES = 2 * 1024 * 1024  # a streamed download, or a page past this, is not kept
MAX_TOTAL_BYTES = 64 * 1024 * 1024
# Databases Datasette adds itself; they say nothing about whether the archive can change.
_OWN_DATABASES = frozenset({"_internal", "_memory"})
_PERSONAL_HEADERS = frozenset({b"cookie", b"authorization"})
_FRESH_ANSWER = re.compile(rb"no-cache|no-store|max-age=0", re.IGNORECASE)


Versions = tuple[tuple[str, int], ...]


class _Kept:
    """The answers kept, least recently used first, within MAX_TOTAL_BYTES, each with the versions
    of the archives it was worked out at."""

    def __init__(self) -> None:
        self.answers: OrderedDict[str, tuple[float, Versions, list[Message], int]] = OrderedDict()
        self.total = 0

    def get(self, key: str, versions: Versions) -> list[Message] | None:
        found = self.answers.get(key)
        if found is None:
            return None
        if time.monotonic() - found[0] > KEEP_SECONDS or found[1] != versions:
            self._drop(key)
            return None
        self.answers.move_to_end(key)
        return found[2]

    def put(self, key: str, versions: Versions, messages: list[Message], size: int) -> None:
        if key in self.answers:
            self._drop(key)
        self.answers[key] = (time.monotonic(), versions, messages, size)
        self.total += size
        while self.total > MAX_TOTAL_BYTES:
            self._drop(next(iter(self.answers)))

    def _drop(self, key: str) -> None:
        self.total -= self.answers.pop(key)[3]


class _Versions:
    """The data versions of the archives served that can change: one read-only connection of our own
    to each, asked `PRAGMA data_version` (a look at the WAL index, some microseconds: on the event
    loop, as each request starts)."""

    def __init__(self, datasette: Any) -> None:
        self.datasette = datasette
        self.connections: dict[str, sqlite3.Connection] = {}

    def now(self) -> Versions | None:
        """The versions now (empty when every archive is immutable), or None when one cannot be known
        (a database in memory, a file that cannot be opened): then nothing is kept."""
        versions = []
        for name, database in self.datasette.databases.items():
            if name in _OWN_DATABASES or not database.is_mutable:
                continue
            path = getattr(database, "path", None)
            if not path or getattr(database, "is_memory", False):
                return None
            try:
                connection = self.connections.get(name)
                if connection is None:
                    connection = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True,
                                                 check_same_thread=False)
                    self.connections[name] = connection
                versions.append((name, int(connection.execute("PRAGMA data_version").fetchone()[0])))
            except sqlite3.Error:
                self.connections.pop(name, None)
                return None
        return tuple(versions)


def response_cache(datasette: Any) -> Callable[[App], App]:
    """An ASGI wrapper that keeps answers while the databases served do not change."""

    def wrap(app: App) -> App:
        kept = _Kept()
        archives = _Versions(datasette)

        async def cached(scope: Scope, receive: Receive, send: Send) -> None:
            key = _key(scope)
            # Read before the answer is worked out: one that a write overtakes is kept with the older
            # versions, and so is never given once the write is seen.
            versions = archives.now() if key is not None else None
            if key is None or versions is None:
                await app(scope, receive, send)
                return
            found = kept.get(key, versions)
            if found is not None:
                for message in found:
                    await send(message)
                return
            messages: list[Message] = []
            size = 0
            keep = True

            async def send_and_keep(message: Message) -> None:
                nonlocal size, keep
                await send(message)
                if not keep:
                    return
                if message["type"] == "http.response.start":
                    keep = message.get("status") == 200 and not any(
                        name.lower() == b"set-cookie" for name, _ in message.get("headers", []))
                elif message["type"] == "http.response.body":
                    size += len(message.get("body", b""))
                    keep = size <= MAX_ANSWER_BYTES
                if keep:
                    messages.append(message)
                    if message["type"] == "http.response.body" and not message.get("more_body", False):
                        kept.put(key, versions, messages, size)

            await app(scope, receive, send_and_keep)

        return cached

    return wrap


def _key(scope: Scope) -> str | None:
    """The address of a request whose answer is the same for everyone, or None."""
    if scope.get("type") != "http" or scope.get("method") != "GET":
        return None
    headers = dict((name.lower(), value) for name, value in scope.get("headers", []))
    if _PERSONAL_HEADERS & headers.keys():
        return None
    if _FRESH_ANSWER.search(headers.get(b"cache-control", b"")):  # a reader who asks for one (a reload, a benchmark)
        return None
    query = scope.get("query_string", b"").decode("latin-1")
    # the host too: Datasette writes absolute links (a JSON page's next_url) with the one asked for
    return headers.get(b"host", b"").decode("latin-1") + " " + scope.get("path", "") + ("?" + query if query else "")
