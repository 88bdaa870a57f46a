"""The posts table as a person first meets it: the columns one reads, every other one a click away.

The posts table has some forty columns (its text three times over, provenance, hashes), 6,600
pixels wide. `/archive/posts` with no arguments leads to the same table with Datasette's own `_col`
arguments for the readable columns; everything Datasette offers still works on it (facets, search,
sorting, "Show all columns"), and the table's JSON and CSV without `_col` hold every column.
"""

from __future__ import annotations

from typing import Any, Callable
from urllib.parse import urlencode

from datasette.utils.asgi import asgi_send_redirect

# Besides the key, which Datasette always shows (linked to the row's page).
READABLE_COLUMNS = ("title", "date_gmt", "type", "author", "categories", "tags", "word_count")
# The table's default order (metadata's sort_desc), written out: Datasette's "Show all columns" takes
# the _col arguments away, and what is left must not be the bare address that leads to the readable page.
DEFAULT_ORDER = ("_sort_desc", "date_gmt")
_COLUMN_ARGS = ("_col", "_nocol")

Args = list[tuple[str, str]]


def readable_args(args: Args) -> Args:
    """The arguments of a posts page showing the readable columns, with the rows args select."""
    kept = [(name, value) for name, value in args if name not in _COLUMN_ARGS]
    order = [] if any(name in ("_sort", "_sort_desc") for name, _ in kept) else [DEFAULT_ORDER]
    return [*kept, *(("_col", column) for column in READABLE_COLUMNS), *order]


def all_columns_args(args: Args) -> Args:
    """The arguments of a posts page showing every column, with the rows args select."""
    return [(name, value) for name, value in args if name not in _COLUMN_ARGS] or [DEFAULT_ORDER]


def posts_url(datasette: Any, database: str, args: Args) -> str:
    """The address of the posts table of an archive with these arguments."""
    return datasette.urls.table(database, "posts") + ("?" + urlencode(args) if args else "")


def columns_choice(datasette: Any, database: str, request: Any) -> dict[str, Any]:
    """What the posts page says of its columns: whether it shows the readable ones, and a link to the other view."""
    args = [(name, value) for name in request.args for value in request.args.getlist(name)]
    readable = "_col" in request.args
    other = all_columns_args(args) if readable else readable_args(args)
    return {"readable": readable, "link": posts_url(datasette, database, other)}


def readable_redirect(datasette: Any, archives: Callable[[], list[str]]) -> Callable[[Any], Any]:
    """ASGI middleware: a request for an archive's bare posts page is sent to its readable columns."""

    def wrap(app: Any) -> Any:
        async def readable_first(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope.get("method") == "GET" and not scope.get("query_string"):
                path = scope.get("path", "")
                base_url = datasette.setting("base_url")
                if base_url != "/" and not path.startswith(base_url):
                    path = base_url + path.lstrip("/")  # as Datasette routes it, with or without base_url
                for name in archives():
                    if path == datasette.urls.table(name, "posts"):
                        await asgi_send_redirect(send, posts_url(datasette, name, readable_args([])))
                        return
            await app(scope, receive, send)

        return readable_first

    return wrap
