"""The job queue on one machine (a SQLite file): `wparchive enqueue` and `wparchive worker` as a user runs
them, schedules, archive names no URL can steer, and the queue's errors as one line and an exit code.
tests/integration/test_queue_redis.py runs the same commands against a real Redis, with several workers."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from wparchive.paths import site_archive
from wparchive.schedules import parse_schedule

pytest.importorskip("huey", reason="the job queue needs huey: pip install 'wparchive[queue]'")

# Columns that say when and by which run a row was fetched: they differ between any two runs.
RUN_COLUMNS = {"fetched_at", "run_id", "deleted_run_id"}


def wparchive(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """The command line as a user runs it, in a process of its own."""
    return subprocess.run([sys.executable, "-m", "wparchive", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def worker_command(queue: str, out: Path, config: Path, *more: str) -> list[str]:
    return [sys.executable, "-m", "wparchive", "worker", "--queue", queue, "--out", str(out), "--config", str(config),
            *more]


def write_sites(folder: Path, sites: list[str], *, extra: str = "", defaults: str = "") -> Path:
    """A configuration folder whose sites.toml lists the sites, harvested without a delay."""
    folder.mkdir(parents=True, exist_ok=True)
    listed = "".join(f'\n[[site]]\nurl = "{url}"\n{extra}' for url in sites)
    (folder / "sites.toml").write_text(f"[defaults]\ndelay = 0\n{defaults}{listed}", encoding="utf-8")
    return folder


def write_signed_in_sites(folder: Path, inline: Any, by_env: Any, *, schedule: str = "") -> Path:
    """A configuration folder listing two private sites: one signed in by the user:password in its URL
    (with a schedule, if given), the other by the QUEUE_TEST_AUTH variable."""
    signed_in = inline.home.replace("http://", "http://editor:inline-s3cret@")
    return write_sites(folder, [], defaults="private = true\n" + (
        f'[[site]]\nurl = "{signed_in}/"\n' + (f'schedule = "{schedule}"\n' if schedule else "")
        + f'[[site]]\nurl = "{by_env.home}/"\ncredentials_env = "QUEUE_TEST_AUTH"\n'))

# What a site serves whatever its address: the same content served at another port differs in its links.
CONTENT_COLUMNS = ("wp_id", "type", "status", "title", "slug", "date_gmt", "modified_gmt", "categories", "tags",
                   "word_count", "language", "author_name", "excerpt_text", "content_text")


def posts(db_path: Path | str, columns: tuple[str, ...] | None = None) -> list[tuple]:  # type: ignore[type-arg]
    """The posts of an archive (all columns but those that name the run that fetched them, or the columns given)."""
    db = sqlite3.connect(db_path)
    try:
        columns = columns or tuple(row[1] for row in db.execute("PRAGMA table_info(posts)")
                                   if row[1] not in RUN_COLUMNS)
        quoted = ", ".join(f'"{c}"' for c in columns)
        return sorted(db.execute(f"SELECT {quoted} FROM posts").fetchall())
    finally:
        db.close()


def runs(db_path: Path | str) -> list[str]:
    db = sqlite3.connect(db_path)
    try:
        return [status for (status,) in db.execute("SELECT status FROM harvest_runs ORDER BY id")]
    finally:
        db.close()


def reference_posts(url: str, folder: Path, columns: tuple[str, ...] | None = None) -> list[tuple]:  # type: ignore[type-arg]
    """The posts `wparchive harvest` makes of the site."""
    db_path = folder / "reference.db"
    done = wparchive("harvest", url, "--db", str(db_path), "--delay", "0", "--quiet", "--workers", "1")
    assert done.returncode == 0, done.stderr
    return posts(db_path, columns)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_one_machine_queue_harvests_each_site_into_its_own_archive_as_harvest_does(make_server, tmp_path) -> None:
    one, two = make_server(), make_server()
    urls = [one.home + "/", two.home + "/"]
    config = write_sites(tmp_path / "config", urls)
    queue = str(tmp_path / "jobs.sqlite")
    first = wparchive("enqueue", "--queue", queue, "--config", str(config))
    again = wparchive("enqueue", "--queue", queue, "--config", str(config))
    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    assert first.stderr.splitlines() == [f"{url}: queued, due at once" for url in urls]
    assert again.stderr.splitlines() == [f"{url}: already waiting, due at once: not added again" for url in urls]

    out = tmp_path / "archives"
    worked = subprocess.run(worker_command(queue, out, config, "--burst"), capture_output=True, text=True,
                            timeout=300)
    assert worked.returncode == 0, worked.stderr
    lines = worked.stderr.splitlines()
    assert len(lines) == 4, lines  # one line as each job starts, one as it ends: each site once
    expected = reference_posts(urls[0], tmp_path, CONTENT_COLUMNS)
    for server, url in zip((one, two), urls, strict=True):
        archive = out / f"127.0.0.1_{server.port}.db"
        assert f"{url}: started → {archive}" in lines
        assert any(line.startswith(f"{url}: run 1 ok: ") and line.endswith(f"→ {archive}") for line in lines)
        assert runs(archive) == ["ok"]
        # the same content as harvest makes of the same site (served at another port: its links differ)
        assert posts(archive, CONTENT_COLUMNS) == expected and len(expected) == 29
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".db") == sorted(
        f"127.0.0.1_{s.port}.db" for s in (one, two))
    assert subprocess.run(worker_command(queue, out, config, "--burst"), capture_output=True, text=True,
                          timeout=120).stderr == ""  # nothing left to do


def test_an_archive_equals_what_harvest_makes_of_the_site(server, tmp_path) -> None:
    url = server.home + "/"
    config = write_sites(tmp_path / "config", [url])
    queue = str(tmp_path / "jobs.sqlite")
    assert wparchive("enqueue", url, "--queue", queue).returncode == 0
    worked = subprocess.run(worker_command(queue, tmp_path / "out", config, "--burst", "--quiet"), capture_output=True,
                            text=True, timeout=300)
    assert (worked.returncode, worked.stderr) == (0, "")  # --quiet: nothing when all went well
    assert posts(tmp_path / "out" / f"127.0.0.1_{server.port}.db") == reference_posts(url, tmp_path)


def test_a_site_url_with_credentials_is_refused_and_nothing_is_queued(server, tmp_path) -> None:
    queue = tmp_path / "jobs.sqlite"
    url = server.home.replace("http://", "http://editor:s3cret-app-pass@") + "/"
    done = wparchive("enqueue", url, "--queue", str(queue))
    assert done.returncode == 2
    assert "never put into the queue" in done.stderr and "s3cret" not in done.stderr
    assert not queue.exists()


def test_credentials_of_sites_toml_stay_out_of_the_queue(make_server, tmp_path) -> None:
    inline = make_server(credentials=("editor", "inline-s3cret"))
    by_env = make_server(credentials=("editor", "env-s3cret"))
    config = write_signed_in_sites(tmp_path / "config", inline, by_env)
    queue = tmp_path / "jobs.sqlite"
    assert wparchive("enqueue", "--queue", str(queue), "--config", str(config)).returncode == 0
    assert b"s3cret" not in queue.read_bytes()
    env = {**os.environ, "QUEUE_TEST_AUTH": "editor:env-s3cret"}
    worked = subprocess.run(worker_command(str(queue), tmp_path / "out", config, "--burst"), capture_output=True,
                            text=True, timeout=300, env=env)
    assert worked.returncode == 0, worked.stderr
    for server in (inline, by_env):  # the workers signed in with what their own configuration gives
        assert server.request_headers and all("Authorization" in headers for headers in server.request_headers)
    assert b"s3cret" not in queue.read_bytes()
    assert "s3cret" not in worked.stderr


def test_no_url_steers_an_archive_out_of_the_folder(server, tmp_path) -> None:
    folder = tmp_path / "out"
    hostile = [server.home + "/../../escape/", server.home + "/%2e%2e/%2e%2e/escape", server.home + "/a/" + "b" * 400,
               "http://..:80/", "http://127.0.0.1./.hidden/", server.home + "/?p=../../x", "http://[::1]:8080/../"]
    for url in hostile:
        path = site_archive(folder, url)
        assert path.parent == folder and not path.name.startswith((".", "-")) and len(path.name) <= 130, url
        assert set(path.name) <= set("abcdefghijklmnopqrstuvwxyz0123456789._-"), url
    assert len({site_archive(folder, url) for url in hostile}) == len(hostile)  # no two sites share a file

    config = write_sites(tmp_path / "config", [])
    queue = str(tmp_path / "jobs.sqlite")
    assert wparchive("enqueue", hostile[0], "--queue", queue).returncode == 0
    before = set(tmp_path.rglob("*"))
    subprocess.run(worker_command(queue, folder, config, "--burst", "--quiet"), capture_output=True, timeout=300)
    made = set(tmp_path.rglob("*")) - before
    assert made and all(folder in path.parents or path == folder for path in made), made
    assert not (tmp_path / "escape").exists()


def test_a_schedule_puts_the_site_back_into_the_queue_for_its_next_time(server, tmp_path) -> None:
    from wparchive.queue import JobQueue

    url = server.home + "/"
    config = write_sites(tmp_path / "config", [url], extra='schedule = "17 3 * * *"\n')
    queue = str(tmp_path / "jobs.sqlite")
    queued = wparchive("enqueue", "--queue", queue, "--config", str(config))
    assert queued.returncode == 0
    before = datetime.utcnow()  # noqa: DTZ003 - Huey keeps naive times in UTC
    assert queued.stderr.strip() == f"{url}: queued, due {_next_0317(before):%Y-%m-%d %H:%M} UTC (schedule 17 3 * * *)"
    now = wparchive("enqueue", "--queue", queue, "--config", str(config), "--now")
    assert now.stderr.strip() == f"{url}: queued, due at once (schedule 17 3 * * *)"  # sooner than the waiting one
    worked = subprocess.run(worker_command(queue, tmp_path / "out", config, "--burst"), capture_output=True,
                            text=True, timeout=300)
    assert worked.returncode == 0, worked.stderr
    assert f"{url}: next harvest due {_next_0317(before):%Y-%m-%d %H:%M} UTC (schedule 17 3 * * *), already waiting" \
        in worked.stderr  # the job put in first is the next one: not a second
    waiting = _scheduled(JobQueue(queue))
    assert waiting == [(url, _next_0317(before))]


def _next_0317(after: datetime) -> datetime:
    """The next 03:17 UTC, worked out without wparchive's schedules."""
    from datetime import timedelta
    candidate = after.replace(hour=3, minute=17, second=0, microsecond=0)
    return candidate if candidate > after else candidate + timedelta(days=1)


