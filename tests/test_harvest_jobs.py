"""harvest --jobs: the sites of sites.toml harvested at once into the one archive."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from wparchive import harvest as harvest_module
from wparchive.cli import EXIT_FAILED, EXIT_OK, cli
from wparchive.config import SiteConfig
from wparchive.db.schema import SCHEMA
from wparchive.harvest import HarvestSettings, harvest_sites
from wparchive.sample.site import Item, Site

# What differs between two harvests of the same sites: when, by which run, and in which order the
# sites got their ids (keys are "<site id>-<WordPress id>"; site_id columns are compared as homes).
RUN_AND_TIME = {"id", "run_id", "deleted_run_id", "complete_run_id", "pass_run_id", "resolved_run_id",
                "replaced_by_run_id", "fetched_at", "at", "started_at", "finished_at", "updated_at", "replaced_at",
                "first_harvested", "last_harvested", "requests"}
KEY = re.compile(r"^(\d+)-(\d+)$")


def _slow(server: Any, seconds: float = 0.02) -> list[float]:
    """Every request takes its time, as a distant site's do; the list it returns gets when each came."""
    came: list[float] = []

    def fault(path: str, query: dict[str, str]) -> None:
        came.append(time.monotonic())
        time.sleep(seconds)
        return None
    server.fault = fault
    return came


def _side_by_side(requests: list[list[float]]) -> bool:
    """Whether every site had its first request before any site had its last one."""
    return max(times[0] for times in requests) < min(times[-1] for times in requests)


def _config(folder: Path, urls: list[str]) -> str:
    folder.mkdir()
    (folder / "sites.toml").write_text("[defaults]\ndelay = 0\n\n"
                                       + "".join(f'[[site]]\nurl = "{url}"\ntimeout = 2\n\n' for url in urls))
    return str(folder)


def _harvest(config: str, db_path: Path, *extra: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["harvest", "--config", config, "--db", str(db_path), "--retries", "0",
                                    "--workers", "1", *extra], catch_exceptions=False)


