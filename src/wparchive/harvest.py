"""A harvest: of one site (harvest_site: discover → fetch → clean → store, page by page), or of
many, in turn or some at once (harvest_sites: what `wparchive harvest` runs)."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils.db import Database

from . import __version__
from .client import (
    DEFAULT_MAX_RESPONSE_BYTES, Client, origin_of, show_origin, split_credentials, within_origin,
)
from .clean import Boilerplate, site_hosts_of
from .config import SiteConfig, load_boilerplate
from .db import (
    archive_lock, ensure_db_shape, finish_run, known_api_root, mark_killed_runs, open_db, record_failure,
    save_collection_counts, save_site, set_site_taxonomies, start_run, term_names,
)
from .discover import Collection, check_authentication, find_api_root, is_wpcom, list_collections
from .errors import (
    AccessDenied, ConfigError, DiscoveryError, FetchError, HostUnreachable, NoRoute, NotSignedIn, RestDisabled,
    SiteUnreachable, WPArchiveError, archive_error,
)
from .media import DEFAULT_MAX_BYTES, MediaCounts, download_media
from .pages import ItemPipeline, new_counts
from .parallel import CleaningPool
from .paths import config_dir, warc_prefix
from .progress import Progress, SilentProgress, SiteProgress
from .records import TABLE_ORDER, SiteContext
from .rows import utc_now
from .snapshots import PageCaptures, capture_pages
from .sync import CollectionSync, sync_collection
from .warc import WarcRecorder

PRIVATE_STATUSES = "publish,future,draft,pending,private"
# What --private asks for: items of every status but trash, and comments held for moderation too.
PRIVATE_STATUS = {"posts": {"status": PRIVATE_STATUSES}, "comments": {"status": "all"}}
# Signed in, every collection is read as an editor reads it (context=edit): the raw block markup
# of content, title and excerpt, and what only editors see (users' e-mail, comments' authors),
# which a migration back into WordPress needs. A user without the right gets the readers' view.
EDIT_CONTEXT = {"context": "edit"}

log = logging.getLogger(__name__)

# Sites harvested at once shape the archive one at a time at the end of their runs: two would
# both find its full-text search missing, and the second would fail to create it.
_shaping = threading.Lock()


@dataclass
class HarvestOptions:
    """What to harvest and how; the defaults make an anonymous, incremental harvest of everything."""

    full: bool = False
    limit: int | None = None
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    private: bool = False  # with credentials: drafts, pending, scheduled and private items
    revisions: bool = False  # with credentials: every revision into versions
    boilerplate: Boilerplate | None = None  # None: the rules of the bundled config/boilerplate.toml
    wpcom: bool = False  # a domain mapped to WordPress.com: use its public API
    workers: int = 1  # processes that clean large collections (the CLI uses every core)


@dataclass
class HarvestResult:
    """What a run did: its id, status, per-collection counts, and what went wrong."""

    run_id: int
    status: str = "running"
    site_id: int | None = None
    api_root: str = ""
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def harvest_site(
    db: Database,
    client: Client,
    site_url: str,
    *,
    progress: Progress | None = None,
    options: HarvestOptions | None = None,
    pool: CleaningPool | None = None,
    **option_values: Any,
) -> HarvestResult:
    """Harvest every public collection of a site into the archive; returns what the run did.

    A failing collection is recorded in harvest_errors and the run goes on ("partial");
    discovery failures and interruptions end the run ("failed", "interrupted") and re-raise.
    The client's credentials (or a user:password@ in site_url, taken out of it before anything is
    stored) go to the site's origin only: an API root on another origin is harvested anonymously,
    with a note. pool, when given, is the cleaning workers the caller shares between sites and
    closes; without it the run has its own (options.workers), closed as it ends.
    """
    progress = progress or SilentProgress()
    options = options or HarvestOptions(**option_values)
    site_url = _credentials_out_of(site_url, client)
    client.bind_credentials(site_url)  # the site asked for, until its API root is known
    first_harvest = options.full or known_api_root(db, site_url) is None
    result = HarvestResult(run_id=start_run(db, site_url, utc_now(), __version__))
    own_pool = pool is None
    pool = pool or CleaningPool(options.workers)
    if first_harvest:  # everything is to be cleaned; a re-harvest may clean nothing
        pool.warm_up()
    try:
        try:
            result.api_root, index = find_api_root(client, site_url, known_api_root(db, site_url),
                                                   wpcom=options.wpcom)
        except (RestDisabled, DiscoveryError) as exc:
            if isinstance(exc, RestDisabled) and client.auth is not None:
                # signed requests were answered as anonymous ones: the credentials signed in as nobody
                raise NotSignedIn(f"{exc}, and the credentials did not sign in") from exc
            if isinstance(exc, SiteUnreachable) or not _harvest_without_api(db, client, site_url, result, options,
                                                                              progress, exc):
                raise
            result.status = "partial" if result.errors else "ok"
            return result
        _api_elsewhere(client, site_url, result, options, progress)
        _authenticate(client, result, options, progress)
        site_id = save_site(db, index.model_dump(exclude={"routes"}), result.api_root, utc_now())
        result.site_id = site_id
        available = list_collections(client, result.api_root, index)
        collections = sorted((c for c in available if _wanted(c, options.include, options.exclude)),
                             key=lambda c: TABLE_ORDER.index(c.table))
        ctx = SiteContext(
            site_id=site_id,
            home=index.home or index.url,
            hosts=site_hosts_of(index.home, index.url, result.api_root),
            taxonomy_by_rest_base={c.rest_base: c.name for c in available if c.table == "terms"},
            boilerplate=_rules(options),
        )
        set_site_taxonomies(db, site_id, ctx.taxonomy_by_rest_base)
        names_loaded = False
        for collection in collections:
            if collection.table == "posts" and not names_loaded:
                ctx = replace(ctx, term_names=term_names(db, site_id))
                names_loaded = True
            _harvest_collection(db, client, result, ctx, collection, progress, options, pool)
        result.status = "partial" if result.errors else "ok"
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM as the command line turns it into one
        result.status = "interrupted"
        raise
    except WPArchiveError as exc:
        result.status = "failed"
        with suppress(sqlite3.Error):  # on a full disk the failure cannot be kept; it is still reported
            record_failure(db, result.run_id, exc, at=utc_now(), site_id=result.site_id, url=site_url)
        raise
    except BaseException:  # SQLite's own errors too (a full disk): harvest_sites turns those into words
        result.status = "failed"
        raise
    finally:
        _end_run(db, client, result, pool if own_pool else None)
    return result


def _end_run(db: Database, client: Client, result: HarvestResult, pool: CleaningPool | None) -> None:
    """Stop the run's own workers (if it has any), shape the archive and record how the run ended, whatever happens meanwhile.

    The run's row must not stay `running`: a stop (KeyboardInterrupt) during this makes the run
    `interrupted` and is raised once the row is written; a SQLite error (a full disk) makes a run
    that was ending well `failed` and is raised (one that is already failing keeps its own error).
    """
    ending_well = result.status in ("ok", "partial")
    problem: BaseException | None = None
    try:
        if pool is not None:
            pool.close()
        if result.status != "interrupted":
            with _shaping:
                ensure_db_shape(db)
    except KeyboardInterrupt as exc:
        result.status, problem = "interrupted", exc
    except sqlite3.Error as exc:
        if ending_well:
            result.status, problem = "failed", exc
    values = {"status": result.status, "finished_at": utc_now(), "site_id": result.site_id, "counts": result.counts,
              "requests": client.requests_made}
    try:
        finish_run(db, result.run_id, **values)
    except KeyboardInterrupt as exc:  # a stop while the row was written: it was rolled back, write it again
        result.status, problem = "interrupted", problem or exc
        finish_run(db, result.run_id, **{**values, "status": "interrupted"})
    except sqlite3.Error as exc:
        # The row stays `running`; the next harvest, which holds the lock, marks it `killed`.
        if ending_well and problem is None:
            result.status, problem = "failed", exc
    if problem is not None:
        raise problem


def _harvest_collection(
    db: Database, client: Client, result: HarvestResult, ctx: SiteContext,
    collection: Collection, progress: Progress, options: HarvestOptions, pool: CleaningPool,
) -> None:
    signed_in = client.auth is not None
    private = signed_in and options.private
    pages = ItemPipeline(db, ctx, result.run_id, collection.table, collection.name, progress, pool=pool,
                         repairs=client.repairs)
    job = CollectionSync(
        client=client, collection=collection, api_root=result.api_root, pages=pages, limit=options.limit,
        list_params={**(PRIVATE_STATUS.get(collection.table, {}) if private else {}),
                     **(EDIT_CONTEXT if signed_in else {})},
        revisions=signed_in and options.revisions and collection.table == "posts",
    )
    try:
        try:
            sync_collection(job, full=options.full)
        except AccessDenied as exc:
            if exc.code != "rest_forbidden_context" or "context" not in job.list_params:
                raise
            _note(result, progress, f"{collection.name}: the user signed in may not edit these: harvesting "
                  "what readers see (without the raw block markup)")
            job.list_params = {k: v for k, v in job.list_params.items() if k != "context"}
            sync_collection(job, full=options.full)
    except (AccessDenied, NoRoute) as exc:
        # Editor internals (wp_block, wp_navigation…) and hardened sites refuse anonymous
        # reads: that is the site's choice, not a harvest failure.
        _note(result, progress, f"skipped {collection.name}: {exc.code or exc.status} (not public)")
        return
    except HostUnreachable:
        raise  # the site went away: every collection after would fail the same way
    except FetchError as exc:
        pages.error(exc)
    _collection_done(db, result, pages)


def _collection_done(db: Database, result: HarvestResult, pages: ItemPipeline) -> None:
    """Report what a collection's pages did, to the result and to run_collections."""
    result.counts[pages.collection] = pages.counts
    result.errors.extend(pages.errors)
    save_collection_counts(db, result.run_id, pages.ctx.site_id, pages.collection, pages.table, pages.counts)