def _scheduled(queue) -> list[tuple[str, datetime]]:  # type: ignore[no-untyped-def]
    """The jobs waiting in the queue's schedule (not the leases of jobs that ran): site and due time."""
    huey = queue._huey
    tasks = [huey.deserialize_task(data) for data in huey.storage.scheduled_items()]
    return [(task.args[0], task.eta) for task in tasks if not task.kwargs.get("lease")]


def test_schedules_are_checked_with_sites_toml(tmp_path) -> None:
    for schedule, said in [("17 3 * *", "neither hourly, daily, weekly, monthly nor five fields"),
                           ("61 * * * *", "minute field '61' is out of range"),
                           ("0 0 31 2 *", "names no day that exists")]:
        config = write_sites(tmp_path / schedule.replace(" ", "_").replace("*", "x"), ["http://127.0.0.1:9/"],
                             extra=f'schedule = "{schedule}"\n')
        done = wparchive("enqueue", "--queue", str(tmp_path / "jobs.sqlite"), "--config", str(config))
        assert done.returncode == 1 and said in done.stderr and "[[site]] number 1: schedule" in done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize("text, after, expected", [
    ("hourly", datetime(2026, 12, 7, 3, 52, 10), datetime(2026, 12, 7, 4, 0)),
    ("daily", datetime(2026, 12, 31, 23, 59), datetime(2027, 1, 1, 0, 0)),
    ("*/15 * * * *", datetime(2026, 12, 7, 3, 45), datetime(2026, 12, 7, 4, 0)),
    ("0 9 * * 1-5", datetime(2026, 12, 5, 12, 0), datetime(2026, 12, 7, 9, 0)),  # Saturday → Monday
    ("0 0 13 * 5", datetime(2026, 12, 7, 0, 0), datetime(2026, 12, 11, 0, 0)),  # the 13th or a Friday, as cron
    ("0 0 29 2 *", datetime(2026, 3, 1), datetime(2028, 2, 29)),
    ("30 2 1,15 * *", datetime(2026, 1, 1, 2, 30), datetime(2026, 1, 15, 2, 30)),
])
def test_the_next_time_of_a_schedule(text, after, expected) -> None:
    assert parse_schedule(text).next_after(after) == expected


