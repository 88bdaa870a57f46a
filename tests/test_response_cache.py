"""Answers kept while the archives do not change (web/cache.py): the same address, the same answer, for a while."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from datasette.database import Database

from wparchive.harvest import harvest_site
from wparchive.sample.content import sample_site
from wparchive.serve import build_datasette
from wparchive.web import cache


def _datasette(*, mutable: bool, path: str | None = None) -> Any:
    archive = SimpleNamespace(is_mutable=mutable, path=path, is_memory=path is None)
    return SimpleNamespace(databases={"archive": archive, "_internal": SimpleNamespace(is_mutable=True)})


class _App:
    """An ASGI app that counts its calls and answers with a body of the given size and status."""

    def __init__(self, status: int = 200, size: int = 10, cookie: bool = False, chunks: int = 1) -> None:
        self.calls = 0
        self.status, self.size, self.cookie, self.chunks = status, size, cookie, chunks

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.calls += 1
        headers = [(b"content-type", b"text/plain")] + ([(b"set-cookie", b"a=b")] if self.cookie else [])
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        for chunk in range(self.chunks):
            body = f"{self.calls}:".encode() + b"x" * self.size
            await send({"type": "http.response.body", "body": body, "more_body": chunk < self.chunks - 1})


def _get(app: Any, path: str = "/archive/posts", headers: list[tuple[bytes, bytes]] | None = None,
         method: str = "GET") -> bytes:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    path, _, query = path.partition("?")
    scope = {"type": "http", "method": method, "path": path, "query_string": query.encode(),
             "headers": [(b"host", b"127.0.0.1:8001"), *(headers or [])]}
    asyncio.run(app(scope, receive, send))
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_an_immutable_archive_answers_the_same_address_from_memory() -> None:
    inner = _App()
    app = cache.response_cache(_datasette(mutable=False))(inner)
    assert _get(app) == _get(app) and inner.calls == 1
    assert _get(app, "/archive/posts?_col=title") != _get(app) and inner.calls == 2  # another address
    _get(app, headers=[(b"host", b"localhost:8001")])
    assert inner.calls == 3  # absolute links name the host asked for


@pytest.mark.parametrize("why, datasette, app, headers, method", [
    ("a mutable archive in memory", _datasette(mutable=True), _App(), [], "GET"),
    ("a mutable archive that cannot be opened", _datasette(mutable=True, path="/nonexistent/archive.db"), _App(), [],
     "GET"),
    ("a reader with a cookie", _datasette(mutable=False), _App(), [(b"cookie", b"ds_actor=x")], "GET"),
    ("a reader with credentials", _datasette(mutable=False), _App(), [(b"authorization", b"Basic x")], "GET"),
    ("a reader asking for a fresh answer", _datasette(mutable=False), _App(), [(b"cache-control", b"no-cache")], "GET"),
    ("a reload", _datasette(mutable=False), _App(), [(b"Cache-Control", b"max-age=0")], "GET"),
    ("an answer that is not 200", _datasette(mutable=False), _App(status=503), [], "GET"),
    ("an answer that sets a cookie", _datasette(mutable=False), _App(cookie=True), [], "GET"),
    ("an answer too large", _datasette(mutable=False), _App(size=cache.MAX_ANSWER_BYTES // 2, chunks=3), [], "GET"),
    ("not a GET", _datasette(mutable=False), _App(), [], "POST"),
])
def test_nothing_personal_changing_or_large_is_kept(why: str, datasette: Any, app: _App, headers: Any,
                                                    method: str) -> None:
    wrapped = cache.response_cache(datasette)(app)
    first, second = _get(wrapped, headers=headers, method=method), _get(wrapped, headers=headers, method=method)
    assert app.calls == 2 and first != second, why


def test_a_mutable_archive_keeps_its_answers_until_anything_writes_to_it(tmp_path: Path) -> None:
    path = str(tmp_path / "archive.db")
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("CREATE TABLE posts (title TEXT)")
    writer.commit()
    inner = _App()
    app = cache.response_cache(_datasette(mutable=True, path=path))(inner)
    first = _get(app)
    assert _get(app) == first and inner.calls == 1
    other = sqlite3.connect(path)  # another connection, as a harvest in its own process
    other.execute("INSERT INTO posts VALUES ('new')")
    other.commit()
    after_write = _get(app)
    assert after_write != first and inner.calls == 2
    assert _get(app) == after_write and inner.calls == 2
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # a checkpoint is a change of the file too: worked out again
    writer.execute("UPDATE posts SET title = 'changed'")
    writer.commit()
    assert _get(app) != after_write and inner.calls == 3
    other.close()
    writer.close()


def test_answers_are_kept_for_a_while_and_within_a_total(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(cache.time, "monotonic", lambda: clock[0])
    inner = _App(size=1000)
    app = cache.response_cache(_datasette(mutable=False))(inner)
    _get(app)
    clock[0] += cache.KEEP_SECONDS - 1
    _get(app)
    assert inner.calls == 1
    clock[0] += 2
    _get(app)
    assert inner.calls == 2  # past the while: worked out again
    monkeypatch.setattr(cache, "MAX_TOTAL_BYTES", 3000)
    for n in range(4):
        _get(app, f"/archive/posts?n={n}")
    calls = inner.calls
    _get(app, "/archive/posts?n=3")
    _get(app, "/archive/posts?n=0")  # the oldest went to make room
    assert inner.calls == calls + 1


def test_wparchive_serve_keeps_answers_and_a_write_makes_them_new(make_server, client, db, db_path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    harvest_site(db, client, make_server(sample_site()).home + "/")
    queries: list[str] = []
    execute = Database.execute

    async def counted(self: Database, sql: str, *args: Any, **kwargs: Any) -> Any:
        queries.append(sql)
        return await execute(self, sql, *args, **kwargs)

    monkeypatch.setattr(Database, "execute", counted)

    async def three_times(immutable: bool) -> list[tuple[int, list[Any]]]:
        ds = build_datasette(db_path, immutable=immutable)
        await ds.invoke_startup()
        name = next(n for n in ds.databases if n != "_internal")
        answers = []
        for n in range(3):
            if n == 2 and not immutable:
                with db.conn:
                    db.execute("UPDATE posts SET title = 'Retitled' WHERE key = (SELECT min(key) FROM posts)")
            before = len(queries)
            page = await ds.client.get(f"/{name}/posts.json?_col=title&_size=5&_sort=key&_shape=objects")
            answers.append((len(queries) - before, [row["title"] for row in page.json()["rows"]]))
        return answers

    (first, rows), (second, same_rows), _ = asyncio.run(three_times(immutable=True))
    assert first > 0 and second == 0 and same_rows == rows
    (first, rows), (second, same_rows), (third, new_rows) = asyncio.run(three_times(immutable=False))
    assert first > 0 and second == 0 and same_rows == rows
    assert third > 0 and new_rows[0] == "Retitled" != rows[0]  # the harvest's write is seen at once