def _wanted(collection: Collection, include: list[str] | None, exclude: list[str] | None) -> bool:
    """Whether a collection is asked for, by its name ("post", "category") or REST base ("posts")."""
    names = {collection.name, collection.rest_base}
    if include and not names & set(include):
        return False
    return not (exclude and names & set(exclude))


def _credentials_out_of(site_url: str, client: Client) -> str:
    """The site URL without a user:password@ in it, which become the client's credentials instead:
    a password in the URL is never stored, logged or shown."""
    site_url, in_url = split_credentials(site_url)
    if in_url is not None:
        if client.auth is not None and client.auth != in_url:
            raise ConfigError("the site URL holds a user and password, and other credentials were given: give one",
                              hint="Give the credentials one way only: --auth-env, --auth-file, or in the URL.")
        client.auth = in_url
    return site_url


def _api_elsewhere(client: Client, site_url: str, result: HarvestResult, options: HarvestOptions,
                   progress: Progress) -> None:
    """An API root on another origin than the site's (named by its Link header or <link> tag) is
    said, and harvested anonymously: a site cannot pass the archive, or the password, to another."""
    here = origin_of(site_url)
    if within_origin(here, result.api_root):
        client.bind_credentials(result.api_root)  # from http to https, if the site moved there
        return
    if options.wpcom or is_wpcom(site_url):  # its public API, by design
        if client.auth is not None:
            _note(result, progress, "WordPress.com's public API takes no application password: harvesting anonymously")
    elif client.auth is not None and here is not None:
        _note(result, progress, f"the site names its REST API at {result.api_root}, on another origin than "
              f"{site_url}: harvesting it anonymously (the credentials go to {show_origin(here)} only; to sign in "
              f"there, harvest {result.api_root} itself)")
    else:
        _note(result, progress, f"the site names its REST API at {result.api_root}, on another origin than "
              f"{site_url}: harvesting that")
    client.drop_auth()


