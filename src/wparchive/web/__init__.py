"""wparchive's Datasette plugin: a ranked search page, readable post pages, an archive home page,
the archive's metadata and canned queries, its posts table readable first, its media files served.

Registered through the "datasette" entry point, so it is active whenever Datasette serves an
archive, by `wparchive serve` or by `datasette archive.db`, and both serve the same archive.
"""

from __future__ import annotations

import html
import re
import sqlite3
import time
import weakref
from typing import Any
from urllib.parse import quote, urlencode

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.utils import tilde_encode
from datasette.utils.asgi import Response
from markdown_it import MarkdownIt
from markupsafe import Markup
from mdit_py_plugins.footnote import footnote_plugin

from ..db.queries import (
    FACET_SAMPLE, MARK_END, MARK_START, PLAIN_MARK_END, PLAIN_MARK_START, POST_COMMENTS_SQL, POST_SQL,
    POSTS_PER_MONTH_SQL, RELATED_SQL, SEARCH_QUERY_DESCRIPTION, SEARCH_QUERY_NAME, SEARCH_QUERY_SQL, SEARCH_QUERY_TITLE,
    SORTS, STATUS_PARAMS, STATUS_SQL, status_rows,
)
from ..paths import config_dir
from ..search import (
    MODE_LABELS, RESULT_FIELDS, SEARCH_FILTERS, BadSearch, SearchRequest, add_search_functions, plain_snippet,
    result_steps,
)
from .access import asked_database, may_see
from .cache import response_cache
from .chart import month_bars
from .facets import TermsFacet
from .home import home_page
from .media_files import FILE_PATH, archived_files, media_file
from .metadata import for_archives, is_archive, read_metadata
from .readable import columns_choice, posts_url, readable_args, readable_redirect
from .search import PAGE_SIZE, SearchResults, highlight, run_search, run_steps
from .stream import stream_rows, stream_table

# Links that may become links anywhere the plugin makes one: the rest are shown as text.
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_DATA_IMAGE = re.compile(r"^data:image/(?:gif|png|jpeg|webp);", re.I)
_OUTER_CONTROLS = re.compile(r"^[\x00-\x20]+|[\x00-\x20]+$")
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")


def safe_href(url: Any) -> str | None:
    """url when it may be a link: http, https, mailto, or relative; None for javascript:, data:,
    vbscript: and every other scheme (and for what is no text)."""
    if not isinstance(url, str) or not url.strip():
        return None
    # Browsers drop surrounding spaces and controls and every tab and newline before they read
    # the scheme: "java\tscript:" is javascript: to them, and so it is here.
    text = _TAB_OR_NEWLINE.sub("", _OUTER_CONTROLS.sub("", url))
    scheme = _SCHEME.match(text)
    if scheme is not None:
        return url if scheme.group(1).lower() in LINK_SCHEMES else None
    # No scheme: relative, unless something before the first "/", "?" or "#" holds a colon that
    # a browser could read otherwise ("java%09script:").
    return None if ":" in re.split(r"[/?#]", text, maxsplit=1)[0] else url


class _ReaderMarkdown(MarkdownIt):
    """markdown-it for harvested Markdown: links only to safe_href's addresses; images also from
    data: in the four raster formats, which cannot run anything."""

    def validateLink(self, url: str) -> bool:  # noqa: N802 - markdown-it's name
        return safe_href(url) is not None or bool(_DATA_IMAGE.match(url.strip()))


def _no_data_links(state: Any) -> None:
    """A data: address may be an image's, never a link's (validateLink cannot tell them apart):
    such links keep their text and lose the link."""
    for token in state.tokens:
        if token.type != "inline" or not token.children:
            continue
        kept, dropping = [], False
        for child in token.children:
            if child.type == "link_open" and safe_href(child.attrGet("href")) is None:
                dropping = True
            elif child.type == "link_close" and dropping:
                dropping = False
            else:
                kept.append(child)
        token.children = kept


def _archived_media(state: Any) -> None:
    """Images and links to the files of the media folder (render_markdown's files) lead there, not
    to the site, which may be gone."""
    files = state.env.get("files") if isinstance(state.env, dict) else None
    if not files:
        return
    for token in state.tokens:
        for child in token.children or ():
            attribute = "src" if child.type == "image" else "href" if child.type == "link_open" else None
            local = files.get(child.attrGet(attribute)) if attribute else None
            if local is not None:
                child.attrSet(attribute, local)


