"""The job queue on a real Redis (Debian's redis-server, installed when missing): several worker processes
against sample sites on loopback, a worker killed mid-job, a stopped one, schedules, credentials."""

from __future__ import annotations

import calendar
import json
import os
import shutil
import signal
import subprocess
import time
from datetime import datetime
from typing import Any, Iterator

import pytest

from harness import Unavailable, ensure_debian_packages
from test_queue import (
    CONTENT_COLUMNS, free_port, posts, reference_posts, runs, worker_command, write_signed_in_sites, write_sites, wparchive,
)

pytestmark = pytest.mark.integration
redis = pytest.importorskip("redis", reason="the job queue needs redis and huey: pip install 'wparchive[queue]'")
pytest.importorskip("huey", reason="the job queue needs huey: pip install 'wparchive[queue]'")

PENDING, SCHEDULE, RESULTS = "huey.redis.wparchive", "huey.schedule.wparchive", "huey.results.wparchive"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A Redis of its own on 127.0.0.1, keeping nothing on disk; its port."""
    try:
        ensure_debian_packages(["redis-server"], lambda: bool(shutil.which("redis-server")))
    except Unavailable as exc:
        pytest.skip(str(exc))
    port = free_port()
    process = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
                                "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", str(tmp_path_factory.mktemp("redis"))],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.skip("redis-server did not answer within 10 s")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def queue(redis_server: int) -> str:
    """The queue's URL, emptied for each test."""
    redis.Redis(port=redis_server).flushdb()
    return f"redis://127.0.0.1:{redis_server}/0"


def _redis(queue: str) -> Any:
    return redis.Redis.from_url(queue)


def _everything(queue: str) -> bytes:
    """Every key and value Redis holds, as one blob to search."""
    client, seen = _redis(queue), []
    for key in client.keys("*"):
        kind = client.type(key).decode()
        value = {"list": lambda k: client.lrange(k, 0, -1), "zset": lambda k: client.zrange(k, 0, -1),
                 "hash": lambda k: list(client.hgetall(k).items()), "string": client.get,
                 "set": client.smembers}[kind](key)
        seen.append(repr((key, value)).encode())
    return b"\n".join(seen)


def _jobs(queue: str, key: str) -> list[dict[str, Any]]:
    client = _redis(queue)
    raw = client.lrange(key, 0, -1) if key == PENDING else client.zrange(key, 0, -1)
    return [json.loads(data)["message"] for data in raw]