def _authenticate(client: Client, result: HarvestResult, options: HarvestOptions, progress: Progress) -> None:
    """Check that the credentials sign in before relying on them; without them, say what is left out."""
    if client.auth is None:
        if options.private or options.revisions:
            _note(result, progress, "private items and revisions need credentials: harvesting what is public")
        return
    _note(result, progress, f"signed in as {check_authentication(client, result.api_root)}")


def _rules(options: HarvestOptions) -> Boilerplate:
    """The boilerplate rules asked for, else those of the bundled config/boilerplate.toml."""
    return options.boilerplate if options.boilerplate is not None else load_boilerplate(config_dir())


def _note(result: HarvestResult, progress: Progress, message: str) -> None:
    result.notes.append(message)
    progress.note(message)


def _harvest_without_api(db: Database, client: Client, site_url: str, result: HarvestResult, options: HarvestOptions,
                         progress: Progress, why: WPArchiveError) -> bool:
    """Read the site's feed, sitemaps and pages instead; False when there is no feed either."""
    # Imported here: only a site without a usable REST API is read this way.
    import xml.etree.ElementTree as ET

    from .fallback import feed_channel, list_items, locate_feed, read_items, record_skipped

    try:
        feed_url, home = locate_feed(client, site_url)
        name, description, link = feed_channel(client, feed_url)
    except (FetchError, ET.ParseError):
        return False
    home = (link or home).rstrip("/")
    _note(result, progress, f"no usable REST API ({why}): reading the feed, sitemaps and pages of {home}")
    site_id = save_site(db, {"name": name, "description": description, "url": home, "home": home}, "", utc_now())
    result.site_id = site_id
    ctx = SiteContext(site_id=site_id, home=home, hosts=site_hosts_of(home, site_url),
                      boilerplate=_rules(options))
    listing = list_items(client, feed_url, home, result.run_id)
    if listing.skipped_count:
        record_skipped(db, result.run_id, site_id, listing, home)
        _note(result, progress, f"{listing.skipped_count} URLs that the feed or sitemaps list are not on "
                                f"{home}'s origin: not fetched (see harvest_errors, reason off_origin)")
    for post_type, listed in sorted(listing.by_type.items()):
        pages = ItemPipeline(db, ctx, result.run_id, "posts", post_type, progress, counts=new_counts("fallback"))
        progress.begin(post_type, len(listed))
        pages.save_all(read_items(client, listed, result.run_id, on_failed=partial(pages.page_failed, retry=False)))
        progress.end(post_type)
        _collection_done(db, result, pages)
    return True