def test_queue_errors_are_one_line_and_an_exit_code(server, tmp_path) -> None:
    url = server.home + "/"
    down = f"redis://127.0.0.1:{free_port()}/0"
    for args, code, said in [
        (["enqueue", url, "--queue", down], 69, "cannot reach the queue at " + down),
        (["worker", "--queue", down, "--out", str(tmp_path / "out"), "--burst"], 69, "cannot reach the queue"),
        (["enqueue", url, "--queue", "http://127.0.0.1:6379/0"], 2, "is neither a Redis URL nor the path of a file"),
        (["enqueue", url, "--queue", str(tmp_path / "no" / "such" / "jobs.sqlite")], 69, "does not exist"),
        (["enqueue", url, "--queue", str(tmp_path)], 69, "cannot open the queue file"),
    ]:
        done = wparchive(*args)
        assert done.returncode == code, (args, done.stderr)
        assert done.stderr.startswith(f"Error: {said}") or said in done.stderr.splitlines()[0], done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 2  # what happened; what to do
    password = wparchive("enqueue", url, "--queue", f"redis://:queue-s3cret@127.0.0.1:{free_port()}/0")
    assert password.returncode == 69 and "s3cret" not in password.stderr
    queue = str(tmp_path / "jobs.sqlite")
    assert wparchive("enqueue", url, "--queue", queue).returncode == 0
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    unwritable = wparchive("worker", "--queue", queue, "--out", str(blocked / "out"), "--burst")
    assert unwritable.returncode == 1 and unwritable.stderr.startswith(f"Error: cannot make the folder {blocked / 'out'}")
    assert "Traceback" not in unwritable.stderr


