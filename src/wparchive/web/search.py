"""The search as Datasette runs it: wparchive.search's steps on Datasette's connections, within
its time limit, and snippets as safe HTML."""

from __future__ import annotations

import html
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

from markupsafe import Markup

from ..db.queries import MARK_END, MARK_START
from ..search import (  # noqa: F401 - the page's names, for the plugin and its tests
    PAGE_SIZE, Query, SearchRequest, SearchResults, SnippetMaker, Stepper, Steps, fts_query, page_steps,
)


def highlight(snippet: str | None) -> Markup:
    """A snippet as safe HTML: everything escaped, then only our own markers become <mark>."""
    escaped = html.escape(snippet or "", quote=True)
    return Markup(escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


async def run_steps(database: Any, steps: Steps) -> AsyncIterator[Any]:
    """Run search steps on a Datasette database: what they output, as they output it. Datasette's
    time limit (QueryInterrupted) ends them."""
    stepper = Stepper(steps)
    for step in stepper:
        if isinstance(step, Query):
            try:
                stepper.reply = [dict(row) for row in (await database.execute(step.sql, step.params)).rows]
            except sqlite3.OperationalError as exc:
                stepper.error = exc
        else:
            yield step


async def run_search(database: Any, text: str, *, advanced: bool, filters: dict[str, str], page: int = 1,
                     sort: str = "relevance", mode: str = "hybrid") -> SearchResults:
    """One page of a search of a Datasette database, with snippets as HTML (snippet_html); errors
    (a wrong date, FTS5 syntax in advanced mode, meaning asked of an archive without vectors) come
    back as a message."""
    request = SearchRequest(text, advanced=advanced, filters=filters, sort=sort, mode=mode)
    results = SearchResults()
    async for output in run_steps(database, page_steps(request, page)):  # one page: its steps output one
        results = output
    for row in results.rows:
        row["snippet_html"] = highlight(row["snippet"])
    return results