# Many sites, one after the other or some at once: what `wparchive harvest` runs, with or without a URL.



@dataclass(frozen=True)
class HarvestSettings:
    """What every site of a harvest shares; a site of sites.toml may set its own delay, timeout, concurrency and
    response size cap."""

    delay: float = 0.5  # seconds between requests
    timeout: float = 30.0  # seconds a request may take in all, from connecting to its last byte; then retried
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES  # a larger body (decompressed) is not read, and recorded
    concurrency: int = 1  # pages fetched at once
    retries: int = 5
    full: bool = False  # fetch everything again, not only what changed
    limit: int | None = None  # stop each collection after this many items (a trial run)
    workers: int = 1  # processes that clean large collections
    config: str | Path | None = None  # the folder of boilerplate.toml; None: $WPARCHIVE_CONFIG or the bundled one
    warc_dir: str | Path | None = None  # also write every response to a WARC file in this folder
    pages: bool = False  # with warc_dir: also capture the HTML page of each post and page stored into the WARC
    media_dir: str | Path | None = None  # also download media into this folder; None: no media
    media_max_bytes: int = DEFAULT_MAX_BYTES  # larger files are skipped and recorded
    jobs: int = 1  # sites harvested at once, each with its own delay and concurrency


@dataclass
class SiteOutcome:
    """How one site's harvest ended: what the run did, or the error that stopped it, and its media."""

    url: str
    result: HarvestResult | None = None  # None when an error stopped the harvest
    error: WPArchiveError | None = None  # what stopped the harvest, or the media download after it
    media: MediaCounts | None = None  # with media_dir, when the harvest got that far
    pages: PageCaptures | None = None  # with warc_dir and pages, when the harvest got that far
    requests: int = 0  # HTTP requests made for the site, media included

    @property
    def status(self) -> str:
        """failed (an error stopped it), partial (some items failed) or ok."""
        if self.error is not None or self.result is None:
            return "failed"
        return "partial" if self.result.status == "partial" else "ok"


