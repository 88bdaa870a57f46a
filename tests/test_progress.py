"""One progress protocol: media, rebuild and every export format report through a Progress; -q silences bars."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from wparchive.cli import cli
from wparchive.export import FORMATS, export_archive
from wparchive.harvest import harvest_site
from wparchive.media import download_media
from wparchive.paths import warc_prefix
from wparchive.rebuild import rebuild_archive
from wparchive.warc import WarcRecorder


class Recording:
    """A Progress that keeps what it was told, and checks that tasks begin, advance and end in order."""

    def __init__(self) -> None:
        self.totals: dict[str, int | None] = {}
        self.done: dict[str, int] = {}
        self.steps: dict[str, list[int]] = {}
        self.current: str | None = None

    def begin(self, task: str, total: int | None) -> None:
        assert self.current is None, f"{task} begun inside {self.current}"
        self.current, self.totals[task], self.done[task], self.steps[task] = task, total, 0, []

    def advance(self, count: int) -> None:
        assert self.current is not None, "advance outside a task"
        self.done[self.current] += count
        self.steps[self.current].append(count)

    def end(self, task: str) -> None:
        assert self.current == task
        self.current = None

    def note(self, message: str) -> None:
        pass


@pytest.fixture
def archive(server, client, db, db_path):  # type: ignore[no-untyped-def]
    harvest_site(db, client, server.home + "/")
    return db


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_export_format_reports_its_rows(server, client, db, tmp_path, fmt) -> None:
    warcs = tmp_path / "warc" if fmt == "wacz" else None
    if warcs is not None:  # a WACZ packages what the harvest captured in WARC files
        client.recorder = WarcRecorder(warcs, prefix=warc_prefix(server.home))
    harvest_site(db, client, server.home + "/")
    if client.recorder is not None:
        client.recorder.close()
    archive = db
    progress = Recording()
    out = tmp_path / "out" if fmt == "markdown" else tmp_path / f"out.{fmt}"
    count = export_archive(archive, out, fmt, warc_dir=warcs, progress=progress)
    expected = 29
    if fmt == "wxr":  # the attachments too, as items of their own; the protected post left out (anonymous)
        expected += archive.execute("SELECT count(*) FROM media").fetchone()[0]
        assert count == expected - 1
    else:
        assert count == expected
    assert progress.totals == {"export": expected} and progress.done == {"export": expected}
    assert progress.current is None  # ended


def test_an_export_is_sized_by_its_filters_and_told_in_steps(archive) -> None:
    filtered = Recording()
    export_archive(archive, io.StringIO(), "jsonl", post_type="page", since="2023-02-02", progress=filtered)
    assert filtered.totals == {"export": 3} == filtered.done
    with archive.conn:  # more rows than a step
        archive.execute("UPDATE posts SET deleted_at = NULL")
    many = Recording()
    rows = [dict(r) for r in archive["posts"].rows]
    archive["posts"].insert_all(
        [{**row, "key": f"{row['key']}-{n}", "wp_id": row["wp_id"] * 1000 + n} for n in range(5) for row in rows])
    count = export_archive(archive, io.StringIO(), "csv", progress=many)
    assert many.totals["export"] == many.done["export"] == count == 29 * 6
    assert max(many.steps["export"]) == 100 and len(many.steps["export"]) == 2


def test_rebuild_reports_every_table_with_its_raw_records(archive) -> None:
    progress = Recording()
    rebuilt = rebuild_archive(archive, progress=progress)
    raw = {t: n for t, n in archive.execute('SELECT "table", count(*) FROM raw_json GROUP BY "table"')}
    assert set(progress.totals) == set(rebuilt)
    for table, total in progress.totals.items():
        assert total == progress.done[table] == raw.get(table, 0), table
    assert progress.totals["posts"] == 29 and progress.current is None


def test_media_report_every_file_whether_fetched_or_already_there(archive, client, db_path, tmp_path) -> None:
    first, again = Recording(), Recording()
    counts = download_media(archive, client, 1, tmp_path / "media", progress=first)
    assert first.totals == {"media": 4} == first.done and counts.downloaded == 4
    download_media(archive, client, 1, tmp_path / "media", progress=again)
    assert again.totals == {"media": 4} == again.done  # the files already there count too


def test_harvest_reports_media_through_the_same_progress(make_server, tmp_path) -> None:
    from wparchive.config import SiteConfig
    from wparchive.harvest import HarvestSettings, harvest_sites

    server = make_server()
    progress = Recording()
    list(harvest_sites(str(tmp_path / "a.db"), [SiteConfig(url=server.home + "/")],
                       HarvestSettings(delay=0, media_dir=tmp_path / "media"), progress=progress))
    assert progress.totals["media"] == progress.done["media"] == 4
    assert progress.totals["post"] == 24


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_quiet_silences_export_and_rebuild(archive, db_path, tmp_path) -> None:
    loud = _run("export", str(tmp_path / "a.jsonl"), "--db", db_path)
    assert loud.exit_code == 0 and "export" in loud.stderr.splitlines()[0]  # the bar's label
    assert "Exported 29 items" in loud.stderr
    quiet = _run("export", "-", "--db", db_path, "-q")
    assert quiet.exit_code == 0 and quiet.stderr == "" and len(quiet.stdout.splitlines()) == 29
    assert _run("rebuild", "--db", db_path, "--quiet").output == ""
    rebuilt = _run("rebuild", "--db", db_path)
    *labels, summary = rebuilt.stderr.splitlines()
    assert "posts" in {label.strip() for label in labels} and summary.startswith("Rebuilt ")


def test_quiet_silences_the_media_bar(make_server, tmp_path) -> None:
    server = make_server()
    db_path = str(tmp_path / "garden.db")
    quiet = _run("harvest", server.home + "/", "--db", db_path, "--delay", "0", "--media", "-q")
    assert quiet.exit_code == 0 and quiet.output == ""
    assert len([p for p in Path(tmp_path / "garden-media").rglob("*") if p.is_file()]) == 4
