"""Ranked, highlighted, error-proof full-text search over posts, pages and comments."""

from __future__ import annotations

import html
import json
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from markupsafe import Markup

from ..db.queries import (
    FACET_NAMES, FACET_SAMPLE, MARK_END, MARK_START, NAMES_SQL, SNIPPET_CHUNK_CHARS, SNIPPET_CLEAR_SQL,
    SNIPPET_INSERT_SQL, SNIPPET_SOURCE_CHARS, SNIPPET_SQL, SNIPPET_TABLE_SQL, SNIPPETS_SQL, live_count_sql,
    ranked_hits_sql,
)

PAGE_SIZE = 20
FACET_VALUES = 12
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


class SnippetMaker:
    """wparchive_snippet(query, title, author_name, content_text, excerpt_text): the FTS5 snippet of
    the best passage of a hit, made from a bounded prefix of its text (SNIPPET_SOURCE_CHARS) in a
    small in-memory table of its own, chunk by chunk, so that no post, however long, or however
    often it repeats the word searched for, costs more than a few milliseconds.

    When the words are not in that prefix (or the query is one the small table cannot run), the
    snippet is the opening of the text, unmarked. One per Datasette connection, like the
    connection, used by one thread at a time.
    """

    def __init__(self) -> None:
        self._conn: sqlite3.Connection | None = None

    def __call__(self, query: str | None, title: str | None, author_name: str | None, text: str | None,
                 excerpt: str | None) -> str | None:
        if not query:
            return None
        chunks = _chunks((text or "")[:SNIPPET_SOURCE_CHARS]) or [""]
        rows = [(1, title, author_name, chunks[0], excerpt)] + [(n, None, None, chunk, None)
                                                              for n, chunk in enumerate(chunks[1:], start=2)]
        try:
            conn = self._connection()
            with conn:
                conn.execute(SNIPPET_CLEAR_SQL)
                conn.executemany(SNIPPET_INSERT_SQL, rows)
            found = conn.execute(SNIPPET_SQL, [query]).fetchone()
        except sqlite3.Error:
            found = None
        if found and found[0]:
            return str(found[0])
        return _opening(text or excerpt or title or author_name or "")

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(":memory:", check_same_thread=False)
            self._conn.execute(SNIPPET_TABLE_SQL)
        return self._conn


def _chunks(text: str) -> list[str]:
    """The text in pieces of about SNIPPET_CHUNK_CHARS, cut at a space where there is one."""
    pieces = []
    start = 0
    while start < len(text):
        end = start + SNIPPET_CHUNK_CHARS
        if end < len(text):
            space = text.rfind(" ", start + SNIPPET_CHUNK_CHARS // 2, end)
            end = space + 1 if space > 0 else end
        pieces.append(text[start:end])
        start = end
    return pieces


def _opening(text: str, length: int = 160) -> str:
    """The first words of a text, as long as a snippet, for a hit whose words are further on."""
    if len(text) <= length:
        return text
    cut = text.rfind(" ", 0, length)
    return text[:cut if cut > 0 else length] + "…"


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
    """Search a Datasette database; FTS5 syntax errors in advanced mode come back as a message.

    The hits are ranked once, for both the page shown and the facets (over the best
    FACET_SAMPLE); snippets and names are then fetched for the page alone.
    """
    results = SearchResults(query=text)
    results.fts = text.strip() if advanced else fts_query(text)
    if not results.fts:
        return results
    offset = (page - 1) * PAGE_SIZE
    hits_sql, params = ranked_hits_sql(filters)
    params["q"] = results.fts
    try:
        wanted = max(FACET_SAMPLE, offset + PAGE_SIZE)
        hits = (await database.execute(hits_sql, {**params, "wanted": wanted})).rows
        results.total = (await database.execute(live_count_sql(filters), params)).first()[0]
        shown = [dict(row) for row in hits[offset:offset + PAGE_SIZE]]
        snippets = await database.execute(SNIPPETS_SQL, {
            "q": results.fts,
            "posts": json.dumps([row["rid"] for row in shown if row["kind"] == "post"]),
            "comments": json.dumps([row["rid"] for row in shown if row["kind"] == "comment"])})
    except sqlite3.OperationalError as exc:
        if not advanced:
            raise
        results.error = f"That is not a valid search in advanced mode ({exc}). Switch advanced mode off to search for the words as they are."
        return results
    sample = hits[:FACET_SAMPLE]
    authors = {row["author"] for row in sample if row["author"]}
    names = {(row["kind"], row["key"]): row["name"] for row in
             (await database.execute(NAMES_SQL, {"users": json.dumps(sorted(authors))})).rows}
    snippet_of = {(row["kind"], row["rid"]): row["snippet"] for row in snippets.rows}
    for row in shown:
        row["snippet"] = snippet_of.get((row["kind"], row["rid"]))
        row["snippet_html"] = highlight(row["snippet"])
        row["author_name"] = names.get(("user", row["author"]))
        row["site_name"] = names.get(("site", str(row["site_id"])))
    results.rows = shown
    results.facets = facets_of(sample, lambda author: names.get(("user", author)) or author)
    return results


def facets_of(hits: list[Any], author_label: Callable[[str], str]) -> dict[str, list[dict[str, Any]]]:
    """For each facet, its values among the hits with how many hits have each: the most
    frequent first (then by label), at most FACET_VALUES of them."""
    counters: dict[str, Counter[Any]] = {name: Counter() for name in FACET_NAMES}
    for hit in hits:
        counters["type"][hit["type"]] += 1
        if hit["year"] is not None:
            counters["year"][hit["year"]] += 1
        if hit["author"] is not None:
            counters["author"][hit["author"]] += 1
        for name, column in (("category", "categories"), ("tag", "tags")):
            for value in set(_json_list(hit[column])):
                counters[name][value] += 1
    labels: dict[str, Callable[[Any], str]] = {"author": author_label}
    facets = {}
    for name, counter in counters.items():
        label = labels.get(name, str)
        values = [{"value": value, "label": label(value), "n": n} for value, n in counter.items()]
        values.sort(key=lambda v: (-v["n"], v["label"]))
        facets[name] = values[:FACET_VALUES]
    return facets


def _json_list(value: str | None) -> list[Any]:
    if not value:
        return []
    try:
        parsed = json.loads(value)
    except ValueError:
        return []
    return [v for v in parsed if isinstance(v, (str, int, float))] if isinstance(parsed, list) else []
