"""Harvests spread over machines: a queue of "harvest this site" jobs that workers take one at a time,
each site into an archive of its own (what `wparchive enqueue` and `wparchive worker` run).

Huey keeps the jobs: in Redis for many machines (RedisHuey), or in a SQLite file for one (SqliteHuey).
A job holds the site's URL and nothing else; credentials stay in each worker's own sites.toml and
environment. Huey drops a job from the queue as a worker takes it, so the worker leases it: it puts
a copy of the job into Huey's schedule, due `lease` seconds later, and from a heartbeat thread
renews it (a new copy, the old one revoked) while the harvest runs. A job that ends, well or not,
revokes its copy. A worker killed mid-job leaves the copy to come due, and another worker harvests
the site again, where its archive continues from the last page saved. A stopped worker (Ctrl-C,
SIGTERM) puts its job back at once. A site with a schedule is put back into the queue, due at its
next time, as each of its jobs ends; the workers move due jobs from the schedule into the queue
as they look for work, so a fleet needs no crontab. Each message is checked whole as it is read; one that is
no wparchive job is dropped, said in one line, and no other job with it.
"""

from __future__ import annotations

import calendar
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from huey import RedisHuey, SqliteHuey
from huey.api import Task
from huey.registry import Message
from huey.serializer import Serializer
from huey.storage import RedisStorage
from redis.exceptions import RedisError

from .client import split_credentials, url_problem
from .config import SiteConfig, load_sites_and_defaults
from .errors import ArchiveUnavailable, BadQueueAddress, ConfigError, QueueUnavailable, WPArchiveError
from .harvest import HarvestSettings, SiteOutcome, harvest_sites
from .paths import config_dir, site_archive, site_key, site_url
from .progress import Progress, SilentProgress, SiteProgress

log = logging.getLogger(__name__)

QUEUE_NAME = "wparchive"  # Redis keys huey.redis.wparchive, huey.schedule.wparchive, huey.results.wparchive
JOB_NAME = "harvest-site"
DEFAULT_LEASE = 300.0  # seconds a worker may stay silent before its job goes to another
MAX_ATTEMPTS = 3  # a site whose worker stopped answering this many times is given up: it may be what kills them
IDLE_SECONDS = 1.0  # how often an idle worker looks at a SQLite queue again (Redis waits this long itself)
REDIS_SCHEMES = ("redis", "rediss", "unix")