def harvest_sites(
    db_path: str,
    sites: Sequence[SiteConfig],
    settings: HarvestSettings | None = None,
    *,
    progress: Progress | None = None,
) -> Iterator[SiteOutcome]:
    """Harvest the sites into the archive at db_path, yielding each one's SiteOutcome as it ends.

    Before anything is written, the boilerplate rules and every site's credentials are read: a
    mistake in either raises ConfigError and nothing is harvested. Then the archive is locked
    (DatabaseLocked while another harvest or `serve -i` holds it, until this generator ends or is
    closed; ArchiveUnavailable when the lock file cannot be made) and opened (NotAnArchive for
    another file), and runs left `running` by a killed harvest are marked `killed`. Each site gets
    its own Client and WARC file; an error of one site (a WPArchiveError, SQLite's own errors
    included) is yielded in its outcome and the other sites go on. Ctrl-C (KeyboardInterrupt) ends
    the whole harvest, its runs marked `interrupted`.

    With settings.jobs 1 the sites are harvested in turn, in their order; with more, that many at
    once (see _harvest_at_once), their outcomes yielded in the order they end.
    """
    settings = settings or HarvestSettings()
    progress = progress or SilentProgress()
    rules = load_boilerplate(config_dir(settings.config))  # a broken rules file stops here, not halfway through
    credentials = [site.credentials() for site in sites]
    with ExitStack() as held:
        held.enter_context(archive_lock(db_path))
        db = open_db(db_path)
        try:
            # With the lock held no other harvest runs: a run still `running` was killed.
            for run_id in mark_killed_runs(db):
                progress.note(f"run {run_id} ended without recording its end (killed, or the machine stopped): "
                              "marked killed; this run continues where it stopped")
        except sqlite3.Error as exc:
            raise archive_error(exc, db_path) from exc
        if settings.jobs > 1 and len(sites) > 1:
            db.close()  # each site writes through a connection of its own
            yield from _harvest_at_once(db_path, list(zip(sites, credentials, strict=True)), rules, settings,
                                        progress)
            return
        for site, auth in zip(sites, credentials, strict=True):
            yield _harvest_one(db, db_path, site, auth, rules, settings, progress)


