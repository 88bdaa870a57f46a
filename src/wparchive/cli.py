"""The wparchive command line: options, wiring, progress and messages. No HTTP, no SQL here."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

# Only what reading an archive needs is imported here. harvest, rebuild and demo import the
# harvester and the cleaner (requests, lxml, html-to-markdown, pydantic, bs4) inside themselves, so that
# serve and export start without loading them; tests/test_startup.py holds them to it. export and
# search import the exporters (YAML, WXR, WACZ, static sites) themselves: no other command needs them.
from . import MAX_CONCURRENCY, MAX_JOBS, __version__
from .db import archive_lock, open_db
from .errors import ArchiveMissing, ConfigError, DatabaseLocked, PortUnavailable, WPArchiveError
from .db.queries import SORTS
from .export_choices import FORMATS, WXR_MAX_MB
from .paths import config_dir, media_folder
from .progress import Progress, SilentProgress

if TYPE_CHECKING:
    from .config import SiteConfig
    from .harvest import HarvestResult, HarvestSettings, SiteOutcome

EXIT_OK = 0
EXIT_FAILED = WPArchiveError.exit_code  # 1; click's own usage errors exit 2
EXIT_PARTIAL = 3
EXIT_LOCKED = DatabaseLocked.exit_code  # 75, EX_TEMPFAIL: cron may simply try again later
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM: kill, systemd, a container stopping (129 for SIGHUP)
INTERRUPTED = "Interrupted. What was saved is kept; run the same command again to continue."
STOPPED = "Stopped by {signal}. What was saved is kept; run the same command again to continue."

# What stops a harvest or a rebuild cleanly: Ctrl-C, kill, systemd, a closed terminal.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Stopped(KeyboardInterrupt):
    """A stop signal other than Ctrl-C, raised as Ctrl-C is so that the library ends its run the
    same way (recorded `interrupted`); the command then exits 128 + the signal's number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

class _Path(click.Path):
    """click's Path, refusing an empty path and one with a NUL or another control character: a usage
    error, where the operating system would raise a ValueError deep inside a command."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and (not value or any(c < " " or c == "\x7f" for c in value)):
            self.fail(f"{value!r} is not a path: it is empty or holds a control character", param, ctx)
        return super().convert(value, param, ctx)


db_option = click.option(
    "--db", "db_path", default="archive.db", show_default=True, type=_Path(dir_okay=False),
    help="The archive database (SQLite).",
)

# serve and search take several archives: --db more than once, or their paths as arguments.
archives_argument = click.argument("archives", nargs=-1, type=_Path(dir_okay=False))
dbs_option = click.option(
    "--db", "db_path", multiple=True, default=["archive.db"], show_default=True, type=_Path(dir_okay=False),
    help="The archive database (SQLite); give several (or their paths as ARCHIVES) to have them as one.",
)


def _archive_paths(db_paths: tuple[str, ...], archives: tuple[str, ...]) -> list[str]:
    """The archives a command was given, by --db or as arguments (archive.db when neither)."""
    given_db = click.get_current_context().get_parameter_source("db_path") != click.core.ParameterSource.DEFAULT
    return [*(db_paths if given_db or not archives else ()), *archives]


quiet_option = click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors (for cron).")


def _every_core() -> int:
    """Every core the process may use: the default of --workers."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on macOS
        return os.cpu_count() or 1