def utc_now() -> datetime:
    """Now, as Huey keeps times: a naive datetime in UTC."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class _JsonSerializer(Serializer):  # type: ignore[misc]
    """Huey's messages as JSON rather than pickle: whoever can write to the queue can add jobs, but
    cannot make a worker run code of theirs."""

    def _serialize(self, data: Any) -> bytes:
        if isinstance(data, Message):
            data = {"message": {**data._asdict(), "eta": data.eta.isoformat() if data.eta else None}}
        return json.dumps(data).encode("utf-8")

    def _deserialize(self, data: bytes) -> Any:
        value = json.loads(data)
        if isinstance(value, dict) and "message" in value:
            return _job_message(value["message"])
        return value


# What Huey would act on itself (priorities, chained tasks, expiry) and a worker never sets: anyone may write
# to the queue, and Huey trips over odd values of these only later, in the middle of moving jobs around.
_UNSET_FIELDS = ("priority", "on_complete", "on_error", "expires", "expires_resolved")
_JOB_KWARGS = {"attempt": int, "lease": bool}


class _NotAJob(ValueError):
    """What makes a well-formed message no wparchive job."""


def _job_message(fields: Any) -> Message:
    """A wparchive job's message, checked whole as it is read, or _NotAJob: a message that passes here can be
    compared, scheduled and queued without failing later."""
    if not isinstance(fields, dict) or not set(fields) <= set(Message._fields):
        raise _NotAJob("not a message of Huey's")
    fields = {name: fields.get(name) for name in Message._fields}
    if any(fields[name] is not None for name in _UNSET_FIELDS):
        raise _NotAJob("a message with a priority, an expiry or tasks chained to it is not a wparchive job")
    if not isinstance(fields["id"], str) or not isinstance(fields["name"], str):
        raise _NotAJob("a message without an id or a name")
    if any(fields[name] is not None and type(fields[name]) is not int for name in ("retries", "retry_delay")):
        raise _NotAJob("a message whose retries are not a number")
    args, kwargs = fields["args"], fields["kwargs"]
    if not (isinstance(args, list) and len(args) == 1 and isinstance(args[0], str)):
        raise _NotAJob("a job names one site, by its URL")
    if not isinstance(kwargs, dict) or any(type(kwargs[key]) is not _JOB_KWARGS.get(key) for key in kwargs):
        raise _NotAJob("a job's options are its attempt (a number) and lease (true or false) only")
    eta = fields["eta"]
    if eta is not None:
        try:
            due = datetime.fromisoformat(eta) if isinstance(eta, str) else None
        except ValueError:
            due = None
        if due is None or due.tzinfo is not None:  # Huey compares naive times in UTC only
            raise _NotAJob("a job's due time is a naive ISO time, in UTC")
        eta = due
    return Message(**{**fields, "args": tuple(args), "eta": eta})


class _UtcRedisStorage(RedisStorage):  # type: ignore[misc]
    """Huey's Redis storage, scoring its schedule by the time in UTC. Huey's own reads its naive UTC
    times as local times: two machines in different time zones would then see each other's leases as
    due hours early (or late)."""

    def convert_ts(self, ts: datetime) -> float:
        return calendar.timegm(ts.timetuple()) + ts.microsecond / 1e6


def shown_address(address: str) -> str:
    """The queue's address as messages show it: a Redis password, before the host (:PASSWORD@) or in the
    query (?password=), is never shown."""
    url = split_credentials(address)[0]
    base, sep, query = url.partition("?")
    if not sep:
        return url
    hidden = ("password=***" if part.partition("=")[0].lower() == "password" else part for part in query.split("&"))
    return f"{base}?{'&'.join(hidden)}"


HUEY_TABLES = frozenset({"kv", "schedule", "task"})  # those SqliteHuey makes


def _refuse_other_database(path: Path) -> None:
    """BadQueueAddress when path is a SQLite file with tables but not Huey's (an archive, say): SqliteHuey would
    add its tables to it."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error:
        return  # not SQLite, or unreadable: opening it as a queue says so
    if tables and not HUEY_TABLES <= tables:
        raise BadQueueAddress(f"--queue {path} is a SQLite database of something else, not a queue: its tables "
                              "are left alone", hint="Give --queue the path of a new file, or of a queue.")


def _not_run_by_huey(site_url: str, **_: Any) -> None:
    """The task jobs are registered as: workers run the harvest themselves (see work)."""
    raise RuntimeError("a wparchive job is run by `wparchive worker`, not by Huey's consumer")


@dataclass(frozen=True)
class Job:
    """A job a worker took: the site, and how many workers have taken it (2 and more: a retry)."""

    site_url: str
    attempt: int


@dataclass(frozen=True)
class Enqueued:
    """What putting a site's job into the queue did."""

    site_url: str
    due: datetime | None  # when its job is due, in UTC; None: at once
    added: bool  # False: a job of the site already waited, due no later (due is that one's)
    schedule: str | None = None


