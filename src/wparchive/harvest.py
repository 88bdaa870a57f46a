"""One harvest of one site: discover → fetch → clean → store, page by page."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from sqlite_utils.db import Database

from . import __version__
from .client import Client, utc_now
from .clean import Boilerplate, site_hosts_of
from .config import load_boilerplate
from .db import (
    ensure_db_shape, finish_run, known_api_root, record_failure, save_collection_counts, save_site,
    set_site_taxonomies, start_run, term_names,
)
from .discover import Collection, check_authentication, find_api_root, list_collections
from .errors import AccessDenied, DiscoveryError, FetchError, NoRoute, RestDisabled, SiteUnreachable, WPArchiveError
from .fallback import feed_channel, list_items, locate_feed, read_items
from .pages import ItemPipeline, new_counts
from .parallel import CleaningPool
from .paths import config_dir
from .progress import Progress, SilentProgress
from .records import TABLE_ORDER, SiteContext
from .sync import CollectionSync, sync_collection

PRIVATE_STATUSES = "publish,future,draft,pending,private"


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
    **option_values: Any,
) -> HarvestResult:
    """Harvest every public collection of a site into the archive; returns what the run did.

    A failing collection is recorded in harvest_errors and the run goes on ("partial");
    discovery failures and interruptions end the run ("failed", "interrupted") and re-raise.
    """
    progress = progress or SilentProgress()
    options = options or HarvestOptions(**option_values)
    result = HarvestResult(run_id=start_run(db, site_url, utc_now(), __version__))
    pool = CleaningPool(options.workers)
    try:
        try:
            result.api_root, index = find_api_root(client, site_url, known_api_root(db, site_url),
                                                   wpcom=options.wpcom)
        except (RestDisabled, DiscoveryError) as exc:
            if isinstance(exc, SiteUnreachable) or not _harvest_without_api(db, client, site_url, result, options,
                                                                              progress, exc):
                raise
            result.status = "partial" if result.errors else "ok"
            return result
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
    except KeyboardInterrupt:
        result.status = "interrupted"
        raise
    except WPArchiveError as exc:
        result.status = "failed"
        record_failure(db, result.run_id, exc, at=utc_now(), site_id=result.site_id, url=site_url)
        raise
    except BaseException:
        result.status = "failed"
        raise
    finally:
        pool.close()
        if result.status != "interrupted":
            ensure_db_shape(db)
        finish_run(
            db, result.run_id, status=result.status, finished_at=utc_now(), site_id=result.site_id,
            counts=result.counts, requests=client.requests_made,
        )
    return result


def _harvest_collection(
    db: Database, client: Client, result: HarvestResult, ctx: SiteContext,
    collection: Collection, progress: Progress, options: HarvestOptions, pool: CleaningPool,
) -> None:
    signed_in = client.auth is not None
    private = signed_in and options.private and collection.table == "posts"
    pages = ItemPipeline(db, ctx, result.run_id, collection.table, collection.name, progress, pool=pool,
                         repairs=client.repairs)
    job = CollectionSync(
        client=client, collection=collection, api_root=result.api_root, pages=pages, limit=options.limit,
        list_params={"status": PRIVATE_STATUSES} if private else {},
        revisions=signed_in and options.revisions and collection.table == "posts",
    )
    try:
        sync_collection(job, full=options.full)
    except (AccessDenied, NoRoute) as exc:
        # Editor internals (wp_block, wp_navigation…) and hardened sites refuse anonymous
        # reads: that is the site's choice, not a harvest failure.
        _note(result, progress, f"skipped {collection.name}: {exc.code or exc.status} (not public)")
        return
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


def _authenticate(client: Client, result: HarvestResult, options: HarvestOptions, progress: Progress) -> None:
    """Check credentials before relying on them; without them, say what is left out."""
    if client.auth is None:
        if options.private or options.revisions:
            _note(result, progress, "private items and revisions need credentials: harvesting what is public")
        return
    user = check_authentication(client, result.api_root)
    if user is None:
        client.drop_auth()
        _note(result, progress, "the server did not receive the credentials (the Authorization header was "
              "stripped, as Apache with PHP as CGI does unless .htaccess passes it on): harvesting anonymously")
    else:
        _note(result, progress, f"signed in as {user}")


def _rules(options: HarvestOptions) -> Boilerplate:
    """The boilerplate rules asked for, else those of the bundled config/boilerplate.toml."""
    return options.boilerplate if options.boilerplate is not None else load_boilerplate(config_dir())


def _note(result: HarvestResult, progress: Progress, message: str) -> None:
    result.notes.append(message)
    progress.note(message)


def _harvest_without_api(db: Database, client: Client, site_url: str, result: HarvestResult, options: HarvestOptions,
                         progress: Progress, why: WPArchiveError) -> bool:
    """Read the site's feed, sitemaps and pages instead; False when there is no feed either."""
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
    for post_type, listed in sorted(list_items(client, feed_url, home, result.run_id).items()):
        pages = ItemPipeline(db, ctx, result.run_id, "posts", post_type, progress, counts=new_counts("fallback"))
        progress.begin(post_type, len(listed))
        pages.save_all(read_items(client, listed, result.run_id, on_failed=partial(pages.page_failed, retry=False)))
        progress.end(post_type)
        _collection_done(db, result, pages)
    return True
