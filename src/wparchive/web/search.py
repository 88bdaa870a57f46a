"""Ranked, highlighted, error-proof full-text search over posts, pages and comments."""

from __future__ import annotations

import html
import re
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from ..db.queries import FACET_NAMES, MARK_END, MARK_START, facets_sql, search_sql

PAGE_SIZE = 20
_PHRASE = re.compile(r'"([^"]*)"')
# A word, with inner hyphens, dots or apostrophes kept together: well-known, node.js, don't
_TERM = re.compile(r"\w+(?:[-.'’]\w+)*")
_WORD = re.compile(r"\w+")


def fts_query(text: str) -> str:
    """A user's words as an FTS5 query that cannot be a syntax error.

    "Quoted phrases" stay phrases, hyphenated or dotted words become phrases of their parts,
    every other word must appear; quotes left unbalanced, operators and punctuation are ignored.
    """
    parts = []
    if text.count('"') % 2:
        text = text.replace('"', " ")
    for phrase in _PHRASE.findall(text):
        words = _WORD.findall(phrase)
        if words:
            parts.append('"' + " ".join(words) + '"')
    rest = _PHRASE.sub(" ", text)
    for term in _TERM.findall(rest):
        words = _WORD.findall(term)
        parts.append('"' + " ".join(words) + '"')
    return " ".join(parts)


def highlight(snippet: str | None) -> Markup:
    """A snippet as safe HTML: everything escaped, then only our own markers become <mark>."""
    escaped = html.escape(snippet or "", quote=True)
    return Markup(escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


@dataclass
class SearchResults:
    """One page of results, their total, the facets, and what went wrong (if anything)."""

    query: str = ""
    fts: str = ""
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    error: str = ""


async def run_search(database: Any, text: str, *, advanced: bool, filters: dict[str, str],
                     page: int = 1) -> SearchResults:
    """Search a Datasette database; FTS5 syntax errors in advanced mode come back as a message."""
    results = SearchResults(query=text)
    results.fts = text.strip() if advanced else fts_query(text)
    if not results.fts:
        return results
    rows_sql, total_sql, params = search_sql(filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    params["q"] = results.fts
    try:
        results.total = (await database.execute(total_sql, params)).first()[0]
        rows = await database.execute(rows_sql, params)
        results.facets = {name: [] for name in FACET_NAMES}
        for row in (await database.execute(facets_sql(filters), params)).rows:
            results.facets[row["facet"]].append({"value": row["value"], "label": row["label"], "n": row["n"]})
    except sqlite3.OperationalError as exc:
        if not advanced:
            raise
        results.error = f"That is not a valid search in advanced mode ({exc}). Switch advanced mode off to search for the words as they are."
        return results
    results.rows = [{**dict(r), "snippet_html": highlight(r["snippet"])} for r in rows.rows]
    return results