class JobQueue:
    """The queue at an address: a Redis URL (redis://, rediss://, unix://) or the path of a SQLite file.

    QueueUnavailable when it cannot be reached or opened, BadQueueAddress when the address is neither.
    """

    def __init__(self, address: str) -> None:
        self.shown = shown_address(address)
        self._huey = self._open(address)
        self._job = self._huey.task(name=JOB_NAME)(_not_run_by_huey)
        self._redis = isinstance(self._huey, RedisHuey)
        if self._redis:
            with self._reaching():
                self._huey.storage.conn.ping()

    def _open(self, address: str) -> Any:
        scheme, sep, _ = address.partition("://")
        serializer = _JsonSerializer()
        if sep:
            if scheme.lower() not in REDIS_SCHEMES:
                raise BadQueueAddress(f"--queue {self.shown!r} is neither a Redis URL nor the path of a file")
            try:
                return RedisHuey(QUEUE_NAME, url=address, results=False, serializer=serializer, read_timeout=1,
                                 storage_class=_UtcRedisStorage)
            except ValueError as exc:
                raise BadQueueAddress(f"--queue {self.shown!r} is not a Redis URL: {exc}") from None
        path = Path(address)
        folder = path.parent.resolve()
        if not folder.is_dir():
            raise QueueUnavailable(f"cannot open the queue file {path}: the folder {folder} does not exist")
        _refuse_other_database(path)
        try:
            return SqliteHuey(QUEUE_NAME, filename=str(path), results=False, serializer=serializer)
        except sqlite3.Error as exc:
            raise QueueUnavailable(f"cannot open the queue file {path}: {exc}") from None

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        """The queue's own failures as QueueUnavailable."""
        try:
            yield
        except RedisError as exc:
            raise QueueUnavailable(f"cannot reach the queue at {self.shown}: {exc}") from None
        except sqlite3.Error as exc:
            raise QueueUnavailable(f"cannot use the queue file {self.shown}: {exc}") from None

    # Putting jobs in

    def add(self, jobs: Iterable[tuple[str, datetime | None]], *, schedules: dict[str, str] | None = None
            ) -> list[Enqueued]:
        """Put a job for each (site URL, due time in UTC or None for at once) into the queue, but for a site
        a job already waits for, due no later: adding one would harvest it twice. Each URL goes in as site_url
        makes it, and two URLs of one site (site_key) are one site."""
        schedules = {site_key(url): schedule for url, schedule in (schedules or {}).items()}
        with self._reaching():
            now = utc_now()
            waiting = self._waiting(now)
            done = []
            for url, due in jobs:
                url, key = site_url(url), site_key(url)
                due = None if due is None or due <= now else due
                if key in waiting and (waiting[key] or now) <= (due or now):
                    done.append(Enqueued(url, waiting[key], False, schedules.get(key)))
                    continue
                self._put(url, due, attempt=1)
                waiting[key] = due
                done.append(Enqueued(url, due, True, schedules.get(key)))
            return done

    def _put(self, url: str, due: datetime | None, *, attempt: int, lease: bool = False) -> Task:
        if split_credentials(url)[1] is not None:  # SiteConfig took them out; nothing may put them back
            raise ValueError("a job's URL may not hold credentials")
        task = self._job.s(url, attempt=attempt, lease=lease)
        if due is None:
            self._huey.enqueue(task)
        else:
            task.eta = due  # set here, not through s(eta=…), which would read a naive time as local time
            self._huey.add_schedule(task)
        return task

    def _waiting(self, now: datetime) -> dict[str, datetime | None]:
        """Each site (by site_key) a job waits for (leases of jobs being run are not waiting), and when the first
        is due."""
        waiting: dict[str, datetime | None] = {}
        for task in self._tasks(self._huey.storage.enqueued_items()):
            if not (task.kwargs.get("lease") and self._huey.is_revoked(task)):
                waiting[site_key(task.args[0])] = None
        for task in self._tasks(self._huey.storage.scheduled_items()):
            if task.kwargs.get("lease"):
                continue
            key, due = site_key(task.args[0]), None if task.eta is None or task.eta <= now else task.eta
            if key not in waiting or (due or now) < (waiting[key] or now):
                waiting[key] = due
        return waiting

    def _tasks(self, raw: Iterable[bytes]) -> Iterator[Task]:
        """The jobs among raw messages; what is not one of ours is passed over."""
        for data in raw:
            try:
                task = self._huey.deserialize_task(data)
            except Exception:  # anything may be written to a queue: it is not our job
                continue
            if _site_of(task) is not None:
                yield task

    # Taking jobs

    def take(self) -> Job | None:
        """The next job due, or None when none is: first the schedule's due jobs (new ones, and leases
        of workers that stopped answering) are moved into the queue. Jobs not of ours are dropped, said
        in the log."""
        with self._reaching():
            # Each due job moved on its own (not Huey's read_schedule, which fails them all for one odd one):
            # the schedule gives them up as it is read, so a job not put into the queue would be lost.
            for data in self._huey.storage.read_schedule(utc_now()):
                job = self._job_or_dropped(data)
                if job is not None:
                    self._huey.enqueue(job[0])
            while True:
                data = self._huey.storage.dequeue()
                if data is None:
                    return None
                job = self._job_or_dropped(data)
                if job is None:
                    continue
                task, url = job
                if not self._huey.ready_to_run(task):
                    self._huey.add_schedule(task)
                elif not self._huey.is_revoked(task, peek=False):  # a lease renewed, or revoked as its job ended
                    attempt = task.kwargs.get("attempt")
                    return Job(url, attempt if isinstance(attempt, int) and attempt > 0 else 1)

    def _job_or_dropped(self, data: bytes) -> tuple[Task, str] | None:
        """The job in a message taken from the queue and its site, or None, said in one line of the log."""
        try:
            task = self._huey.deserialize_task(data)
        except Exception as exc:  # anything may be written to a queue; the message is gone, say so and go on
            reason = f" ({exc})" if isinstance(exc, _NotAJob) else ""
            log.warning("a message in the queue is not a wparchive job%s: dropped", reason)
            return None
        url = _site_of(task)
        if url is None:
            log.warning("a job in the queue names no usable site: dropped")
            return None
        return task, url

    def busy(self) -> bool:
        """Whether a job waits to run now, or a worker still runs one (its lease is alive): a worker with
        --burst waits for those, to take the job over should that worker stop answering."""
        with self._reaching():
            if self._huey.pending_count():
                return True
            now = utc_now()
            return any((task.eta is None or task.eta <= now) or (task.kwargs.get("lease")
                                                                 and not self._huey.is_revoked(task))
                       for task in self._tasks(self._huey.storage.scheduled_items()))

    def idle(self) -> None:
        """Wait a moment before looking again (Redis's take waits on its own)."""
        if not self._redis:
            time.sleep(IDLE_SECONDS)

    @contextmanager
    def leased(self, job: Job, seconds: float) -> Iterator[None]:
        """While the block runs, a copy of job waits `seconds` ahead in the schedule, renewed every third
        of that; it is revoked as the block ends. Stopped (KeyboardInterrupt, or the generator closed),
        the job is put back into the queue at once: another worker continues it."""
        with self._reaching():
            held = [self._lease(job, seconds)]
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(seconds / 3):
                try:
                    fresh = self._lease(job, seconds)
                    self._huey.revoke(held[0], revoke_once=True)
                    held[0] = fresh
                except (RedisError, sqlite3.Error) as exc:
                    log.warning("%s: the lease of its job could not be renewed: %s", job.site_url, exc)

        heartbeat = threading.Thread(target=renew, name="wparchive-lease", daemon=True)
        heartbeat.start()
        stopped = False
        try:
            yield
        except (KeyboardInterrupt, GeneratorExit):
            stopped = True
            raise
        finally:
            stop.set()
            heartbeat.join()
            try:
                if stopped:
                    self._put(job.site_url, None, attempt=job.attempt)
                self._huey.revoke(held[0], revoke_once=True)
            except (RedisError, sqlite3.Error) as exc:  # the lease then comes due, and the job is retried
                log.warning("%s: the queue could not be told the job ended: %s", job.site_url, exc)

    def _lease(self, job: Job, seconds: float) -> Task:
        return self._put(job.site_url, utc_now() + timedelta(seconds=seconds), attempt=job.attempt + 1, lease=True)