# Raw HTML in Markdown is escaped, not passed on, and links keep safe schemes (above).
# Harvested HTML itself is never rendered.
# Footnotes too: the cleaner writes a post's notes as "[^1]" and "[^1]: note".
_MARKDOWN = _ReaderMarkdown("commonmark", {"html": False, "typographer": False}).enable("table").use(footnote_plugin)
_MARKDOWN.core.ruler.push("wparchive_no_data_links", _no_data_links)
_MARKDOWN.core.ruler.push("wparchive_archived_media", _archived_media)

# Every route of the plugin under its own name: /-/search is datasette-search-all's, and a bare
# /-/post/ or /-/stream/ could as well be another plugin's. Links to them go through
# datasette.urls, like every other link the plugin makes, so that Datasette's base_url holds.
ROUTE_PREFIX = "/-/wparchive/"
SEARCH_PATH = ROUTE_PREFIX + "search"
MEDIA_PATH = ROUTE_PREFIX + "media/"
RESULTS_PATH = ROUTE_PREFIX + "results"  # .csv, .json, .jsonl: every row of a search
TOO_LONG = "The search took too long; add words or a filter."


def render_markdown(text: str | None, files: dict[str, str] | None = None) -> Markup:
    """Harvested Markdown as HTML that cannot carry scripts or event handlers; images and links
    whose URL files holds lead to the address it gives (an archived copy) instead."""
    # markdown-it compares addresses as it normalised them (percent-encoded)
    env = {"files": {_MARKDOWN.normalizeLink(url): local for url, local in (files or {}).items()}}
    return Markup(_MARKDOWN.render(text or "", env))


def _archive(datasette: Any) -> Any:
    return datasette.get_database()


async def _searched(request: Any, datasette: Any) -> list[Any]:
    """The databases a search covers: the archives served that the reader may see, in the order Datasette
    was given them (those without a full-text index are skipped, saying so), of which ?database= may
    name one (404 when no database is served so, 403 when the reader may not see it)."""
    if request.args.get("database"):
        await asked_database(request, datasette)
    return [datasette.databases[name] for name in _archive_names(datasette)
            if await may_see(datasette, request.actor, name)]


def post_url(datasette: Any, key: str, database: str | None = None) -> str:
    """The address of a post's page (of the database named), under Datasette's base_url."""
    return _in_database(datasette, datasette.urls.path(f"{ROUTE_PREFIX}post/{quote(key)}"), database)


def _in_database(datasette: Any, path: str, database: str | None) -> str:
    """The address of one of the plugin's pages of a database: ?database= names any but the first served."""
    return path if database in (None, _archive(datasette).name) else path + "?" + urlencode({"database": database})


def asked_search(args: Any) -> tuple[SearchRequest, int]:
    """The search a page's query string asks for, and the page of it."""
    request = SearchRequest(args.get("q", ""), advanced=args.get("advanced") == "1",
                            filters={name: args[name] for name in SEARCH_FILTERS if args.get(name)},
                            sort=args.get("sort") or "relevance", mode=args.get("mode") or "hybrid")
    try:
        page = max(1, int(args.get("page", "1")))
    except ValueError:
        page = 1
    return request, page


def search_link(datasette: Any, path: str, request: SearchRequest, **changes: Any) -> str:
    """The address of the search page (or of one of its downloads) for a request, with changes
    (a value of None drops that argument)."""
    args = {"q": request.text, "advanced": "1" if request.advanced else None, **request.filters,
            "sort": None if request.sort == "relevance" else request.sort,
            "mode": None if request.mode == "hybrid" else request.mode} | changes
    return datasette.urls.path(path) + "?" + urlencode({k: v for k, v in args.items() if v is not None})


def ran_out_of_time(exc: sqlite3.OperationalError, started: float, datasette: Any) -> bool:
    """Whether an SQL error is Datasette's time limit: reached while SQLite opens the full-text index,
    it reads as that index failing ("vtable constructor failed"), not as an interruption."""
    limit = datasette.setting("sql_time_limit_ms") / 1000
    return "vtable constructor failed" in str(exc) and time.monotonic() - started >= limit


async def _search(request: Any, datasette: Any) -> tuple[SearchResults | None, SearchRequest, int, bool]:
    """Run the search a request asks for: its results (None when it ran out of time), what it asked, and
    whether it searched several databases."""
    asked, page = asked_search(request.args)
    started = time.monotonic()
    databases: list[Any] = []
    try:
        databases = await _searched(request, datasette)  # the permission checks too read under the time limit
        results = await run_search(databases, asked.text, advanced=asked.advanced, filters=asked.filters,
                                   page=page, sort=asked.sort, mode=asked.mode)
    except QueryInterrupted:
        results = None
    except sqlite3.OperationalError as exc:
        if not ran_out_of_time(exc, started, datasette):
            raise
        results = None
    return results, asked, page, len(databases) > 1