class _Commands(click.Group):
    """The commands, and the one place where errors become a message and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WPArchiveError as exc:
            _report(exc)
            ctx.exit(exc.exit_code)
        except Stopped as exc:
            click.echo(STOPPED.format(signal=signal.Signals(exc.signum).name), err=True)
            ctx.exit(128 + exc.signum)
        except KeyboardInterrupt:
            click.echo(INTERRUPTED, err=True)
            ctx.exit(EXIT_INTERRUPTED)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wparchive")
def cli() -> None:
    """Archive WordPress sites through the REST API into SQLite, and search them in Datasette.

    \b
    Start with:
        wparchive harvest https://example.org/
        wparchive serve
    """


@cli.command()
@click.argument("site_url", required=False)
@db_option
@click.option("--config", "config", type=_Path(file_okay=False),
              help="Folder whose sites.toml lists the sites to harvest when no SITE_URL is given.")
@click.option("--delay", default=0.5, show_default=True, type=click.FloatRange(min=0),
              help="Seconds to wait between requests, to be polite to the site.")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, MAX_CONCURRENCY),
              help="Pages fetched at once. 1, one request after another, is polite; raise it only for "
                   "a server that allows it (your own, or with the owner's consent). --delay then "
                   "spaces the requests of each connection.")
@click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds a request may take in all, from connecting to its last byte, however slowly "
                   "the server sends; then it is given up and retried.")
@click.option("--max-response-mb", default=64, show_default=True, type=click.IntRange(min=1), metavar="MB",
              help="Read no response larger than this (counted decompressed): a page over it is read again "
                   "in smaller pages, an item over it is recorded as failed, and the harvest goes on.")
@click.option("--retries", default=5, show_default=True, type=click.IntRange(min=0),
              help="Retries of a failed request (timeouts, broken connections, 429, 500-504), with backoff. "
                   "A refused connection or an unknown host name fails at once.")
@click.option("--full", is_flag=True,
              help="Fetch every item again instead of only what changed since the last run.")
@click.option("--limit", type=click.IntRange(min=1), help="Stop each collection after N items (a trial run).")
@click.option("--auth-env", metavar="NAME",
              help="Environment variable holding user:application-password (WordPress 5.6+).")
@click.option("--auth-file", type=_Path(dir_okay=False),
              help="File holding user:application-password, readable by its owner only (chmod 600).")
@click.option("--wpcom", is_flag=True,
              help="The site is on WordPress.com under its own domain: use WordPress.com's public API "
                   "(automatic for *.wordpress.com).")
@click.option("--private", is_flag=True, help="Signed in: harvest drafts, pending, scheduled and private items too.")
@click.option("--revisions", is_flag=True, help="Signed in: keep every revision of posts and pages in versions.")
@click.option("--warc", "warc_dir", type=_Path(file_okay=False),
              help="Also write every API response to a WARC file in this folder (needs warcio).")
@click.option("--pages", "pages", is_flag=True,
              help="With --warc: also capture the HTML page of each post and page this run stores into the WARC, "
                   "so that a replay of export --format wacz opens them (their HTML only).")
@click.option("--media", "media", is_flag=True,
              help="Also download attachments and in-content images (content-addressed, SHA-256 names).")
@click.option("--media-dir", type=_Path(file_okay=False),
              help="Where --media puts the files.  [default: DB name + '-media', e.g. archive-media]")
@click.option("--media-max-mb", default=50, show_default=True, type=click.IntRange(min=1),
              help="Skip (and record) files larger than this.")
@click.option("--workers", type=click.IntRange(min=1), default=_every_core, show_default="every core",
              help="Processes that clean large collections (1: clean in the harvest's own process).")
@click.option("-j", "--jobs", default=1, show_default=True, type=click.IntRange(1, MAX_JOBS),
              help="Sites of sites.toml harvested at once, each still with its own delay and concurrency; "
                   "they share the --workers.")
@click.option("--embed", "embed_after", is_flag=True,
              help="Then compute the vectors of new and changed posts and pages for search by meaning, as "
                   "wparchive embed does (needs pip install 'wparchive[meaning]').")
@quiet_option
@click.option("-v", "--verbose", is_flag=True, help="Log every request to stderr.")
def harvest(site_url: str | None, db_path: str, config: str | None, delay: float, concurrency: int,
            timeout: float, max_response_mb: int, retries: int,
            full: bool, limit: int | None, auth_env: str | None, auth_file: str | None, wpcom: bool, private: bool,
            revisions: bool, warc_dir: str | None, pages: bool, media: bool, media_dir: str | None, media_max_mb: int,
            workers: int, jobs: int, embed_after: bool, quiet: bool, verbose: bool) -> None:
    """Harvest a WordPress site, or every site of sites.toml, into the archive.

    SITE_URL is any page of the site, its home page, or its REST API root. The API is found
    from the page's Link header or <link> tag, then /wp-json/, then ?rest_route=/. With no
    SITE_URL, the sites listed in sites.toml of the configuration folder are harvested one
    after the other, or --jobs of them at once (each then reported as it ends, on lines named
    after it instead of bars); one that fails does not stop the others.

    Every public collection is fetched: posts, pages and other public post types, categories,
    tags and other taxonomies, users, media metadata and comments. Each page of 100 items is
    saved in its own transaction, so an interruption loses at most one page, and the next run
    continues from there.

    Later runs are incremental: they fetch only what changed, keep the earlier state of every
    changed item in the versions table, and mark items the site no longer serves as deleted
    (rows are never removed). With nothing changed a run costs about one request per collection.

    \b
    Exit codes: 0 done; 1 failed (see the message); 3 partial (some pages or
    items failed: see harvest_errors; the next run retries them); 75 another
    harvest (or serve -i) holds the archive; 130 interrupted (Ctrl-C); 143
    stopped by SIGTERM, 129 by SIGHUP. With several sites, the worst.

    Signed in with an application password (--auth-env or --auth-file, which keep it out of
    the shell history; or user:password@ in SITE_URL), --private adds drafts and private items
    and --revisions every revision. The credentials are checked first: if they sign in as
    nobody (refused, or stripped by the server), the harvest stops. They are sent only to the scheme,
    host and port of the site (an API root elsewhere is harvested anonymously, and redirects
    elsewhere never carry them), and never written to the archive, the logs or a WARC.

    Every record keeps the URL and time of the response it came from, the run that saw it and
    the SHA-256 of its raw JSON; with --warc, also the WARC-Record-ID of that response.

    \b
    Examples:
        wparchive harvest https://example.org/ --db example.db
        wparchive harvest --config ~/archive-config -q      # every site of sites.toml
        WP_AUTH="me:abcd efgh ijkl" wparchive harvest https://example.org/ --auth-env WP_AUTH --private
    """
    from .config import SiteConfig
    from .discover import check_site_url
    from .harvest import HarvestSettings, harvest_sites

    _setup_logging(verbose, quiet)
    if pages and not warc_dir:
        raise click.UsageError("--pages captures pages into the WARC file: give --warc DIR too")
    if embed_after:
        from .meaning import check_installed

        check_installed()  # before anything is fetched: MeaningUnavailable says what to install
    if site_url is not None:
        site_url = check_site_url(site_url)  # before anything is written
    sites = ([SiteConfig(url=site_url, credentials_env=auth_env, credentials_file=auth_file, private=private,
                         revisions=revisions, wpcom=wpcom)] if site_url else _configured_sites(config))
    if site_url and sites[0].credentials_in_url and not quiet:
        click.echo("Note: the user and password in SITE_URL sign in; they are kept out of the archive, the logs and "
                   "any WARC. On the command line they stay in the shell history: --auth-env or --auth-file do not.",
                   err=True)
    settings = HarvestSettings(
        delay=delay, timeout=timeout, max_response_bytes=max_response_mb * 1024 * 1024, concurrency=concurrency,
        retries=retries, full=full, limit=limit,
        workers=workers, jobs=jobs, config=config, warc_dir=warc_dir, pages=pages,
        media_dir=media_folder(db_path, media_dir) if media else None, media_max_bytes=media_max_mb * 1024 * 1024,
    )
    worst = EXIT_OK
    with _stopped_by_signals():
        at_once = jobs > 1 and len(sites) > 1
        for outcome in harvest_sites(db_path, sites, settings, progress=_progress(quiet, side_by_side=at_once)):
            _print_outcome(outcome, db_path, settings, quiet=quiet, named=len(sites) > 1)
            worst = max(worst, _exit_code(outcome), key=_severity)
    # What a partial harvest, or the sites that did not fail, stored is embedded too; not after a
    # stop (Ctrl-C, SIGTERM) or while another process holds the archive.
    if embed_after and _severity(worst) < 3 and os.path.exists(db_path):
        _embed(db_path, quiet)
    sys.exit(worst)


queue_option = click.option(
    "--queue", "queue_address", required=True, metavar="URL|FILE",
    help="Where the jobs wait: a Redis URL (redis://127.0.0.1:6379/0) for many machines, or the path of a "
         "SQLite file for one.")


@cli.command()
@click.argument("site_urls", nargs=-1, metavar="[SITE_URL]...")
@queue_option
@click.option("--config", "config", type=_Path(file_okay=False),
              help="Folder whose sites.toml lists the sites to enqueue when no SITE_URL is given.")
@click.option("--now", "at_once", is_flag=True,
              help="Due at once, also the sites of sites.toml that have a schedule (their next scheduled "
                   "job stays).")
@quiet_option
def enqueue(site_urls: tuple[str, ...], queue_address: str, config: str | None, at_once: bool, quiet: bool) -> None:
    """Put a "harvest this site" job into the queue for each site, for `wparchive worker` to run.

    The sites are the SITE_URLs given, due at once, or every site of sites.toml, each due at the
    next time of its `schedule`, or at once when it has none. A site that a job already waits for,
    due no sooner, is not added again: enqueuing twice gives one job.

    A job holds the site's URL only. Credentials are never put into the queue: a worker signs in
    with the credentials_env or credentials_file its own sites.toml gives the site. A SITE_URL
    with a user:password@ is refused.

    \b
    Exit codes: 0 done; 2 a SITE_URL or --queue is wrong; 69 the queue
    cannot be reached (Redis down) or its file cannot be opened.

    \b
    Examples:
        wparchive enqueue --queue redis://127.0.0.1:6379/0 --config ~/archive-config
        wparchive enqueue https://example.org/ --queue jobs.sqlite
    """
    from .config import SiteConfig
    from .discover import check_site_url

    urls = [check_site_url(url) for url in site_urls]
    sites = [SiteConfig(url=url) for url in urls] if urls else _configured_sites(config)
    if urls and any(site.credentials_in_url for site in sites):
        raise click.UsageError("a SITE_URL holds a user and password, which are never put into the queue: give the "
                               "URL without them, and the site's credentials_env or credentials_file in the workers' "
                               "sites.toml")
    queue = _queue_module()
    for enqueued in queue.enqueue_sites(queue.JobQueue(queue_address), sites, at_once=at_once or bool(urls)):
        if not quiet:
            click.echo(f"{enqueued.site_url}: " + ("queued, due " if enqueued.added else "already waiting, due ")
                       + _due(enqueued.due) + (f" (schedule {enqueued.schedule})" if enqueued.schedule else "")
                       + ("" if enqueued.added else ": not added again"), err=True)


@cli.command()
@queue_option
@click.option("--out", "out", required=True, type=_Path(file_okay=False), metavar="DIR",
              help="Folder of the archives: each site into its own DIR/<host>[_<port>].db (made when missing).")
@click.option("--config", "config", type=_Path(file_okay=False),
              help="Folder whose sites.toml gives sites their options, credentials and schedule.")
@click.option("--burst", is_flag=True,
              help="Exit once no job is due and no other worker runs one (else wait for jobs until stopped).")
@click.option("--lease", default=300.0, show_default=True, type=click.FloatRange(min=1), metavar="SECONDS",
              help="A job whose worker stops answering this long (killed, machine gone) goes to another worker.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes that clean large collections; for more sites at once, run more workers.")
@click.option("--listed-only", is_flag=True,
              help="Take only jobs for sites that sites.toml lists; a job for another site is dropped, with a line.")
@quiet_option
def worker(queue_address: str, out: str, config: str | None, burst: bool, lease: float, workers: int,
           listed_only: bool, quiet: bool) -> None:
    """Take jobs from the queue and harvest each site into its own archive, DIR/<site>.db.

    Each job is a harvest as `wparchive harvest` makes it: incremental, continuing where an
    interrupted one stopped, with the site's options and credentials from the worker's own
    sites.toml (a site it does not list is harvested anonymously, with its [defaults]; with
    --listed-only its job is dropped). A line is printed as each job starts and ends; --quiet
    prints only what went wrong.

    A site with a `schedule` is put back into the queue as its job ends, due at its next time;
    workers move due jobs into the queue as they look for work, so no crontab is needed.

    While a job runs, its worker renews a lease on it; a worker killed mid-job (SIGKILL, a machine
    gone) leaves it to expire after --lease seconds, and another worker harvests the site again.
    Ctrl-C or SIGTERM stops the harvest (its run recorded interrupted) and puts the job back.

    \b
    Exit codes: with --burst, 0 when every job went well, else the worst
    harvest exit code (1 failed, 3 partial, 75 archive locked); 1 also
    when --out cannot be written; 2 --queue is wrong; 69 the queue cannot
    be reached; 130 interrupted (Ctrl-C); 143 stopped by SIGTERM.

    \b
    Examples:
        wparchive worker --queue redis://127.0.0.1:6379/0 --out /srv/archives --config ~/archive-config
        wparchive worker --queue jobs.sqlite --out archives --burst
    """
    from .harvest import HarvestSettings

    _setup_logging(False, quiet)
    queue = _queue_module()
    jobs = queue.JobQueue(queue_address)
    settings = HarvestSettings(workers=workers, config=config)
    notes: Progress = SilentProgress() if quiet else _ClickBars(drawn=False)  # notes only: one line per job
    worst = EXIT_OK
    with _stopped_by_signals():
        for event in queue.work(jobs, out, settings, burst=burst, lease=lease, progress=notes,
                                listed_only=listed_only):
            if isinstance(event, queue.JobStarted):
                if not quiet:
                    again = f" (attempt {event.attempt}: the worker that had it stopped answering)" \
                        if event.attempt > 1 else ""
                    click.echo(f"{event.site_url}: started{again} → {event.archive}", err=True)
            elif isinstance(event, queue.JobEnded):
                _print_outcome(event.outcome, str(event.archive), settings, quiet=quiet, named=True)
                worst = max(worst, _exit_code(event.outcome), key=_severity)
            elif not quiet:
                enqueued = event.enqueued
                click.echo(f"{enqueued.site_url}: next harvest due {_due(enqueued.due)} (schedule {enqueued.schedule})"
                           + ("" if enqueued.added else ", already waiting"), err=True)
    sys.exit(worst)


def _queue_module() -> Any:
    """wparchive.queue, or a message saying how to install what it needs."""
    try:
        from . import queue
    except ImportError as exc:
        raise WPArchiveError(f"the job queue needs {exc.name or 'huey'}, which is not installed",
                             hint="pip install 'wparchive[queue]'") from None
    return queue


def _due(when: Any) -> str:
    """When a job is due, as people read it: at once, or 2026-12-08 03:17 UTC."""
    return "at once" if when is None else when.strftime("%Y-%m-%d %H:%M UTC")


@cli.command()
@archives_argument
@dbs_option
@click.option("-p", "--port", default=8001, show_default=True, type=click.IntRange(0, 65535),
              help="Port on 127.0.0.1.")
@click.option("--config", "config", type=_Path(file_okay=False, exists=True),
              help="Folder with metadata.yml and settings.json (default: the bundled config/).")
@click.option("-i", "--immutable", is_flag=True,
              help="Serve an archive nothing writes, as immutable (faster counts). Refused while a harvest "
                   "runs, and harvests are refused while it serves; without -i, harvests may run meanwhile.")
@click.option("--media-dir", type=_Path(file_okay=False),
              help="Where --media put the files (of the first archive), shown on post pages instead of the "
                   "site's.  [default: DB name + '-media']")
def serve(archives: tuple[str, ...], db_path: tuple[str, ...], port: int, config: str | None, immutable: bool,
          media_dir: str | None) -> None:
    """Serve archives in Datasette on 127.0.0.1: search, facets, CSV and JSON.

    A harvest may run while an archive is served: readers see each page once it is saved,
    and neither waits for the other. Several archives are searched as one by the search page.

    \b
    Example:
        wparchive serve --db example.db --port 8001
        then open http://127.0.0.1:8001/
        wparchive serve garden.db bees.db orchard.db
    """
    from .serve import build_datasette, listen, run_server

    paths = _archive_paths(db_path, archives)
    for path in paths:
        _require_archive(path)
    with ExitStack() as held:
        for path in paths:
            if immutable:
                # Datasette then reads the file alone, without locks or the WAL: no harvest may change it
                # meanwhile (DatabaseLocked now if one runs; a harvest started later is refused).
                held.enter_context(archive_lock(path, shared=True))
            open_db(path, immutable=immutable)  # refuses what is not an archive, before Datasette starts
        ds = build_datasette(paths, config=config, immutable=immutable, media_dir=media_dir)
        listening = listen(port)
        click.echo(f"Serving {', '.join(paths)} at http://127.0.0.1:{listening.getsockname()[1]}/ (Ctrl-C to stop)",
                   err=True)
        run_server(ds, listening)


@cli.command()
@click.argument("out", type=_Path(allow_dash=True))
@db_option
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True,
              help="csv, json and jsonl write one file (OUT, or - for stdout); markdown fills the folder OUT; "
                   "wxr writes OUT.xml for the WordPress Importer; wacz packages the --warc captures as OUT.wacz.")
@click.option("--site", help="Only this site: its id, name, address or host, whole (not a part of one).")
@click.option("--type", "post_type", help="Only this post type: post, page, or a custom one.")
@click.option("--since", help="Only items published on or after this date (YYYY-MM-DD).")
@click.option("--media-dir", type=_Path(file_okay=False),
              help="With markdown: where --media put the files, to copy images from.  [default: DB name + '-media']")
@click.option("--no-layouts", is_flag=True,
              help="With markdown: only content, front matter and redirect maps; no Hugo or Jekyll configuration, "
                   "layouts or redirect pages (for a site of your own).")
@click.option("--max-mb", default=WXR_MAX_MB, show_default=True, type=click.FloatRange(min=0.1), metavar="MB",
              help="With wxr: start a new file (OUT-001.xml, OUT-002.xml …) before one passes this size.")
@click.option("--include-deleted", is_flag=True,
              help="With wxr: also the items the site no longer serves.")
@click.option("--bom", is_flag=True, help="With csv: start with a byte order mark, by which Excel knows it is UTF-8.")
@click.option("--media-url", metavar="URL",
              help="With wxr: where the media folder is served; the importer then fetches the files downloaded "
                   "with --media from there, not from the old site.")
@click.option("--warc", "warc_dir", type=_Path(file_okay=False),
              help="With wacz: the folder harvest --warc wrote WARC files to.")
@quiet_option
def export(out: str, db_path: str, fmt: str, site: str | None, post_type: str | None, since: str | None,
           media_dir: str | None, no_layouts: bool, max_mb: float, include_deleted: bool, bom: bool,
           media_url: str | None, warc_dir: str | None, quiet: bool) -> None:
    """Export posts and pages as CSV, JSON, JSONL, Markdown for Hugo and Jekyll, WXR for WordPress, or WACZ.

    Rows are streamed, so memory does not grow with the archive. Items the site no longer
    serves are left out. Markdown gives one file per item with YAML front matter (title, date
    with the site's UTC offset, slug, original URL, categories, tags, author, WordPress id):
    posts in _posts/YYYY-MM-DD-slug.md, pages in pages/. With the configuration and layouts it
    adds, `hugo` and `jekyll build` build the folder as it is into a site that breaks no old
    address: each item at its old permalink where it can be, redirects from the others (redirect
    pages, and maps for Netlify, nginx and Apache), links between items and to media downloaded
    with --media (copied to images/) leading to their new place.

    WXR (WordPress eXtended RSS 1.2) holds one site, as WordPress's own exporter writes it: posts,
    pages, custom types, attachments, terms, authors and threaded comments. Harvested signed in,
    it carries the raw block markup; anonymous, the rendered HTML. Past --max-mb it is split into
    files each importable on its own. Items only partly harvested are left out, and said.

    WACZ (1.1.1) packages the WARC files that harvests with --warc wrote to a folder, for replay
    tools such as ReplayWeb.page: the WARC files, a CDXJ index of them, and a list of pages, one
    per post and page at the API response that holds it, with its title and text to search by.

    \b
    Exit codes: 0 done; 1 failed, or nothing to export (the filters leave
    no item); 2 a filter names what the archive does not have (the message
    lists what it has) or --since is no YYYY-MM-DD date.

    \b
    Examples:
        wparchive export posts.jsonl
        wparchive export --format csv --type post --since 2024-01-01 recent.csv
        wparchive export --format markdown --site example.org content/
        wparchive export --format wxr --site example.org example.xml
        wparchive export --format wacz --warc warc/ example.wacz
    """
    if fmt in ("markdown", "wxr", "wacz") and out == "-":
        raise click.BadParameter(f"{fmt} export needs a {'folder' if fmt == 'markdown' else 'file'}, not -",
                                 param_hint="OUT")
    from .export import export_archive, export_wacz, export_wxr

    _require_archive(db_path)
    if fmt == "wxr":
        result = export_wxr(open_db(db_path), Path(out), site=site, post_type=post_type, since=since,
                            include_deleted=include_deleted, max_mb=max_mb, media_url=media_url,
                            progress=_progress(quiet))
        for why in result.left_out:
            click.echo(f"left out {why}", err=True)
        if result.rendered and not quiet:
            click.echo(f"{result.rendered} items were harvested without signing in: their rendered HTML is exported, "
                       "not their block markup (to have it, harvest signed in once with --full)", err=True)
        if not quiet:
            files = ", ".join(str(f) for f in result.files)
            click.echo(f"Exported {result.items} items and {result.comments} comments to {files}", err=True)
        return
    if fmt == "wacz":
        package = export_wacz(open_db(db_path), Path(out), Path(warc_dir) if warc_dir else None, site=site,
                              post_type=post_type, since=since, progress=_progress(quiet))
        if package.uncaptured:
            click.echo(f"{package.uncaptured} items are in none of the WARC files, and so not in the pages list "
                       "(to capture them, harvest with --warc and --full)", err=True)
        if not quiet:
            click.echo(f"Exported {package.pages} items and {len(package.warcs)} WARC files to {out}", err=True)
        return
    images = media_folder(db_path, media_dir)
    target = click.open_file("-", "w", encoding="utf-8") if out == "-" else Path(out)  # stdout, left open
    count = export_archive(open_db(db_path), target, fmt, site=site, post_type=post_type, since=since,
                           media_dir=images if _is_dir(images) else None, layouts=not no_layouts, bom=bom,
                           progress=_progress(quiet))
    if not quiet:
        click.echo(f"Exported {count} items to {out}", err=True)


@cli.command()
@click.argument("query")
@archives_argument
@dbs_option
@click.option("--site", help="Only this site: its id, its address (whole), or part of its name or address.")
@click.option("--type", "kind", help="Only this type: post, page, comment, or a custom post type.")
@click.option("--from", "--since", "date_from", metavar="DATE",
              help="Only items of DATE or later (YYYY-MM-DD, YYYY-MM or YYYY, in UTC).")
@click.option("--to", "--until", "date_to", metavar="DATE",
              help="Only items of DATE or earlier (--to 2023: all of 2023).")
@click.option("--year", help="Only items of this year.")
@click.option("--author", help="Only this author: a user's name or key.")
@click.option("--category", help="Only items in this category (its name).")
@click.option("--tag", help="Only items with this tag (its name).")
@click.option("--sort", type=click.Choice(list(SORTS)), default="relevance", show_default=True,
              help="Best first (relevance), or by date: newest or oldest first.")
@click.option("--mode", type=click.Choice(["hybrid", "words", "meaning"]), default="hybrid", show_default=True,
              help="Rank by the words, by meaning (after 'wparchive embed'), or both fused; hybrid is words alone "
                   "in an archive without vectors.")
@click.option("--limit", type=click.IntRange(min=1), help="At most N results (default: all).")
@click.option("--advanced", is_flag=True, help="QUERY in FTS5 syntax: AND, OR, NOT, NEAR(a b), prefix*, \"a phrase\".")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "csv", "json", "jsonl"]), default="text",
              show_default=True,
              help="text: a few lines per result, the words found in bold on a terminal, else in [[ ]].")
def search(query: str, archives: tuple[str, ...], db_path: tuple[str, ...], site: str | None, kind: str | None, date_from: str | None, date_to: str | None,
           year: str | None, author: str | None, category: str | None, tag: str | None, sort: str, limit: int | None,
           mode: str, advanced: bool, fmt: str) -> None:
    """Search archives as the search page does: same ranking, filters and order.

    Several archives (--db more than once, or ARCHIVES) are searched as one, as `wparchive serve`
    serves them: each row names its database.

    \b
    Examples:
        wparchive search compost
        wparchive search --site example.org --from 2023-01-01 --sort newest "compost heap"
        wparchive search --advanced --format csv 'compos* NOT rats'
        wparchive search --mode meaning "car mechanic"
        wparchive search compost garden.db bees.db orchard.db
    """
    from .export import WRITERS
    from .paths import database_names
    from .search import SearchRequest, result_text, search_archives

    paths = _archive_paths(db_path, archives)
    for path in paths:
        _require_archive(path, "nothing to search")
    filters = {"site": site, "type": kind, "from": date_from, "to": date_to, "year": year, "author": author,
               "category": category, "tag": tag}
    request = SearchRequest(query, advanced=advanced, filters={k: v for k, v in filters.items() if v}, sort=sort,
                            mode=mode)
    conns = {name: open_db(path).conn for name, path in zip(database_names(paths), paths, strict=True)}
    skipped: list[str] = []
    rows = search_archives(conns, request, limit=limit, skipped=skipped)
    for reason in skipped:
        click.echo(f"Note: {reason}", err=True)
    out = sys.stdout
    if fmt != "text":
        WRITERS[fmt](rows, out)
        return
    bold = (lambda word: click.style(word, bold=True)) if out.isatty() else None
    count = 0
    for count, row in enumerate(rows, start=1):
        click.echo(result_text(row, count, bold, named=len(paths) > 1))
    click.echo(f"{count} result{'' if count == 1 else 's'}", err=True)


@cli.command()
@db_option
@quiet_option
def rebuild(db_path: str, quiet: bool) -> None:
    """Re-derive text, Markdown, links, images and every other cleaned column from the raw JSON.

    Nothing is fetched: every record's JSON as the site served it is kept in raw_json, so a
    newer wparchive can clean old harvests again. Provenance, tombstones and history are kept.

    \b
    Example:
        wparchive rebuild --db example.db
    """
    from .rebuild import rebuild_archive

    _require_archive(db_path, "nothing to rebuild")
    with _stopped_by_signals(), archive_lock(db_path):
        counts = rebuild_archive(open_db(db_path), progress=_progress(quiet))
    if not quiet:
        click.echo("Rebuilt " + ", ".join(f"{n} {t}" for t, n in counts.items()) + f" in {db_path}", err=True)


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=_Path(dir_okay=False), metavar="ARCHIVE...")
@db_option
@quiet_option
def merge(sources: tuple[str, ...], db_path: str, quiet: bool) -> None:
    """Fold archives into one (--db): sites harvested into files of their own, on other machines, or at once.

    Every id is renumbered so that none collides; a site the archive already holds (the same home
    page or API root) stays one site. Runs, sync state, provenance, versions, tombstones and errors
    come along, and the files downloaded with --media are copied from each ARCHIVE's media folder
    (site.db's in site-media) into the archive's. Nothing is brought in twice: merging a file again
    changes nothing, and merging a newer harvest of it brings in its new runs and what they found,
    where the record seen last wins. Full-text search is kept current; vectors of another model
    than the archive's are left out (`wparchive embed` computes them anew); related posts and
    near-duplicates, emptied when merged posts change them, are found again by the next
    `wparchive embed`.

    Each ARCHIVE is read as it stands (one snapshot, even while a harvest writes it) and never
    changed; each is merged in one transaction, whole or not at all. One that is not an archive,
    or written by a newer wparchive, is said and left out; the others are merged.

    \b
    Exit codes: 0 done; 1 some ARCHIVE could not be merged (see the message);
    75 a harvest holds the archive; 130 interrupted (the archives merged until
    then are kept; run the same command again).

    \b
    Example:
        wparchive merge sites/*.db --db archive.db
    """
    from .db import ensure_db_shape
    from .db.merge import merge_archive, open_source
    from .media import copy_files

    progress = _progress(quiet)
    worst, merged, embed_again = EXIT_OK, 0, False
    itself = [path for path in sources if _same_file(path, db_path)]
    if itself and not quiet:
        click.echo(f"Note: {itself[0]} is the archive merged into: left as it is", err=True)
    sources = tuple(path for path in dict.fromkeys(sources) if path not in itself)
    with _stopped_by_signals(), archive_lock(db_path):
        db = None  # opened (or made) once a first ARCHIVE is one
        for path in sources:
            try:
                source = open_source(path)
            except WPArchiveError as exc:
                _report(exc)
                worst = max(worst, exc.exit_code, key=_severity)
                continue
            try:
                if db is None:
                    db = open_db(db_path)  # the archive's own errors end the command
                try:
                    counts = merge_archive(db, source, label=path, progress=progress)
                    copied = copy_files(counts.file_paths, media_folder(path), media_folder(db_path))
                except WPArchiveError as exc:
                    _report(exc)
                    worst = max(worst, exc.exit_code, key=_severity)
                    continue
            finally:
                source.close()
            merged += 1
            embed_again = embed_again or counts.derived_emptied or counts.vectors > 0
            if not quiet:
                for model, number in counts.other_vectors.items():
                    click.echo(f"Note: {path}: {number} vectors of the model {model} left out; the archive's are of "
                               f"{counts.model} ('wparchive embed' computes those posts' vectors anew)", err=True)
                click.echo(f"{path}: {counts.sites} site{'s' * (counts.sites != 1)} ({counts.new_sites} new); "
                           f"items {counts.new} new, {counts.updated} updated, {counts.tombstones} deleted, "
                           f"{counts.revived} revived; runs {counts.runs}, versions {counts.versions}, "
                           f"errors {counts.errors}, files {counts.files} ({copied} copied), "
                           f"vectors {counts.vectors} → {db_path}", err=True)
        if db is not None and merged:
            ensure_db_shape(db)  # full-text search of an archive new, indexes, views, links between sites
    if embed_again and not quiet:
        click.echo(f"Note: run 'wparchive embed --db {db_path}' to find related posts and near-duplicates across "
                   "the merged sites", err=True)
    if not quiet and len(sources) > 1:
        click.echo(f"Merged {merged} of {len(sources)} archives into {db_path}", err=True)
    sys.exit(worst)


def _same_file(path: str, other: str) -> bool:
    """Whether two paths name one file (both existing)."""
    try:
        return os.path.samefile(path, other)
    except OSError:
        return False


@cli.command()
@db_option
@quiet_option
def embed(db_path: str, quiet: bool) -> None:
    """Compute the vectors that search by meaning uses, for posts and pages new or changed since the last run.

    The model ships inside the optional wordllama package (pip install 'wparchive[meaning]') and
    runs offline. A post whose title or text changed, or every post after a change of the model,
    is embedded again; the others are left as they are. Then, when any vector changed, each post's
    related posts (its reader page lists them) and the groups of near-duplicates are found again.

    \b
    Example:
        wparchive embed --db example.db
    """
    _require_archive(db_path, "nothing to embed")
    _embed(db_path, quiet)


def _embed(db_path: str, quiet: bool) -> None:
    """Embed what is new or changed, then find related posts and near-duplicates again (embed, harvest --embed)."""
    from .duplicates import find_duplicates
    from .meaning import embed_archive

    with _stopped_by_signals(), archive_lock(db_path):
        db = open_db(db_path)
        counts = embed_archive(db, progress=_progress(quiet))
        # Whenever the related posts are found again, so are the near-duplicates: both follow the texts.
        duplicates = None if counts.related is None else find_duplicates(db)
    if not quiet:
        related = "" if counts.related is None else (f"; {counts.related} related posts listed, "
                                                     f"{duplicates} posts in groups of near-duplicates")
        click.echo(f"Embedded {counts.embedded} posts and pages ({counts.unchanged} unchanged){related} in {db_path}",
                   err=True)


@cli.command()
@db_option
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text to read, json for scripts.")
def status(db_path: str, fmt: str) -> None:
    """What the archive holds, its last harvests and its open errors: what its home page in Datasette shows.

    Per site: live posts, pages and items of other types, comments and media, what the site no
    longer serves (deleted), the last harvest and its outcome, and the errors no later harvest
    has mended. Then the last five runs, and the ten newest open errors.

    \b
    Example:
        wparchive status --db example.db
    """
    from .db import archive_status

    _require_archive(db_path)
    state = archive_status(open_db(db_path))
    if fmt == "json":
        click.echo(json.dumps(state, ensure_ascii=False, indent=2))
        return
    lines = []
    for site in state["sites"]:
        others = "".join(f", {kind} {count:,}" for kind, count in site["other_types"].items())
        lines += [f"Site {site['id']}: {site['name'] or site['home']} ({site['home']})",
                  f"  posts {site['posts']:,}, pages {site['pages']:,}{others}; comments {site['comments']:,}, "
                  f"media {site['media']:,}; deleted {site['deleted']:,}",
                  f"  published {(site['first_date'] or '?')[:10]} to {(site['last_date'] or '?')[:10]}; "
                  f"last harvest {_when(site['last_harvest'])} ({site['last_status'] or 'none'}); "
                  f"open errors {site['open_errors']:,}"]
    lines += [] if state["sites"] else [f"{db_path} holds no site yet."]
    lines += ["Last runs:" if state["runs"] else "No runs yet."]
    lines += [f"  run {run['run_id']} {_when(run['started_at'])} {run['status'] or 'running'}: {run['new']} new, "
              f"{run['updated']} updated, {run['removed']} removed; errors {run['errors']} - {run['site'] or run['site_url']}"
              for run in state["runs"]]
    lines += ["Open errors (newest first):" if state["errors"] else "No open errors."]
    lines += [f"  run {error['run_id']} {error['collection'] or ''}: "
              + " ".join(str(part) for part in (error["status"], error["reason"], error["message"], error["url"]) if part)
              for error in state["errors"]]
    for line in lines:  # names, messages and addresses come from the sites: no control character reaches the terminal
        click.echo(_CONTROLS.sub("?", line)[:500])


_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _when(iso: str | None) -> str:
    """A stored time as people read it: 2024-05-01 10:00."""
    return (iso or "never")[:16].replace("T", " ")


@cli.command()
@click.option("--db", "db_path", default="demo.db", show_default=True, type=_Path(dir_okay=False),
              help="Where the demo archive is written.")
@click.option("-p", "--port", default=8001, show_default=True, type=click.IntRange(0, 65535),
              help="Port of Datasette on 127.0.0.1.")
@click.option("--site-port", default=8090, show_default=True, type=click.IntRange(0, 65535),
              help="Port of the sample site (fixed, so that running the demo again updates the same site).")
@click.option("--no-serve", is_flag=True, help="Harvest only; do not start Datasette.")
def demo(db_path: str, port: int, site_port: int, no_serve: bool) -> None:
    """Harvest the bundled sample site over HTTP, then serve it in Datasette.

    The sample site is served on 127.0.0.1 by wparchive's own WordPress-like server, so
    the demo works offline and goes through the same HTTP path as a real harvest.

    \b
    Example:
        wparchive demo
    """
    from .client import Client
    from .harvest import harvest_site
    from .serve import build_datasette, listen, run_server

    # A port in use, then a wrong --db, is refused before anything is made: no empty archive is left.
    listening = None if no_serve else listen(port, keep_free=(site_port,))
    try:
        db = open_db(db_path)
    except BaseException:
        if listening is not None:
            listening.close()
        raise
    with _sample_server(site_port, "--site-port") as server:
        click.echo(f"Sample site running at {server.home}/", err=True)
        client = Client(delay=0)
        result = harvest_site(db, client, server.home + "/", progress=_progress(quiet=False))
    _print_summary(result, server.home + "/", db_path, client.requests_made)
    if listening is not None:
        click.echo(f"Open http://127.0.0.1:{listening.getsockname()[1]}/ to search the archive (Ctrl-C to stop).",
                   err=True)
        run_server(build_datasette(db_path), listening)


@cli.command("sample-site")
@click.option("-p", "--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port on 127.0.0.1.")
@click.option("--permalinks", type=click.Choice(["pretty", "plain"]), default="pretty", show_default=True,
              help="pretty serves /wp-json/; plain only ?rest_route=.")
def sample_site_command(port: int, permalinks: str) -> None:
    """Serve the bundled sample site as a WordPress REST API on 127.0.0.1, for trying harvests.

    \b
    Example:
        wparchive sample-site --port 8080 &
        wparchive harvest http://127.0.0.1:8080/ --db sample.db
    """
    with _sample_server(port, "--port", permalinks=permalinks) as server:
        click.echo(f"Sample WordPress site at {server.home}/ (API root {server.api_root}); Ctrl-C to stop", err=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass  # Ctrl-C is how this command is meant to end


@contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP stop the command as Ctrl-C does: the run in progress is recorded
    `interrupted`, what was saved is kept. The first one counts; later ones are ignored, so that
    they cannot cut short the recording of the run (SIGKILL still stops everything at once)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread; elsewhere Python's own stay
        return
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise KeyboardInterrupt if signum == signal.SIGINT else Stopped(signum)

    before = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in before.items():
            if handler is not None:  # None: set outside Python, and not ours to put back
                signal.signal(number, handler)


def _progress(quiet: bool, *, side_by_side: bool = False) -> Progress:
    """Bars on stderr when it is a terminal (notes alone when it is not), or nothing with --quiet.
    Tasks that run side by side (sites harvested at once) are a line as each begins and ends: bars would mix."""
    return SilentProgress() if quiet else _ClickBars(drawn=sys.stderr.isatty(), side_by_side=side_by_side)


class _ClickBars:
    """A Progress drawn as a bar per task on stderr: collections of a harvest (sized from X-WP-Total),
    media, pages captured into a WARC, tables of a rebuild, rows of an export; with the rate and, when the
    total is known, the time left."""

    def __init__(self, *, drawn: bool = True, side_by_side: bool = False) -> None:
        self._drawn = drawn  # bars only on a terminal: in a log file they are noise
        self._side_by_side = side_by_side  # several tasks at once: a line as each begins and ends
        self._bar: Any = None
        self._started = 0.0

    def begin(self, task: str, total: int | None) -> None:
        if not self._drawn:
            return
        if self._side_by_side:
            click.echo(f"{task}: {'' if total is None else f'{total:,} '}to do", err=True)
            return
        self._bar = click.progressbar(length=total or 0, label=f"{task:<12}", file=sys.stderr, show_pos=True,
                                      show_percent=total is not None, show_eta=False, item_show_func=self._pace)
        if total is None:
            self._bar.length = None  # a count, not "N/0" (click asks for a length even when none is known)
        self._bar.__enter__()
        self._started = time.monotonic()

    def advance(self, count: int) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def end(self, task: str) -> None:
        if self._drawn and self._side_by_side:
            click.echo(f"{task}: done", err=True)
        if self._bar is not None:
            # X-WP-Total may count what WordPress then hides (comments of protected posts):
            # what was served is all there was, and the bar ends full there.
            if self._bar.length is not None:
                self._bar.length = self._bar.pos
            self._bar.finished = True
            self._bar.render_progress()
            self._bar.__exit__(None, None, None)
            self._bar = None

    def note(self, message: str) -> None:
        click.echo(f"Note: {message}", err=True)

    def _pace(self, _item: Any) -> str | None:
        """The rate so far and, with a known total, the time left at that rate."""
        elapsed, done = time.monotonic() - self._started, self._bar.pos
        if elapsed < 1 or not done:
            return None
        rate = done / elapsed
        pace = f"{rate:,.0f}/s" if rate >= 10 else f"{rate:.1f}/s"
        if self._bar.length and self._bar.length > done and not self._bar.finished:
            pace += f", {_duration((self._bar.length - done) / rate)} left"
        return pace


def _duration(seconds: float) -> str:
    """A time to wait as people say it: 40 s, 12 min, 2 h 05 min."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _print_summary(result: HarvestResult, site: str, db_path: str, requests_made: int) -> None:
    """The site, then what the run changed in each collection, or that it changed nothing."""
    changes = [f"{name} {change}" for name, counts in result.counts.items() if (change := _changes(counts))]
    click.echo(f"{site}: run {result.run_id} {result.status}: " + ("; ".join(changes) or "nothing changed")
               + f" ({requests_made} requests) → {db_path}", err=True)


def _changes(counts: dict[str, Any]) -> str:
    """What a run changed in one collection ("3 new, 1 removed"); empty when nothing."""
    said = (("new", counts["new"] + counts["revived"]), ("updated", counts["updated"]),
            ("removed", counts["deleted"]), ("failed", counts["invalid"]), ("kept incomplete", counts["incomplete"]),
            ("failed page{s}", counts["failed_pages"]), ("revision{s}", counts["revisions"]))
    return ", ".join(f"{number} {what.format(s='' if number == 1 else 's')}" for what, number in said if number)


def _print_outcome(outcome: SiteOutcome, db_path: str, settings: HarvestSettings, *, quiet: bool,
                   named: bool) -> None:
    """What a site's harvest did (unless quiet) and what went wrong (always)."""
    result = outcome.result
    if outcome.media is not None:
        for error in outcome.media.errors:
            click.echo(f"Media not downloaded: {error}", err=True)
        if not quiet:
            media = outcome.media
            click.echo(f"Media: {media.downloaded} downloaded ({media.bytes / 1e6:.1f} MB), "
                       f"{media.already} already there, {media.failed} failed → {settings.media_dir}", err=True)
    if outcome.pages is not None:
        for error in outcome.pages.errors:
            click.echo(f"Page not captured: {error}", err=True)
        if not quiet:
            click.echo(f"Pages: {outcome.pages.captured} captured, {outcome.pages.failed} failed → {settings.warc_dir}",
                       err=True)
    if result is not None:
        if not quiet:
            _print_summary(result, outcome.url, db_path, outcome.requests)
        for error in result.errors:
            click.secho(f"Error: {error}", fg="red", err=True)
        if result.status == "partial":
            click.echo(f"{outcome.url}: some items were not harvested; see the harvest_errors table "
                       f"of run {result.run_id}. The next run tries them again.", err=True)
    if outcome.error is not None:
        _report(outcome.error, outcome.url if named else "")


def _exit_code(outcome: SiteOutcome) -> int:
    if outcome.error is not None:
        return outcome.error.exit_code
    return EXIT_PARTIAL if outcome.status == "partial" else EXIT_OK


def _setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else (logging.ERROR if quiet else logging.WARNING)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _report(exc: WPArchiveError, where: str = "") -> None:
    """Error: what happened, on one line; what to do, on the next."""
    message = f"Error: {where + ': ' if where else ''}{exc}"
    if exc.hint:
        message += f"\n{exc.hint}"
    click.secho(message, fg="red", err=True)


def _severity(code: int) -> int:
    """Failed outranks partial outranks done, whatever the numbers."""
    return {EXIT_OK: 0, EXIT_PARTIAL: 1, EXIT_FAILED: 2}.get(code, 3)


def _is_dir(path: Path) -> bool:
    """Path.is_dir, False for a path the system cannot even look at (a name too long)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _require_archive(db_path: str, then: str = "") -> None:
    """Refuse a missing archive before a command that reads one would create it empty."""
    if not os.path.exists(db_path):
        raise ArchiveMissing(f"{db_path} does not exist; "
                             + (then or f"run 'wparchive harvest SITE_URL --db {db_path}' first"))


def _sample_server(port: int, option: str, **options: Any) -> Any:
    """The bundled sample site's server, not yet started; a port in use is a message, not a traceback."""
    from .sample.content import sample_site
    from .sample.server import WordPressServer
    from .serve import port_hint

    try:
        return WordPressServer(sample_site(), port=port, **options)
    except OSError as exc:
        # sample/ raises the socket's own error; it is the user's choice of port that failed
        raise PortUnavailable(f"cannot start the sample site on port {port}: {exc.strerror}",
                              hint=port_hint(port, option)) from None


def _configured_sites(config: str | None) -> list[SiteConfig]:
    from .config import load_sites

    path = config_dir(config) / "sites.toml"
    sites = load_sites(path)
    if not sites:
        raise ConfigError(f"no SITE_URL given and {path} lists no [[site]]: give a URL, or add sites there")
    return sites
