"""harvest_sites: the loop over many sites, in the library; the CLI only prints what it yields."""

from __future__ import annotations

from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from wparchive import harvest as harvest_module
from wparchive.config import SiteConfig
from wparchive.db import archive_lock
from wparchive.errors import ConfigError, DatabaseLocked, SiteUnreachable
from wparchive.harvest import HarvestSettings, SiteOutcome, harvest_sites
from wparchive.sample.site import Item, Site

UNREACHABLE = "http://127.0.0.1:9/"


def test_one_outcome_per_site_as_each_ends_and_a_failure_does_not_stop_the_others(make_server, tmp_path,
                                                                                   capsys) -> None:
    one = make_server()
    two = make_server(Site(name="Second", items=[Item(1, "post", "Only post", "<p>alone</p>")]))
    sites = [SiteConfig(url=one.home + "/", include=["posts"]), SiteConfig(url=UNREACHABLE, timeout=1),
             SiteConfig(url=two.home + "/")]
    outcomes = harvest_sites(str(tmp_path / "a.db"), sites, HarvestSettings(delay=0, retries=0))
    first = next(outcomes)
    assert two.requests == []  # yielded before the next site starts: the CLI prints each as it ends
    rest = list(outcomes)
    assert [o.url for o in [first, *rest]] == [s.url for s in sites]
    assert [o.status for o in [first, *rest]] == ["ok", "failed", "ok"]
    assert first.result is not None and first.result.counts["post"]["new"] == 24 and first.requests > 0
    failed = rest[0]
    assert isinstance(failed.error, SiteUnreachable) and failed.result is None
    assert rest[1].result is not None and rest[1].result.site_id == 2
    assert capsys.readouterr() == ("", "")  # the library never prints


def test_credentials_and_rules_are_checked_before_anything_is_written(server, tmp_path, monkeypatch) -> None:
    db_path = tmp_path / "a.db"
    monkeypatch.delenv("NOT_SET_X", raising=False)
    sites = [SiteConfig(url=server.home + "/"), SiteConfig(url=server.home + "/", credentials_env="NOT_SET_X")]
    with pytest.raises(ConfigError, match="NOT_SET_X"):
        next(harvest_sites(str(db_path), sites, HarvestSettings(delay=0)))
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "boilerplate.toml").write_text("selectors = [\n")
    with pytest.raises(ConfigError, match="boilerplate.toml"):
        next(harvest_sites(str(db_path), sites[:1], HarvestSettings(delay=0, config=folder)))
    assert not db_path.exists() and server.requests == []


def test_a_held_archive_is_refused_before_any_request(server, db_path) -> None:
    with archive_lock(db_path), pytest.raises(DatabaseLocked):
        next(harvest_sites(db_path, [SiteConfig(url=server.home + "/")], HarvestSettings(delay=0)))
    assert server.requests == []


def test_ctrl_c_ends_the_whole_harvest_and_frees_the_archive(make_server, db_path, interrupt_after) -> None:
    one, two = make_server(), make_server()
    sites = [SiteConfig(url=one.home + "/"), SiteConfig(url=two.home + "/")]
    with pytest.raises(KeyboardInterrupt):
        list(harvest_sites(db_path, sites, HarvestSettings(delay=0), progress=interrupt_after("post", 1)))
    assert two.requests == []
    with archive_lock(db_path):  # the lock went with the generator
        pass


def test_each_site_has_its_own_warc_file_closed_after_it(make_server, tmp_path, monkeypatch) -> None:
    closed: list[Path] = []

    class Recorder(harvest_module.WarcRecorder):
        def close(self) -> None:
            super().close()
            closed.append(self.path)

    monkeypatch.setattr(harvest_module, "WarcRecorder", Recorder)
    server = make_server()
    # Files are named by host: the unreachable site is called localhost to get one of its own.
    sites = [SiteConfig(url=server.home + "/", include=["users"]), SiteConfig(url="http://localhost:9/")]
    warcs = tmp_path / "warc"
    outcomes = list(harvest_sites(str(tmp_path / "a.db"), sites,
                                  HarvestSettings(delay=0, retries=0, warc_dir=warcs)))
    assert [o.status for o in outcomes] == ["ok", "failed"]
    assert sorted(closed) == sorted(warcs.glob("*.warc.gz")) and len(closed) == 2  # the failed site's too
    assert "127.0.0.1" in closed[0].name and "localhost" in closed[1].name
    with open(closed[0], "rb") as stream:  # complete: read to its end
        assert [r.rec_type for r in ArchiveIterator(stream)].count("response") == len(server.requests)


def test_media_are_downloaded_after_each_site_and_counted_in_its_outcome(make_server, tmp_path) -> None:
    server = make_server()
    settings = HarvestSettings(delay=0, media_dir=tmp_path / "media")
    outcome, = harvest_sites(str(tmp_path / "a.db"), [SiteConfig(url=server.home + "/")], settings)
    assert isinstance(outcome, SiteOutcome) and outcome.status == "ok"
    assert outcome.media is not None and outcome.media.downloaded == 4
    assert len([p for p in (tmp_path / "media").rglob("*") if p.is_file()]) == 4