async def search_page(request: Any, datasette: Any) -> Response:
    results, asked, page, several = await _search(request, datasette)
    context = {
        "results": results, "text": asked.text, "advanced": asked.advanced, "filters": asked.filters,
        "sort": asked.sort, "sorts": SORTS, "mode": asked.mode, "modes": MODE_LABELS,
        "page": page, "page_size": PAGE_SIZE, "several": several,
        "search_url": datasette.urls.path(SEARCH_PATH), "facet_sample": FACET_SAMPLE,
        "facet_link": lambda name, value: search_link(datasette, SEARCH_PATH, asked, **{name: value}),
        "remove_link": lambda name: search_link(datasette, SEARCH_PATH, asked, **{name: None}),
        "page_link": lambda number: search_link(datasette, SEARCH_PATH, asked, page=number),
        "download_link": lambda fmt: search_link(datasette, f"{RESULTS_PATH}.{fmt}", asked),
        "facet_label": _facet_label(results),
        "post_link": lambda row: post_url(datasette, row["key"], row["database"]),
        "comment_link": lambda row: datasette.urls.row(row["database"], "comments", tilde_encode(row["key"])),
    }
    return Response.html(await datasette.render_template("wparchive_search.html", context, request=request))


def _facet_label(results: SearchResults | None) -> Any:
    """A filter's value as the page shows it: a site's or author's name where the facets know it."""
    labels = {(name, str(v["value"])): v["label"] for name, values in (results.facets if results else {}).items()
              for v in values}
    return lambda name, value: labels.get((name, value), value)


async def search_json(request: Any, datasette: Any) -> Response:
    """The search page's results as JSON: the page of hits (snippets with <mark>, safely
    escaped, in snippet_html; with [[ and ]] in snippet), the total, the facets; errors as
    {"error": …} with a 4xx or 5xx status."""
    results, asked, page, _ = await _search(request, datasette)
    if results is None:
        return Response.json({"error": TOO_LONG}, status=503)
    if results.error:
        return Response.json({"error": results.error}, status=400)
    if not results.fts:
        return Response.json({"error": "Give the words to search for as ?q=…"}, status=400)
    rows = [{name: row[name] for name in _JSON_FIELDS} | {"snippet": plain_snippet(row["snippet"]),
                                                          "snippet_html": str(row["snippet_html"])}
            for row in results.rows]
    return Response.json({"q": results.query, "fts": results.fts, "filters": asked.filters, "sort": asked.sort,
                          "mode": asked.mode, "databases": results.databases, "skipped": results.skipped,
                          "page": page, "page_size": PAGE_SIZE, "total": results.total, "rows": rows,
                          "facets": results.facets})


_JSON_FIELDS = ("database", "kind", "key", "title", "type", "date_gmt", "link", "author", "author_name", "site_id", "site_name",
                "score")


async def search_results(request: Any, datasette: Any) -> Any:
    """/-/wparchive/results.csv, .json or .jsonl: every row of the search the page shows (its words,
    filters and order, over every database served), streamed a chunk at a time, each chunk a query
    within Datasette's time limit."""
    fmt = request.url_vars["format"]
    asked, _ = asked_search(request.args)
    started = time.monotonic()
    try:
        databases = await _searched(request, datasette)
        chunks = run_steps(databases, result_steps(asked, archives=[database.name for database in databases]))
        first: list[dict[str, Any]] = await anext(chunks, [])
    except BadSearch as exc:
        problem, status = str(exc), 400
    except (QueryInterrupted, sqlite3.OperationalError) as exc:
        if isinstance(exc, sqlite3.OperationalError) and not ran_out_of_time(exc, started, datasette):
            raise
        problem, status = TOO_LONG, 503
    else:
        return stream_rows(first, chunks, fmt, "search", RESULT_FIELDS)
    return Response.text(problem, status=status) if fmt == "csv" else Response.json({"error": problem}, status)