def _site_of(task: Task) -> str | None:
    """The site a job names (as site_url makes it), or None when it is not a usable one (no URL, or one with
    credentials)."""
    args = task.args
    url = args[0] if isinstance(args, (list, tuple)) and len(args) == 1 else None
    if not isinstance(url, str) or not isinstance(task.kwargs, dict) or url_problem(url) is not None:
        return None
    if split_credentials(url)[1] is not None:
        return None
    return site_url(url)


# What `wparchive enqueue` runs


def enqueue_sites(queue: JobQueue, sites: Iterable[SiteConfig], *, at_once: bool = False) -> list[Enqueued]:
    """Put a job for each site into the queue: due at its schedule's next time, or at once when it has none
    (or with at_once); a site a job already waits for, due no later, is not added again."""
    now = utc_now()
    jobs, schedules = [], {}
    for site in sites:
        schedule = site.parsed_schedule()
        jobs.append((site.url, None if at_once or schedule is None else schedule.next_after(now)))
        if site.schedule:
            schedules[site.url] = site.schedule
    return queue.add(jobs, schedules=schedules)


# What `wparchive worker` runs


@dataclass(frozen=True)
class JobStarted:
    site_url: str
    archive: Path
    attempt: int  # 2 and more: the worker that had the job before stopped answering


@dataclass(frozen=True)
class JobEnded:
    site_url: str
    archive: Path
    outcome: SiteOutcome


@dataclass(frozen=True)
class Rescheduled:
    """A site's next scheduled harvest, put into the queue as its job ended (or found already waiting)."""

    enqueued: Enqueued