def _contents(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, without run ids and times, with each site named by its home instead of its id."""
    conn = sqlite3.connect(db_path)
    try:
        homes = {str(i): home for i, home in conn.execute("SELECT id, home FROM sites")}

        def named(column: str, value: Any) -> Any:
            if column == "site_id" and value is not None:
                return homes[str(value)]
            if isinstance(value, str) and (key := KEY.match(value)) and key[1] in homes:
                return f"{homes[key[1]]}-{key[2]}"
            return value

        contents = {}
        for table in SCHEMA:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            contents[table] = sorted((tuple(named(c, v) for c, v in zip(columns, row, strict=True)
                                            if c not in RUN_AND_TIME)
                                      for row in cursor), key=repr)
        return contents
    finally:
        conn.close()


def test_slow_sites_harvested_at_once_end_as_they_would_one_after_another(make_server, tmp_path) -> None:
    # Sites of their own: links are matched to posts by URL without the port, and three copies of one
    # site on one host would each point some links at another's posts.
    servers = [make_server(), make_server(Site(name="Second", items=[Item(1, "post", "Only post", "<p>alone</p>")])),
               make_server(Site(name="Third", items=[Item(i, "post", f"Post {i}", f"<p>Post {i} of the third</p>")
                                                    for i in range(1, 151)]))]
    requests = [_slow(server) for server in servers]
    config = _config(tmp_path / "config", [s.home + "/" for s in servers])
    at_once = _harvest(config, tmp_path / "at-once.db", "--jobs", "3")
    assert _side_by_side(requests)
    for times in requests:
        times.clear()
    in_turn = _harvest(config, tmp_path / "in-turn.db")
    assert not _side_by_side(requests)
    assert at_once.exit_code == in_turn.exit_code == EXIT_OK, at_once.stderr + in_turn.stderr
    # one summary per site, named after it
    for server in servers:
        assert len(re.findall(rf"^{re.escape(server.home)}/: run \d ok: ", at_once.stderr, re.M)) == 1
    contents = _contents(tmp_path / "at-once.db")
    assert [status for *_, status, _counts, _errors, _version in contents["harvest_runs"]] == ["ok"] * 3
    assert len(contents["posts"]) > 175 and len(contents["sites"]) == 3
    assert contents == _contents(tmp_path / "in-turn.db")


def test_a_dead_site_does_not_stop_the_sites_harvested_beside_it(make_server, tmp_path) -> None:
    one, two = make_server(), make_server()
    _slow(one)
    _slow(two)
    dead = "http://127.0.0.1:9/"
    config = _config(tmp_path / "config", [one.home + "/", dead, two.home + "/"])
    db_path = tmp_path / "archive.db"
    result = _harvest(config, db_path, "--jobs", "3")
    assert result.exit_code == EXIT_FAILED
    assert f"Error: {dead}: could not reach" in result.stderr
    assert re.search(rf"^{re.escape(one.home)}/: run \d ok: ", result.stderr, re.M)
    assert re.search(rf"^{re.escape(two.home)}/: run \d ok: ", result.stderr, re.M)
    conn = sqlite3.connect(db_path)
    runs = dict(conn.execute("SELECT site_url, status FROM harvest_runs"))
    posts = conn.execute("SELECT count(*) FROM posts WHERE type = 'post'").fetchone()[0]
    conn.close()
    assert runs == {one.home + "/": "ok", dead: "failed", two.home + "/": "ok"}
    assert posts == 2 * 24


class _Recorded:
    """A Progress that keeps what it is told, from whichever thread."""

    def __init__(self) -> None:
        self.tasks: list[str] = []
        self.notes: list[str] = []

    def begin(self, task: str, total: int | None) -> None:
        self.tasks.append(task)

    def advance(self, count: int) -> None:
        pass

    def end(self, task: str) -> None:
        pass

    def note(self, message: str) -> None:
        self.notes.append(message)


def test_each_site_harvested_at_once_reports_under_its_own_name(make_server, tmp_path) -> None:
    servers = [make_server() for _ in range(3)]
    progress = _Recorded()
    sites = [SiteConfig(url=s.home + "/", include=["posts"]) for s in servers]
    outcomes = list(harvest_sites(str(tmp_path / "a.db"), sites, HarvestSettings(delay=0, jobs=3),
                                  progress=progress))
    assert sorted(o.url for o in outcomes) == sorted(s.url for s in sites)  # in the order they ended
    assert [o.status for o in outcomes] == ["ok"] * 3
    assert sorted(progress.tasks) == sorted(f"{s.url} post" for s in sites)


def test_an_unexpected_error_of_one_site_ends_that_site_only(make_server, tmp_path, monkeypatch) -> None:
    one, two = make_server(), make_server()
    real = harvest_module.harvest_site

    def flawed(db: Any, client: Any, site_url: str, **options: Any) -> Any:
        if site_url == two.home + "/":
            raise RuntimeError("a flaw")
        return real(db, client, site_url, **options)

    monkeypatch.setattr(harvest_module, "harvest_site", flawed)
    sites = [SiteConfig(url=one.home + "/", include=["posts"]), SiteConfig(url=two.home + "/")]
    outcomes = {o.url: o for o in harvest_sites(str(tmp_path / "a.db"), sites, HarvestSettings(delay=0, jobs=2))}
    assert outcomes[one.home + "/"].status == "ok"
    assert outcomes[two.home + "/"].status == "failed"
    assert "RuntimeError: a flaw" in str(outcomes[two.home + "/"].error)


def test_sites_of_one_host_harvested_at_once_write_warc_files_of_their_own(make_server, tmp_path) -> None:
    servers = [make_server(), make_server()]
    sites = [SiteConfig(url=s.home + "/", include=["users"]) for s in servers]
    warcs = tmp_path / "warc"
    outcomes = list(harvest_sites(str(tmp_path / "a.db"), sites, HarvestSettings(delay=0, jobs=2, warc_dir=warcs)))
    assert [o.status for o in outcomes] == ["ok", "ok"]
    # Both named after their host, as a WACZ export looks for them; one site's responses in each, all of them.
    files = sorted(warcs.glob("wparchive-127.0.0.1-" + "[0-9]" * 14 + ".warc.gz"))
    assert len(files) == 2
    responses = []
    for warc in files:
        with open(warc, "rb") as stream:
            responses.append([r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(stream)
                              if r.rec_type == "response"])
    hosts = sorted(sorted({urlsplit(uri).netloc for uri in uris}) for uris in responses)
    assert hosts == sorted([urlsplit(s.home).netloc] for s in servers)
    assert sorted(len(uris) for uris in responses) == sorted(len(s.requests) for s in servers)