def test_two_workers_harvest_three_sites_each_into_its_own_archive(make_server, queue, tmp_path) -> None:
    servers = [make_server() for _ in range(3)]
    urls = [server.home + "/" for server in servers]
    config = write_sites(tmp_path / "config", urls)
    for _ in range(2):
        assert wparchive("enqueue", "--queue", queue, "--config", str(config)).returncode == 0
    assert sorted(job["args"][0] for job in _jobs(queue, PENDING)) == sorted(urls)  # enqueued twice: one job each

    out = tmp_path / "archives"
    workers = [subprocess.Popen(worker_command(queue, out, config, "--burst"), stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    said = [worker.communicate(timeout=300)[1] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], said
    started = [line for text in said for line in text.splitlines() if ": started → " in line]
    assert sorted(line.split(": started")[0] for line in started) == sorted(urls)  # each site once, by either
    expected = reference_posts(urls[0], tmp_path, CONTENT_COLUMNS)
    for server in servers:
        archive = out / f"127.0.0.1_{server.port}.db"
        assert runs(archive) == ["ok"]
        assert posts(archive, CONTENT_COLUMNS) == expected
    assert _jobs(queue, PENDING) == []


def test_the_job_of_a_killed_worker_is_taken_over_and_its_archive_completed(make_server, queue, tmp_path) -> None:
    server = make_server()
    url = server.home + "/"
    config = write_sites(tmp_path / "config", [url])
    assert wparchive("enqueue", url, "--queue", queue).returncode == 0
    out = tmp_path / "archives"
    first = subprocess.Popen(worker_command(queue, out, config, "--burst", "--lease", "2"), stderr=subprocess.PIPE,
                             text=True)
    seen = {"n": 0}

    def kill_mid_job(path: str, query: dict[str, str]) -> None:
        seen["n"] += 1
        if seen["n"] == 6:  # the site's collections are being saved
            os.kill(first.pid, signal.SIGKILL)

    server.fault = kill_mid_job
    first.communicate(timeout=300)
    assert first.returncode == -signal.SIGKILL, "the worker ended before it could be killed"
    archive = out / f"127.0.0.1_{server.port}.db"
    assert runs(archive) == ["running"]  # left so: the killed worker could not record its end
    assert _jobs(queue, PENDING) == []  # Huey dropped the job as the worker took it: only its lease is left
    [lease] = _jobs(queue, SCHEDULE)
    assert lease["args"] == [url] and lease["kwargs"] == {"attempt": 2, "lease": True}

    server.fault = None
    second = subprocess.run(worker_command(queue, out, config, "--burst"), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert f"{url}: started (attempt 2: the worker that had it stopped answering) → {archive}" in second.stderr
    assert "marked killed; this run continues where it stopped" in second.stderr  # the archive was not left locked
    assert runs(archive) == ["killed", "ok"]
    assert posts(archive, CONTENT_COLUMNS) == reference_posts(url, tmp_path, CONTENT_COLUMNS)


def test_a_stopped_worker_records_its_run_interrupted_and_puts_the_job_back(make_server, queue, tmp_path) -> None:
    server = make_server()
    url = server.home + "/"
    config = write_sites(tmp_path / "config", [url])
    assert wparchive("enqueue", url, "--queue", queue).returncode == 0
    out = tmp_path / "archives"
    waiting = subprocess.Popen(worker_command(queue, out, config), stderr=subprocess.PIPE, text=True)  # no --burst
    seen = {"n": 0}

    def stop_mid_job(path: str, query: dict[str, str]) -> None:
        seen["n"] += 1
        if seen["n"] == 6:
            os.kill(waiting.pid, signal.SIGTERM)

    server.fault = stop_mid_job
    said = waiting.communicate(timeout=300)[1]
    assert waiting.returncode == 143, said
    assert "Stopped by SIGTERM" in said and "Traceback" not in said
    archive = out / f"127.0.0.1_{server.port}.db"
    assert runs(archive) == ["interrupted"]
    assert [job["args"] for job in _jobs(queue, PENDING)] == [[url]]  # back in the queue, due at once
    server.fault = None
    again = subprocess.run(worker_command(queue, out, config, "--burst"), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{url}: started → {archive}" in again.stderr  # a first attempt still: stopping is not the site's fault
    assert runs(archive) == ["interrupted", "ok"]


def test_a_scheduled_site_returns_to_the_queue_and_runs_when_due(make_server, queue, tmp_path) -> None:
    from huey.utils import utcnow

    server = make_server()
    url = server.home + "/"
    config = write_sites(tmp_path / "config", [url], extra='schedule = "17 3 * * *"\n')
    assert wparchive("enqueue", "--queue", queue, "--config", str(config), "--now").returncode == 0
    out = tmp_path / "archives"
    elsewhere = {**os.environ, "TZ": "Asia/Kolkata"}  # a worker in another time zone: the schedule is in UTC
    first = subprocess.run(worker_command(queue, out, config, "--burst"), capture_output=True, text=True, timeout=300,
                           env=elsewhere)
    assert first.returncode == 0, first.stderr
    assert "next harvest due " in first.stderr and "(schedule 17 3 * * *)" in first.stderr
    [job] = [job for job in _jobs(queue, SCHEDULE) if not job["kwargs"].get("lease")]
    assert job["args"] == [url] and job["eta"].endswith("03:17:00")
    [score] = [score for member, score in _redis(queue).zrange(SCHEDULE, 0, -1, withscores=True)
               if json.loads(member)["message"]["id"] == job["id"]]
    assert score == calendar.timegm(datetime.fromisoformat(job["eta"]).timetuple())  # seconds since 1970 in UTC

    # Time passes: the job is made due now, as its time coming would make it
    client = _redis(queue)
    [member] = [m for m in client.zrange(SCHEDULE, 0, -1) if json.loads(m)["message"]["id"] == job["id"]]
    now = utcnow()
    message = json.loads(member)
    message["message"]["eta"] = now.isoformat()
    client.zrem(SCHEDULE, member)
    client.zadd(SCHEDULE, {json.dumps(message): calendar.timegm(now.timetuple())})
    second = subprocess.run(worker_command(queue, out, config, "--burst"), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert f"{url}: started" in second.stderr
    assert runs(out / f"127.0.0.1_{server.port}.db") == ["ok", "ok"]
    [again] = [job for job in _jobs(queue, SCHEDULE) if not job["kwargs"].get("lease")]
    assert again["args"] == [url] and again["eta"].endswith("03:17:00") and again["id"] != job["id"]
    listed = wparchive("enqueue", "--queue", queue, "--config", str(config))
    assert "already waiting" in listed.stderr  # the worker's job is the one: enqueue adds no second


def test_credentials_never_reach_redis(make_server, queue, tmp_path) -> None:
    inline = make_server(credentials=("editor", "inline-s3cret"))
    by_env = make_server(credentials=("editor", "env-s3cret"))
    config = write_signed_in_sites(tmp_path / "config", inline, by_env, schedule="daily")
    assert wparchive("enqueue", "--queue", queue, "--config", str(config), "--now").returncode == 0
    snapshots = [_everything(queue)]

    def look_mid_job(path: str, query: dict[str, str]) -> None:
        if len(snapshots) < 4:
            snapshots.append(_everything(queue))

    inline.fault = by_env.fault = look_mid_job
    env = {**os.environ, "QUEUE_TEST_AUTH": "editor:env-s3cret"}
    worked = subprocess.run(worker_command(queue, tmp_path / "out", config, "--burst"), capture_output=True,
                            text=True, timeout=300, env=env)
    assert worked.returncode == 0, worked.stderr
    snapshots.append(_everything(queue))
    for server in (inline, by_env):  # signed in, with what the worker's own configuration gives
        assert all("Authorization" in headers for headers in server.request_headers)
    assert all(inline.home.encode() in snapshot for snapshot in snapshots)  # the jobs (or leases) were there
    assert not [snapshot for snapshot in snapshots if b"s3cret" in snapshot]


def test_a_job_with_a_priority_is_dropped_and_the_other_due_jobs_run(make_server, queue, tmp_path) -> None:
    from test_queue import _job_message

    one, two = make_server(), make_server()
    urls = [one.home + "/", two.home + "/"]
    client = _redis(queue)
    # Due long ago, the odd one first: Huey's own move of due jobs into the queue failed them all at it
    client.zadd(SCHEDULE, {_job_message("http://127.0.0.1:9/", priority=5): 1, _job_message(urls[0]): 2,
                           _job_message(urls[1]): 3})
    worked = subprocess.run(worker_command(queue, tmp_path / "out", write_sites(tmp_path / "config", urls), "--burst"),
                            capture_output=True, text=True, timeout=300)
    assert worked.returncode == 0 and "Traceback" not in worked.stderr, worked.stderr
    [dropped] = [line for line in worked.stderr.splitlines() if "dropped" in line]
    assert "priority" in dropped
    for server in (one, two):
        assert runs(tmp_path / "out" / f"127.0.0.1_{server.port}.db") == ["ok"]
    assert _jobs(queue, PENDING) == []
