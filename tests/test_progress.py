"""One progress protocol: media, rebuild and every export format report through a Progress; -q silences bars."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from wparchive.cli import cli
from wparchive.export import export_archive
from wparchive.export_choices import FORMATS
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


def test_quiet_silences_export_and_rebuild_and_bars_are_drawn_on_a_terminal_only(archive, db_path, tmp_path) -> None:
    loud = _run("export", str(tmp_path / "a.jsonl"), "--db", db_path)  # stderr is no terminal here
    assert loud.exit_code == 0 and loud.stderr.splitlines() == [f"Exported 29 items to {tmp_path / 'a.jsonl'}"]
    quiet = _run("export", "-", "--db", db_path, "-q")
    assert quiet.exit_code == 0 and quiet.stderr == "" and len(quiet.stdout.splitlines()) == 29
    assert _run("rebuild", "--db", db_path, "--quiet").output == ""
    rebuilt = _run("rebuild", "--db", db_path)
    assert len(rebuilt.stderr.splitlines()) == 1 and rebuilt.stderr.startswith("Rebuilt ")
    on_a_terminal = _on_a_terminal("export", str(tmp_path / "b.jsonl"), "--db", db_path)
    assert re.search(r"29/29  100%(  [\d.,]+/s)?$", _last_state(on_a_terminal, "export"))
    assert on_a_terminal[-1] == f"Exported 29 items to {tmp_path / 'b.jsonl'}"
    assert re.search(r"29/29  100%(  [\d.,]+/s)?$", _last_state(_on_a_terminal("rebuild", "--db", db_path), "posts"))


def test_quiet_silences_the_media_bar(make_server, tmp_path) -> None:
    server = make_server()
    db_path = str(tmp_path / "garden.db")
    quiet = _run("harvest", server.home + "/", "--db", db_path, "--delay", "0", "--media", "-q")
    assert quiet.exit_code == 0 and quiet.output == ""
    assert len([p for p in Path(tmp_path / "garden-media").rglob("*") if p.is_file()]) == 4


def _on_a_terminal(*args: str) -> list[str]:
    """Run a command with stderr on a pseudo-terminal, as a person sees it: each state of the bars it
    drew, and each line it wrote, in order."""
    import os
    import pty
    import subprocess
    import sys
    import threading

    master, terminal = pty.openpty()
    seen = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal's other end closed
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        done = subprocess.run([sys.executable, "-m", "wparchive", *args],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=terminal, timeout=300)
    finally:
        os.close(terminal)
        reader.join(timeout=30)
        os.close(master)
    assert done.returncode == 0, seen.decode(errors="replace")
    text = seen.decode("utf-8").replace("\x1b[?25l", "").replace("\x1b[?25h", "")
    return [state.strip() for line in text.splitlines() for state in line.split("\r") if state.strip()]


def _last_state(states: list[str], task: str) -> str:
    return [state for state in states if state.startswith(task + " ")][-1]


def test_a_bar_ends_full_at_what_was_served(make_server, tmp_path) -> None:
    server = make_server()  # X-WP-Total of comments counts 2 the site then hides, as WordPress's does
    states = _on_a_terminal("harvest", server.home + "/", "--db", str(tmp_path / "a.db"), "--delay", "0")
    served = sqlite_utils.Database(tmp_path / "a.db").execute("SELECT count(*) FROM comments").fetchone()[0]
    assert any(state.startswith("comments") and f"0/{served + 2}" in state for state in states)  # sized by the total
    assert re.search(f"{served}/{served}  100%(  [\\d.,]+/s)?$", _last_state(states, "comments"))
    for task in ("category", "post_tag", "users", "post", "page", "media"):
        assert re.search(r"100%(  [\d.,]+/s)?$", _last_state(states, task)), task


def test_a_long_collection_shows_its_rate_and_the_time_left(make_server, tmp_path) -> None:
    from wparchive.sample.content import Item, Site

    server = make_server(Site(items=[Item(i, "post", f"Post {i}", f"<p>Text {i}.</p>") for i in range(1, 351)]))
    # Four pages of posts, at least 0.6 s apart: by the third the rate is known and 50 posts are left.
    states = _on_a_terminal("harvest", server.home + "/", "--db", str(tmp_path / "a.db"), "--delay", "0.6")
    posts = [state for state in states if state.startswith("post ")]
    mid_way = next(state for state in posts if "300/350" in state)
    assert re.search(r"300/350\s+85%\s+[\d.,]+/s, \d+ (s|min) left$", mid_way), mid_way
    assert re.search(r"350/350\s+100%\s+[\d.,]+/s$", posts[-1]), posts[-1]  # nothing left to wait for
    for post in server.site.items[:150]:
        post.modified_gmt = "2030-01-01T00:00:00"
    # An incremental run knows no total: a count and the rate, without a time left.
    states = _on_a_terminal("harvest", server.home + "/", "--db", str(tmp_path / "a.db"), "--delay", "0.6")
    assert re.search(r"^post\s+\[#+\]\s+150\s+[\d.,]+/s$", _last_state(states, "post")), states


def test_no_bars_off_a_terminal_but_the_summary(server, db_path) -> None:
    result = _run("harvest", server.home + "/", "--db", db_path, "--delay", "0")  # stderr is not a terminal
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [f"{server.home}/: run 1 ok: category 7 new; post_tag 10 new; users 3 new; "
                                          f"post 24 new; page 5 new; media 4 new; comments 19 new (11 requests) "
                                          f"→ {db_path}"]
    assert _run("harvest", server.home + "/", "--db", db_path, "--delay", "0", "-q").output == ""


def test_sites_harvested_at_once_report_each_collection_in_lines_named_after_the_site(make_server, tmp_path) -> None:
    one, two = make_server(), make_server()
    config = tmp_path / "config"
    config.mkdir()
    (config / "sites.toml").write_text(f'[[site]]\nurl = "{one.home}/"\n\n[[site]]\nurl = "{two.home}/"\n')
    states = _on_a_terminal("harvest", "--config", str(config), "--db", str(tmp_path / "a.db"), "--delay", "0",
                            "--jobs", "2")
    assert not [state for state in states if "[#" in state or "%" in state]  # no bars: they would mix
    for server in (one, two):
        site = f"{server.home}/"
        assert f"{site} comments: 21 to do" in states and f"{site} comments: done" in states
        assert states.index(f"{site} post: 24 to do") < states.index(f"{site} post: done")
        assert len([state for state in states if state.startswith(f"{site}: run ")]) == 1  # its summary
    # One site given, --jobs has nothing to share out: bars as ever.
    states = _on_a_terminal("harvest", f"{one.home}/", "--db", str(tmp_path / "b.db"), "--delay", "0", "--jobs", "2")
    assert re.search(r"100%(  [\d.,]+/s)?$", _last_state(states, "post"))
