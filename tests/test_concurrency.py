"""--concurrency: pages fetched several at once, used in order, spaced by --delay, held by Retry-After."""

from __future__ import annotations

import itertools
import json
import threading
import time
from pathlib import Path

from click.testing import CliRunner

from wparchive.cli import cli
from wparchive.client import Client
from wparchive.pagination import paginate
from wparchive.db import open_db
from wparchive.harvest import harvest_site
from wparchive.sample.site import Item, Site, TermItem


class Meter:
    """A fault hook that answers nothing itself: it notes when each posts page arrives and how
    many are being served at once, and makes each take `pause` seconds."""

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause
        self.lock = threading.Lock()
        self.serving = self.most_at_once = 0
        self.arrivals: list[tuple[float, int]] = []
        self.answer: dict[int, tuple[int, dict[str, str], bytes]] = {}  # page → a first answer instead

    def __call__(self, path: str, query: dict[str, str]):  # type: ignore[no-untyped-def]
        if not path.endswith("/wp/v2/posts") or "page" not in query:
            return None
        page = int(query["page"])
        with self.lock:
            self.arrivals.append((time.monotonic(), page))
            if page in self.answer:
                return self.answer.pop(page)
            self.serving += 1
            self.most_at_once = max(self.most_at_once, self.serving)
        time.sleep(self.pause)
        with self.lock:
            self.serving -= 1
        return None


def _posts(count: int) -> Site:
    return Site(items=[Item(i, "post", f"Post {i}", f"<p>Body of post {i}, with <a href='/?p={i}'>a link</a>.</p>")
                       for i in range(1, count + 1)],
                terms=[TermItem(1, "category", "Uncategorised")])


def _ids(client: Client, url: str) -> list[int]:
    return [item["id"] for page in paginate(client, url, {"orderby": "id", "order": "asc"}) for item in page.items]


def test_pages_are_fetched_several_at_once_and_used_in_order(make_server) -> None:
    server = make_server(_posts(1000))
    meter = Meter(pause=0.05)
    server.fault = meter
    url = server.api_url("wp/v2/posts")
    sequential = Client(delay=0, timeout=5)
    assert _ids(sequential, url) == list(range(1, 1001))
    assert meter.most_at_once == 1
    meter.most_at_once = 0
    concurrent = Client(delay=0, timeout=5, concurrency=4)
    assert _ids(concurrent, url) == list(range(1, 1001))
    assert 2 <= meter.most_at_once <= 4
    # 10 full pages and the look past the last: nothing fetched twice, nothing guessed beyond
    assert concurrent.requests_made == sequential.requests_made == 11


def test_stopping_early_leaves_no_fetch_behind(make_server) -> None:
    server = make_server(_posts(1000))
    meter = Meter(pause=0.05)
    server.fault = meter
    client = Client(delay=0, timeout=5, concurrency=3)
    pages = paginate(client, server.api_url("wp/v2/posts"))
    first_two = list(itertools.islice(pages, 2))
    pages.close()  # what a --limit does
    assert [p.number for p in first_two] == [1, 2]
    with meter.lock:
        assert meter.serving == 0  # the pages fetched ahead were finished or cancelled, not abandoned
    assert client.requests_made <= 2 + 3


def test_delay_spaces_the_requests_of_each_connection(make_server) -> None:
    server = make_server(_posts(600))
    client = Client(delay=0.2, timeout=5, concurrency=2)
    starts: list[float] = []
    send = client.session.get

    def timed_get(*args, **kwargs):  # type: ignore[no-untyped-def]
        starts.append(time.monotonic())
        return send(*args, **kwargs)

    client.session.get = timed_get  # type: ignore[method-assign]
    assert len(list(paginate(client, server.api_url("wp/v2/posts")))) == 6
    starts.sort()
    assert len(starts) == 7
    # two connections, 0.2 s apart each: the n-th request no earlier than n × 0.1 s after the first
    # (a thread may wake late, never early)
    assert all(start - starts[0] >= n * 0.1 - 0.005 for n, start in enumerate(starts))


def test_retry_after_holds_every_connection(make_server) -> None:
    server = make_server(_posts(1000))
    meter = Meter(pause=0.02)
    meter.answer[3] = (429, {"Retry-After": "1", "Content-Type": "application/json"},
                       json.dumps({"code": "too_many_requests", "message": "Slow down"}).encode())
    server.fault = meter
    client = Client(delay=0, timeout=5, concurrency=3)
    assert _ids(client, server.api_url("wp/v2/posts")) == list(range(1, 1001))
    refused_at = next(t for t, page in meter.arrivals if page == 3)
    during = [page for t, page in meter.arrivals if refused_at + 0.2 < t < refused_at + 0.9]
    assert during == []  # no connection asked for anything while the server said to wait
    assert [page for _, page in meter.arrivals].count(3) == 2


def test_a_harvest_with_concurrency_stores_what_one_without_does(make_server, tmp_path: Path) -> None:
    server = make_server(_posts(450))
    archives = []
    for concurrency in (1, 4):
        db = open_db(str(tmp_path / f"c{concurrency}.db"))
        result = harvest_site(db, Client(delay=0, timeout=5, concurrency=concurrency), server.home + "/")
        assert result.status == "ok"
        archives.append(db.execute("SELECT key, title, content_text, modified_gmt FROM posts ORDER BY key").fetchall())
    assert len(archives[0]) == 450 and archives[0] == archives[1]


def test_concurrency_from_the_command_line_and_sites_toml(server, tmp_path: Path) -> None:
    db_path = str(tmp_path / "a.db")
    runner = CliRunner()
    done = runner.invoke(cli, ["harvest", server.home + "/", "--db", db_path, "--delay", "0", "--concurrency", "3",
                               "-q"])
    assert done.exit_code == 0, done.output
    assert open_db(db_path).execute("SELECT type, count(*) FROM posts GROUP BY type ORDER BY type").fetchall() == [
        ("page", 5), ("post", 24)]
    refused = runner.invoke(cli, ["harvest", server.home + "/", "--db", db_path, "--concurrency", "0"])
    assert refused.exit_code == 2 and "--concurrency" in refused.output
    config = tmp_path / "config"
    config.mkdir()
    (config / "sites.toml").write_text(f'[[site]]\nurl = "{server.home}/"\nconcurrency = 64\n', encoding="utf-8")
    too_many = runner.invoke(cli, ["harvest", "--db", db_path, "--config", str(config)])
    assert too_many.exit_code == 1 and "concurrency" in too_many.output


def test_the_default_is_one_request_at_a_time() -> None:
    option = next(p for p in cli.commands["harvest"].params if p.name == "concurrency")
    assert option.default == 1 and Client().concurrency == 1