def test_a_job_not_of_wparchive_is_dropped_and_runs_nothing(server, tmp_path) -> None:
    from wparchive.queue import JobQueue

    queue = str(tmp_path / "jobs.sqlite")
    huey = JobQueue(queue)._huey
    marker = tmp_path / "pwned"
    for data in [b"\x80\x04\x95not json", b'{"message": {"name": "os.system", "args": ["touch %s"]}}' % bytes(marker),
                 b'{"message": {"id": "x", "name": "wparchive.queue.harvest-site", "args": ["file:///etc/passwd"],'
                 b' "kwargs": {}}}']:
        huey.storage.enqueue(data)
    worked = subprocess.run(worker_command(queue, tmp_path / "out", write_sites(tmp_path / "config", []), "--burst"),
                            capture_output=True, text=True, timeout=120)
    assert worked.returncode == 0, worked.stderr
    assert not marker.exists() and not list((tmp_path / "out").iterdir())
    assert worked.stderr.count("dropped") == 3



def test_a_failing_site_is_the_only_thing_quiet_prints_and_sets_the_exit_code(server, tmp_path) -> None:
    good, down = server.home + "/", f"http://127.0.0.1:{free_port()}/"
    config = write_sites(tmp_path / "config", [good, down])
    queue = str(tmp_path / "jobs.sqlite")
    assert wparchive("enqueue", "--queue", queue, "--config", str(config)).returncode == 0
    worked = subprocess.run(worker_command(queue, tmp_path / "out", config, "--burst", "--quiet"), capture_output=True,
                            text=True, timeout=300)
    assert worked.returncode == 1  # failed, as harvest says it: the worst of the jobs
    assert worked.stderr.startswith(f"Error: {down}: ") and good not in worked.stderr
    assert runs(tmp_path / "out" / f"127.0.0.1_{server.port}.db") == ["ok"]  # the failure stopped no other job


def test_a_site_whose_workers_keep_stopping_answering_is_given_up(server, tmp_path) -> None:
    from wparchive.queue import MAX_ATTEMPTS, JobQueue

    url = server.home + "/"
    queue = str(tmp_path / "jobs.sqlite")
    # The lease of the third attempt, come due: three workers in a row were killed harvesting the site
    JobQueue(queue)._put(url, None, attempt=MAX_ATTEMPTS + 1, lease=True)
    worked = subprocess.run(worker_command(queue, tmp_path / "out", write_sites(tmp_path / "config", [url]), "--burst"),
                            capture_output=True, text=True, timeout=120)
    assert worked.returncode == 1
    assert worked.stderr.startswith(f"Error: {url}: given up after {MAX_ATTEMPTS} attempts: each time, the worker "
                                    "harvesting it stopped answering")
    assert server.requests == [] and not (tmp_path / "out" / f"127.0.0.1_{server.port}.db").exists()


