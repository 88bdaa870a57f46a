"""Shared test fixtures: the project's WordPress-like server, archives in tmp paths, fixture paths."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

from wparchive.client import Client
from wparchive.db import open_db
from wparchive.sample.content import sample_site
from wparchive.sample.server import WordPressServer
from wparchive.sample.site import Site

@pytest.fixture
def make_server() -> Iterator[Callable[..., WordPressServer]]:
    """Start WordPress-like servers for a test; all are stopped after it."""
    started: list[WordPressServer] = []

    def start(site: Site | None = None, **options: object) -> WordPressServer:
        server = WordPressServer(site or sample_site(), **options).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., WordPressServer]) -> WordPressServer:
    """The bundled sample site in pretty-permalink mode."""
    return make_server()


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "archive.db")


@pytest.fixture
def db(db_path: str):  # type: ignore[no-untyped-def]
    return open_db(db_path)


class RecordingSleep:
    """A sleep that records how long it was asked to wait, and waits not at all."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def client(sleeps: RecordingSleep) -> Client:
    """A client with no politeness delay whose backoff waits are recorded, not slept."""
    return Client(delay=0, timeout=5, retries=3, sleep=sleeps)


class InterruptAfter:
    """A Progress that raises KeyboardInterrupt once a collection has saved N pages, like Ctrl-C."""

    def __init__(self, collection: str, pages: int) -> None:
        self.collection, self.pages, self.current, self.done = collection, pages, "", 0

    def begin(self, task: str, total: int | None) -> None:
        self.current = task

    def advance(self, count: int) -> None:
        if self.current == self.collection:
            self.done += 1
            if self.done == self.pages:
                raise KeyboardInterrupt

    def end(self, task: str) -> None:
        pass

    def note(self, message: str) -> None:
        pass


@pytest.fixture
def interrupt_after() -> Callable[[str, int], InterruptAfter]:
    return InterruptAfter