def _harvest_at_once(db_path: str, sites: list[tuple[SiteConfig, tuple[str, str] | None]], rules: Boilerplate,
                     settings: HarvestSettings, progress: Progress) -> Iterator[SiteOutcome]:
    """harvest_sites with settings.jobs sites at a time, each in a thread of its own.

    Each thread has its own connection to the archive: in WAL mode nothing waits to read, and each
    page's short transaction waits for the write lock its turn (busy timeout). The sites share one
    pool of cleaning workers (the process tree stays settings.workers large) and report through
    SiteProgress. A KeyboardInterrupt here (Ctrl-C in the main thread), in a site's thread, or the
    generator closed early, stops every site at its next request: each run is recorded
    `interrupted`, then the interrupt goes on. Another exception of one site ends that site only.
    """
    stop = threading.Event()
    pool = CleaningPool(settings.workers)
    reporting = threading.Lock()

    def one_site(site: SiteConfig, auth: tuple[str, str] | None) -> SiteOutcome:
        if stop.is_set():
            raise KeyboardInterrupt  # a site still waiting for its turn does not start
        own_progress = SiteProgress(progress, split_credentials(site.url)[0], reporting)
        try:
            db = open_db(db_path)
        except sqlite3.Error as exc:
            return SiteOutcome(url=site.url, error=archive_error(exc, db_path))
        except WPArchiveError as exc:
            return SiteOutcome(url=site.url, error=exc)
        try:
            return _harvest_one(db, db_path, site, auth, rules, settings, own_progress, pool=pool, stop=stop)
        except Exception as exc:  # a fault of this site's harvest (its run is recorded `failed`): the others go on
            log.error("%s: the harvest stopped on an unexpected error", site.url, exc_info=True)
            return SiteOutcome(url=site.url, error=WPArchiveError(f"the harvest stopped on an unexpected error: "
                                                                  f"{type(exc).__name__}: {exc}"))
        finally:
            db.close()

    threads = ThreadPoolExecutor(max_workers=settings.jobs, thread_name_prefix="wparchive-site")
    try:
        for done in as_completed([threads.submit(one_site, site, auth) for site, auth in sites]):
            yield done.result()  # a KeyboardInterrupt of the site's thread is raised here
    finally:
        stop.set()  # nothing to stop once every site has ended; else each records its run and ends
        threads.shutdown(wait=True, cancel_futures=True)
        pool.close()


def _harvest_one(db: Database, db_path: str, site: SiteConfig, auth: tuple[str, str] | None, rules: Boilerplate,
                 settings: HarvestSettings, progress: Progress, *, pool: CleaningPool | None = None,
                 stop: threading.Event | None = None) -> SiteOutcome:
    """One site of harvest_sites: its harvest, then its media; a WPArchiveError or SQLite's error ends in the
    outcome. pool and stop are those of sites harvested at once."""
    max_bytes = settings.max_response_bytes if site.max_response_mb is None else site.max_response_mb * 1024 * 1024
    client = Client(delay=_own(site.delay, settings.delay), timeout=_own(site.timeout, settings.timeout),
                    concurrency=_own(site.concurrency, settings.concurrency), retries=settings.retries, auth=auth,
                    max_response_bytes=max_bytes, stop=stop)
    options = HarvestOptions(full=settings.full, limit=settings.limit, include=site.include, exclude=site.exclude,
                             private=site.private, revisions=site.revisions, wpcom=site.wpcom,
                             workers=settings.workers, boilerplate=rules)
    outcome = SiteOutcome(url=site.url)
    try:
        try:
            if settings.warc_dir:
                try:
                    client.recorder = WarcRecorder(settings.warc_dir, prefix=warc_prefix(site.url))
                except OSError as exc:
                    raise WPArchiveError(f"cannot write a WARC file in {settings.warc_dir}: {exc.strerror or exc}",
                                         hint="Choose a folder you may write to with --warc.") from None
            outcome.result = harvest_site(db, client, site.url, progress=progress, options=options, pool=pool)
            if settings.pages and client.recorder is not None and outcome.result.site_id is not None:
                outcome.pages = capture_pages(db, client, outcome.result.site_id, outcome.result.run_id,
                                              progress=progress)
        finally:
            if isinstance(client.recorder, WarcRecorder):
                client.recorder.close()
        if settings.media_dir is not None and outcome.result.site_id is not None:
            outcome.media = download_media(db, client, outcome.result.site_id, settings.media_dir,
                                           run_id=outcome.result.run_id, max_bytes=settings.media_max_bytes,
                                           progress=progress)
    except WPArchiveError as exc:
        outcome.error = exc
    except sqlite3.Error as exc:  # a full disk, read-only storage: a message, not a traceback
        return SiteOutcome(url=site.url, error=archive_error(exc, db_path))
    outcome.requests = client.requests_made
    return outcome


_T = TypeVar("_T")


def _own(value: _T | None, default: _T) -> _T:
    """A site's own setting, else the shared one."""
    return default if value is None else value