async def post_page(request: Any, datasette: Any) -> Response:
    key = request.url_vars["key"]
    database = await asked_database(request, datasette)
    try:
        found = (await database.execute(POST_SQL, {"key": key})).first()
    except sqlite3.OperationalError:
        found = None  # a database served beside the archives that is none
    if found is None:
        return Response.html(await datasette.render_template(
            "error.html", {"ok": False, "error": f"No post {html.escape(key)} in this archive", "title": "Not found",
                           "status": 404}, request=request), status=404)
    post = dict(found)
    comments = [dict(c) for c in (await database.execute(POST_COMMENTS_SQL, {"key": key})).rows]
    try:
        related = [dict(r) for r in (await database.execute(RELATED_SQL, {"key": key})).rows]
    except sqlite3.OperationalError:
        related = []  # an archive of an older wparchive, served read-only: no related table
    files = await archived_files(datasette, database, key, lambda path: _in_database(
        datasette, datasette.urls.path(f"{MEDIA_PATH}{path}"), database.name))
    context = {
        "post": post, "body": render_markdown(post["content_markdown"], files), "comments": comments,
        "related": related, "post_link": lambda other: post_url(datasette, other, database.name),
        "original_link": safe_href(post.get("link")),
        "database": database.name, "row_link": datasette.urls.row(database.name, "posts", tilde_encode(key)),
        "history_link": datasette.urls.query(database.name, "post_versions") + "?" + urlencode({"key": key}),
        "filter_link": lambda column, value: _terms_filter(datasette, database.name, column, value),
        "categories": _json_list(post.get("categories")), "tags": _json_list(post.get("tags")),
    }
    return Response.html(await datasette.render_template("wparchive_post.html", context, request=request))


def _terms_filter(datasette: Any, database: str, column: str, value: str) -> str:
    """The readable posts table of the posts with this category or tag (column)."""
    return posts_url(datasette, database, readable_args([(f"{column}__arraycontains", value)]))


def _json_list(value: str | None) -> list[str]:
    import json

    try:
        items = json.loads(value or "[]")
    except ValueError:
        return []
    return [str(item) for item in items] if isinstance(items, list) else []


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    # The home page; its format group is empty ("/.json" stays Datasette's).
    return [(r"^/(?P<format>)$", home_page), (rf"^{SEARCH_PATH}$", search_page), (rf"^{SEARCH_PATH}\.json$", search_json),
            (rf"^{ROUTE_PREFIX}post/(?P<key>[^/]+)$", post_page), (rf"^{MEDIA_PATH}(?P<path>{FILE_PATH})$", media_file),
            (rf"^{RESULTS_PATH}\.(?P<format>csv|jsonl|json)$", search_results),
            (rf"^{ROUTE_PREFIX}stream/(?P<table>[^/]+)\.(?P<format>jsonl|json|csv)$", stream_table)]


# Per Datasette instance, found at its startup: the names of the archives it serves, and the
# metadata the plugin gives those of them that Datasette was given none for.
_ARCHIVES: weakref.WeakKeyDictionary[Any, tuple[list[str], dict[str, Any]]] = weakref.WeakKeyDictionary()


def _archive_names(datasette: Any) -> list[str]:
    return _ARCHIVES.get(datasette, ([], {}))[0]


@hookimpl
def startup(datasette: Any) -> Any:
    async def find_archives() -> None:
        names = [name for name, database in datasette.databases.items() if await is_archive(database)]
        # `wparchive serve` gives Datasette the metadata of its --config; `datasette archive.db` gives
        # none, and gets config/metadata.yml (or $WPARCHIVE_CONFIG's) from here. Metadata given for an
        # archive (datasette -m) is taken as it is.
        bare = [name for name in names if not datasette.metadata(database=name, fallback=False)]
        metadata = {}
        if bare:
            metadata = for_archives(read_metadata(config_dir()), bare, base_url=datasette.setting("base_url"))
        _ARCHIVES[datasette] = (names, metadata)

    return find_archives


@hookimpl
def get_metadata(datasette: Any) -> dict[str, Any]:
    # Not a copy (Datasette asks for it many times a page): Datasette merges what it is given in
    # place, as it does its own metadata, and the result is the same each time.
    return _ARCHIVES.get(datasette, ([], {}))[1]


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    redirect, cache = readable_redirect(datasette, lambda: _archive_names(datasette)), response_cache(datasette)
    return lambda app: cache(redirect(app))


@hookimpl
def register_facet_classes() -> list[Any]:
    return [TermsFacet]