def _job_message(url: str, **fields: object) -> bytes:
    """A job's message as `enqueue` writes it, with fields changed."""
    message = {"id": f"job-{url}", "name": "wparchive.queue.harvest-site", "eta": None, "retries": 0, "retry_delay": 0,
               "priority": None, "args": [url], "kwargs": {"attempt": 1, "lease": False}, "on_complete": None,
               "on_error": None, "expires": None, "expires_resolved": None}
    return json.dumps({"message": {**message, **fields}}).encode()


def test_an_odd_job_in_the_schedule_is_dropped_in_one_line_and_loses_no_other(make_server, tmp_path) -> None:
    from wparchive.queue import JobQueue

    one, two = make_server(), make_server()
    urls = [one.home + "/", two.home + "/"]
    queue = str(tmp_path / "jobs.sqlite")
    storage = JobQueue(queue)._huey.storage
    past = datetime(2020, 1, 1)
    storage.add_to_schedule(_job_message(urls[0]), past)
    storage.add_to_schedule(_job_message("http://127.0.0.1:9/", eta="2020-01-01T00:00:00+00:00"), past)  # aware
    storage.add_to_schedule(_job_message("http://127.0.0.1:9/", kwargs={"attempt": "2"}), past)
    storage.add_to_schedule(_job_message(urls[1]), past)
    enqueued = wparchive("enqueue", urls[0], "--queue", queue)  # looks at the waiting jobs too
    assert enqueued.returncode == 0 and "already waiting" in enqueued.stderr, enqueued.stderr
    config = write_sites(tmp_path / "config", urls)
    worked = subprocess.run(worker_command(queue, tmp_path / "out", config, "--burst"),
                            capture_output=True, text=True, timeout=300)
    assert "Traceback" not in worked.stderr
    dropped = [line for line in worked.stderr.splitlines() if "dropped" in line]
    assert len(dropped) == 2 and "due time is a naive ISO time" in dropped[0], worked.stderr
    for server in (one, two):  # the good jobs on either side of the odd ones ran
        assert runs(tmp_path / "out" / f"127.0.0.1_{server.port}.db") == ["ok"]


def test_a_worker_stopped_as_a_scheduled_job_ends_leaves_its_next_job_in_the_queue(server, tmp_path) -> None:
    from wparchive.harvest import HarvestSettings
    from wparchive.queue import JobEnded, JobQueue, work

    url = server.home + "/"
    config = write_sites(tmp_path / "config", [url], extra='schedule = "17 3 * * *"\n')
    queue = str(tmp_path / "jobs.sqlite")
    assert wparchive("enqueue", "--queue", queue, "--config", str(config), "--now").returncode == 0
    jobs = JobQueue(queue)
    before = datetime.utcnow()  # noqa: DTZ003 - Huey keeps naive times in UTC
    events = work(jobs, tmp_path / "out", HarvestSettings(config=str(config), workers=1), burst=True)
    ended = next(event for event in events if isinstance(event, JobEnded))
    events.close()  # stopped (SIGTERM) as the job's end is reported
    assert ended.outcome.error is None
    assert _scheduled(jobs) == [(url, _next_0317(before))]  # the schedule goes on


def test_a_redis_password_in_the_query_is_never_shown(tmp_path) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0?db=0&password=queue-s3cret"
    for args in (["enqueue", "http://127.0.0.1:9/", "--queue", down],
                 ["worker", "--queue", down, "--out", str(tmp_path / "out"), "--burst"]):
        done = wparchive(*args)
        assert done.returncode == 69 and "cannot reach the queue at" in done.stderr, done.stderr
        assert "s3cret" not in done.stderr and "password=***" in done.stderr


