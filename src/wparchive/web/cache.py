"""Answers kept for a while when every archive served is immutable (`wparchive serve -i`).

A finished archive served read-only cannot change under its pages, so the same address gives the
same page: a home page, a table with its facets or a search for a common word is worked out once
and then answered from memory for a minute, instead of by the SQL threads again for every reader.
Only what is the same for everyone is kept: GET requests without cookies or credentials (an
actor's pages may differ), whole answers of 200 with no cookie of their own, up to a size. The
minute bounds how long an answer that lost a facet to the time limit under load is shown so.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable

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


class _Kept:
    """The answers kept, least recently used first, within MAX_TOTAL_BYTES."""

    def __init__(self) -> None:
        self.answers: OrderedDict[str, tuple[float, list[Message], int]] = OrderedDict()
        self.total = 0

    def get(self, key: str) -> list[Message] | None:
        found = self.answers.get(key)
        if found is None:
            return None
        if time.monotonic() - found[0] > KEEP_SECONDS:
            self._drop(key)
            return None
        self.answers.move_to_end(key)
        return found[1]

    def put(self, key: str, messages: list[Message], size: int) -> None:
        if key in self.answers:
            self._drop(key)
        self.answers[key] = (time.monotonic(), messages, size)
        self.total += size
        while self.total > MAX_TOTAL_BYTES:
            self._drop(next(iter(self.answers)))

    def _drop(self, key: str) -> None:
        self.total -= self.answers.pop(key)[2]


def response_cache(datasette: Any) -> Callable[[App], App]:
    """An ASGI wrapper that keeps answers while every database served is immutable."""

    def wrap(app: App) -> App:
        kept = _Kept()

        async def cached(scope: Scope, receive: Receive, send: Send) -> None:
            key = _key(scope)
            if key is None or not _all_immutable(datasette):
                await app(scope, receive, send)
                return
            found = kept.get(key)
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
                        kept.put(key, messages, size)

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
    query = scope.get("query_string", b"").decode("latin-1")
    # the host too: Datasette writes absolute links (a JSON page's next_url) with the one asked for
    return headers.get(b"host", b"").decode("latin-1") + " " + scope.get("path", "") + ("?" + query if query else "")


def _all_immutable(datasette: Any) -> bool:
    return all(not database.is_mutable for name, database in datasette.databases.items()
               if name not in _OWN_DATABASES)