@hookimpl
def canned_queries(datasette: Any, database: str) -> Any:
    async def search_query() -> dict[str, Any]:
        # Only archives: a Datasette serving other databases as well keeps them free of it.
        found = await datasette.get_database(database).execute(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('posts_fts', 'comments_fts')")
        if found.first()[0] != 2:
            return {}
        return {SEARCH_QUERY_NAME: {
            "title": SEARCH_QUERY_TITLE, "sql": SEARCH_QUERY_SQL,
            "description": SEARCH_QUERY_DESCRIPTION.format(search_page=datasette.urls.path(SEARCH_PATH))}}

    return search_query


# How long Datasette's connections wait for a lock. In WAL mode a harvest never makes a reader
# wait; SQLite may, for a moment, while it recovers the WAL of a harvest that was killed or while
# an archive still in rollback mode is switched to WAL. Past this, a page fails with "database is locked".
READ_BUSY_TIMEOUT_MS = 5_000


@hookimpl
def prepare_connection(conn: Any) -> None:
    conn.execute(f"PRAGMA busy_timeout = {READ_BUSY_TIMEOUT_MS}")
    add_search_functions(conn)  # for the search page and the search canned query


@hookimpl
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any) -> Any:
    if table is None and column == "snippet" and isinstance(value, str) and PLAIN_MARK_START in value:
        # the search canned query (its snippets have plain markers, for its CSV and JSON): escaped, then marked
        return highlight(value.replace(PLAIN_MARK_START, MARK_START).replace(PLAIN_MARK_END, MARK_END))
    if table != "posts" or database not in _archive_names(datasette):
        return None
    if column == "key" and isinstance(value, str):
        return Markup(f'{html.escape(value)} <a href="{html.escape(post_url(datasette, value, database))}">read</a>')
    if column == "title" and isinstance(row["key"], str):
        link = html.escape(post_url(datasette, row["key"], database))
        return Markup(f'<a href="{link}">{html.escape(str(value) if value not in (None, "") else "(no title)")}</a>')
    if column in ("categories", "tags") and isinstance(value, str):
        return Markup(", ".join(f'<a href="{html.escape(_terms_filter(datasette, database, column, name))}">'
                                f'{html.escape(name)}</a>' for name in _json_list(value)) or "&nbsp;")
    return None


def _summed(summaries: list[tuple[str, dict[str, list[dict[str, Any]]], list[tuple[str, int]]]]) -> dict[str, Any]:
    """The home page's summaries of several archives as one: every site, the newest runs and open
    errors of them all (as many as one archive shows), posts per month added up; each row names
    its database."""
    sites, runs, errors = [], [], []
    per_month: dict[str, int] = {}
    for name, status, months in summaries:
        sites += [dict(row, database=name) for row in status["sites"]]
        runs += [dict(row, database=name) for row in status["runs"]]
        errors += [dict(row, database=name) for row in status["errors"]]
        for month, posts in months:
            per_month[month] = per_month.get(month, 0) + posts
    runs.sort(key=lambda run: run["started_at"] or "", reverse=True)
    errors.sort(key=lambda error: error["at"] or "", reverse=True)
    return {"sites": sites, "runs": runs[:STATUS_PARAMS["runs"]], "errors": errors[:STATUS_PARAMS["errors"]],
            "chart": month_bars(sorted(per_month.items()))}


@hookimpl
def extra_template_vars(template: str, database: str | None, table: str | None, request: Any, datasette: Any) -> Any:
    if template == "table.html":
        if table == "posts" and database in _archive_names(datasette) and request is not None:
            return {"wparchive_columns": columns_choice(datasette, database, request)}
        return None
    if template != "index.html":
        return None

    async def archive_summary() -> dict[str, Any]:
        # Every archive served that this reader may see, summed up together: its sites, the newest
        # runs and open errors of them all, and their posts per month added up.
        actor = request.actor if request else None
        names = _archive_names(datasette) or [_archive(datasette).name]
        summaries = []
        for name in names:
            if not await may_see(datasette, actor, name):
                continue  # closed to this reader: nothing of it is shown
            database = datasette.get_database(name)
            try:
                status = {part: status_rows((await database.execute(sql, STATUS_PARAMS)).rows)
                          for part, sql in STATUS_SQL.items()}
                months = [(r["month"], r["posts"]) for r in (await database.execute(POSTS_PER_MONTH_SQL)).rows]
            except Exception:  # not an archive (Datasette serving something else): left out
                continue
            summaries.append((name, status, months))
        if not summaries:
            return {"archive": None}  # the plain home page
        return {"archive": _summed(summaries) | {"database": summaries[0][0], "several": len(summaries) > 1,
                                                 "databases": [name for name, _, _ in summaries],
                                                 "search_url": datasette.urls.path(SEARCH_PATH)}}

    return archive_summary
