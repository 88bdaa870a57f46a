"""The search as Datasette runs it: wparchive.search's steps on Datasette's connections, within
its time limit, and snippets as safe HTML. Each archive is queried through its own Datasette
database (none is attached to another), so that any number of them can be searched as one."""

from __future__ import annotations

import asyncio
import html
import sqlite3
from collections.abc import AsyncIterator, Sequence
from typing import Any

from markupsafe import Markup

from ..db.queries import MARK_END, MARK_START
from ..search import (  # noqa: F401 - the page's names, for the plugin and its tests
    PAGE_SIZE, Query, SearchRequest, SearchResults, SnippetMaker, Stepper, Steps, Work, fts_query, page_steps,
)


def highlight(snippet: str | None) -> Markup:
    """A snippet as safe HTML: everything escaped, then only our own markers become <mark>."""
    escaped = html.escape(snippet or "", quote=True)
    return Markup(escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


def by_name(databases: Any) -> dict[str, Any]:
    """Datasette databases by their names (a database alone: the only archive, named "")."""
    if isinstance(databases, Sequence):
        return {database.name: database for database in databases}
    return {"": databases}


async def run_steps(databases: Any, steps: Steps) -> AsyncIterator[Any]:
    """Run search steps on Datasette databases (a list, or one alone), each archive's query on its
    own: what they output, as they output it. Datasette's time limit (QueryInterrupted) ends them."""
    named = by_name(databases)

    async def rows_of(query: Query) -> list[dict[str, Any]]:
        results = await named[query.archive].execute(query.sql, query.params)
        columns = results.columns
        return [dict(zip(columns, row, strict=True)) for row in results.rows]

    stepper = Stepper(steps)
    for step in stepper:
        try:
            if isinstance(step, Query):
                stepper.reply = await rows_of(step)
            elif isinstance(step, Work):  # in a thread, off the loop, while its queries run on Datasette's
                stepper.reply = list(await asyncio.gather(asyncio.to_thread(step.run), *map(rows_of, step.queries)))
            else:
                yield step
        except sqlite3.OperationalError as exc:
            stepper.error = exc


async def run_search(databases: Any, text: str, *, advanced: bool, filters: dict[str, str], page: int = 1,
                     sort: str = "relevance", mode: str = "hybrid") -> SearchResults:
    """One page of a search of Datasette databases (a list, searched as one, or one alone), with
    snippets as HTML (snippet_html); errors (a wrong date, FTS5 syntax in advanced mode, meaning asked
    of archives without vectors) come back as a message."""
    request = SearchRequest(text, advanced=advanced, filters=filters, sort=sort, mode=mode)
    results = SearchResults()
    archives = list(by_name(databases))
    async for output in run_steps(databases, page_steps(request, page, archives)):  # one page: its steps output one
        results = output
    for row in results.rows:
        row["snippet_html"] = highlight(row["snippet"])
    return results