def test_a_sqlite_file_that_is_no_queue_is_refused_and_left_alone(tmp_path) -> None:
    archive = tmp_path / "archive.db"
    db = sqlite3.connect(archive)
    db.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT)")
    db.commit()
    db.close()
    before = archive.read_bytes()
    for args in (["enqueue", "http://127.0.0.1:9/", "--queue", str(archive)],
                 ["worker", "--queue", str(archive), "--out", str(tmp_path / "out"), "--burst"]):
        done = wparchive(*args)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"Error: --queue {archive} is a SQLite database of something else, not a queue")
        assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 2
    assert archive.read_bytes() == before
    queue = tmp_path / "jobs.sqlite"  # a queue, new or already there, is still opened
    assert wparchive("enqueue", "http://127.0.0.1:9/", "--queue", str(queue)).returncode == 0
    assert wparchive("enqueue", "http://127.0.0.1:9/", "--queue", str(queue)).returncode == 0


def test_every_address_of_a_site_is_one_site_its_archive_and_its_sites_toml_entry(make_server, tmp_path) -> None:
    private = make_server(credentials=("editor", "env-s3cret"))
    listed, port = private.home + "/", private.port
    config = tmp_path / "config"
    config.mkdir()
    (config / "sites.toml").write_text(f'[defaults]\ndelay = 0\nprivate = true\n[[site]]\nurl = "{listed}"\n'
                                       'credentials_env = "QUEUE_TEST_AUTH"\n', encoding="utf-8")
    variants = [f"http://127.0.0.1.:{port}/?", f"https://127.0.0.1:{port}/", f"HTTP://127.0.0.1:{port}#top",
                f"http://127.0.0.1:{port}/?#frag"]
    out = tmp_path / "out"
    assert {site_archive(out, url) for url in [listed, *variants]} == {out / f"127.0.0.1_{port}.db"}
    assert site_archive(out, f"http://127.0.0.1:{port}/blog/") != site_archive(out, listed)  # another site

    queue = str(tmp_path / "jobs.sqlite")
    first = wparchive("enqueue", variants[0], "--queue", queue)
    assert first.stderr.strip() == f"{listed}: queued, due at once", first.stderr
    for url, kept in zip(variants[1:], [f"https://127.0.0.1:{port}/", listed, listed], strict=True):
        again = wparchive("enqueue", url, "--queue", queue)
        assert again.stderr.strip() == f"{kept}: already waiting, due at once: not added again"
    listing = wparchive("enqueue", "--queue", queue, "--config", str(config))
    assert "already waiting" in listing.stderr
    env = {**os.environ, "QUEUE_TEST_AUTH": "editor:env-s3cret"}
    worked = subprocess.run(worker_command(queue, out, config, "--burst"), capture_output=True, text=True,
                            timeout=300, env=env)
    assert worked.returncode == 0, worked.stderr
    assert worked.stderr.count(": started") == 1  # one job for every address
    assert private.request_headers and all("Authorization" in headers for headers in private.request_headers)
    assert runs(out / f"127.0.0.1_{port}.db") == ["ok"]


def test_a_listed_only_worker_drops_the_jobs_of_sites_its_sites_toml_does_not_list(make_server, tmp_path) -> None:
    listed, other = make_server(), make_server()
    config = write_sites(tmp_path / "config", [listed.home + "/"])
    queue = str(tmp_path / "jobs.sqlite")
    assert wparchive("enqueue", other.home + "/", listed.home + "/", "--queue", queue).returncode == 0
    out = tmp_path / "out"
    worked = subprocess.run(worker_command(queue, out, config, "--burst", "--listed-only"), capture_output=True,
                            text=True, timeout=300)
    assert worked.returncode == 0, worked.stderr
    assert f"{other.home}/: a job for a site this worker's sites.toml does not list (--listed-only): dropped" \
        in worked.stderr
    assert other.requests == [] and not (out / f"127.0.0.1_{other.port}.db").exists()
    assert runs(out / f"127.0.0.1_{listed.port}.db") == ["ok"]
    again = subprocess.run(worker_command(queue, out, config, "--burst"), capture_output=True, text=True, timeout=120)
    assert again.stderr == ""  # dropped, not put back

    empty = write_sites(tmp_path / "empty", [])
    refused = subprocess.run(worker_command(queue, out, empty, "--burst", "--listed-only"), capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode == 1 and "lists no site: this worker would take no job" in refused.stderr
    assert "Traceback" not in refused.stderr