def work(queue: JobQueue, out: str | os.PathLike[str], settings: HarvestSettings | None = None, *,
         burst: bool = False, lease: float = DEFAULT_LEASE, progress: Progress | None = None,
         listed_only: bool = False) -> Iterator[JobStarted | JobEnded | Rescheduled]:
    """Take jobs from the queue and harvest each site into out/<site>.db, as `wparchive harvest` would
    (harvest_sites), yielding as each job starts and ends; a site with a schedule is then put back into
    the queue for its next time. Without burst it waits for jobs until stopped (KeyboardInterrupt,
    which records the harvest `interrupted` and puts its job back); with burst it returns once no job
    is due and no other worker runs one.

    A site of the sites.toml in settings.config is harvested with its options and credentials; another
    with its [defaults] only, anonymously; with listed_only, a job for another site is dropped, said in the log
    (put back, it would go round the workers for ever; a fleet's workers list the same sites), and ConfigError
    when sites.toml lists no site. ArchiveUnavailable when out cannot be written; QueueUnavailable
    when the queue goes away; a harvest's own errors end in its JobEnded's outcome.
    """
    settings = settings or HarvestSettings()
    progress = progress or SilentProgress()
    folder = _writable_folder(Path(out))
    sites, defaults = _worker_sites(settings.config)
    if listed_only and not sites:
        raise ConfigError(f"--listed-only, but {config_dir(settings.config) / 'sites.toml'} lists no site: this "
                          "worker would take no job")
    reporting = threading.Lock()
    while True:
        job = queue.take()
        if job is None:
            if burst and not queue.busy():
                return
            queue.idle()
            continue
        if listed_only and site_key(job.site_url) not in sites:
            log.warning("%s: a job for a site this worker's sites.toml does not list (--listed-only): dropped",
                        job.site_url)
            continue
        site = sites.get(site_key(job.site_url)) or SiteConfig.model_validate({**defaults, "url": job.site_url})
        archive = site_archive(folder, site.url)
        if job.attempt > MAX_ATTEMPTS:
            outcome = SiteOutcome(url=site.url, error=WPArchiveError(
                f"given up after {MAX_ATTEMPTS} attempts: each time, the worker harvesting it stopped answering",
                hint="It may be what stops them (memory?): harvest it alone with wparchive harvest to see, then "
                     "enqueue it again."))
            enqueued = _next_harvest(queue, site)
        else:
            with queue.leased(job, lease):
                yield JobStarted(site.url, archive, job.attempt)
                outcome = _harvest(archive, site, settings, SiteProgress(progress, site.url, reporting))
                # before the lease goes: a worker stopped in between would otherwise end the site's schedule
                enqueued = _next_harvest(queue, site)
        yield JobEnded(site.url, archive, outcome)
        if enqueued is not None:
            yield Rescheduled(enqueued)


def _next_harvest(queue: JobQueue, site: SiteConfig) -> Enqueued | None:
    """The site's next scheduled job, put into the queue (or found waiting); None for a site without a schedule."""
    schedule = site.parsed_schedule()
    if schedule is None:
        return None
    [enqueued] = queue.add([(site.url, schedule.next_after(utc_now()))], schedules={site.url: schedule.text})
    return enqueued


def _harvest(archive: Path, site: SiteConfig, settings: HarvestSettings, progress: Progress) -> SiteOutcome:
    """One site into its own archive, as `wparchive harvest` does; what stops it ends in the outcome."""
    try:
        [outcome] = harvest_sites(str(archive), [site], settings, progress=progress)
    except WPArchiveError as exc:  # credentials unreadable, the archive locked by another harvest, not an archive
        return SiteOutcome(url=site.url, error=exc)
    return outcome


def _writable_folder(folder: Path) -> Path:
    """folder, made when missing; ArchiveUnavailable when it cannot be made or written in."""
    hint = "Give --out a folder you may write to (it is made when missing)."
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveUnavailable(f"cannot make the folder {folder}: {exc.strerror or exc}", hint=hint) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ArchiveUnavailable(f"cannot write in {folder}: permission denied", hint=hint)
    return folder


def _worker_sites(config: str | os.PathLike[str] | None) -> tuple[dict[str, SiteConfig], dict[str, object]]:
    """The sites of the worker's sites.toml by site_key, and its [defaults] for the others. Without --config, a
    missing file is no site at all; named with --config, it must be there."""
    path = config_dir(config) / "sites.toml"
    if config is None and not path.exists():
        return {}, {}
    sites, defaults = load_sites_and_defaults(path)
    by_url: dict[str, SiteConfig] = {}
    for site in sites:
        if by_url.setdefault(site_key(site.url), site) is not site:
            raise ConfigError(f"{path} lists {site.url} twice (as {by_url[site_key(site.url)].url} too): a worker "
                              "would not know which to use")
    return by_url, defaults
