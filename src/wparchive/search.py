"""Ranked, filtered, error-proof full-text search over posts, pages and comments: one home for the
search page, its downloads and `wparchive search`.

What a search runs is written once, as steps (generators) that yield the queries they need and
receive their rows: Datasette runs them on its connections (asynchronously, within its time
limit), the command line on its own connection (run_sync). Steps yield Query objects and get rows
back; whatever else they yield is their output (a page of results, or a chunk of rows to send).
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from .db.queries import (
    FACET_NAMES, FACET_SAMPLE, FILTER_NAMES, MARK_END, MARK_START, NAMES_SQL, PLAIN_MARK_END, PLAIN_MARK_START,
    SNIPPET_CHUNK_CHARS, SNIPPET_CLEAR_SQL, SNIPPET_INSERT_SQL, SNIPPET_SOURCE_CHARS, SNIPPET_SQL,
    SNIPPET_TABLE_SQL, SNIPPETS_SQL, SORTS, VECTORS_SQL, VECTORS_STATE_SQL, live_count_sql, nearest_hits_sql,
    ranked_hits_sql,
)
from .errors import WPArchiveError

PAGE_SIZE = 20
FACET_VALUES = 12
CHUNK = 1000  # rows a download reads at a time: each chunk is one ranking, bounded like a page's
_PHRASE = re.compile(r'"([^"]*)"')
# A word, with inner hyphens, dots or apostrophes kept together: well-known, node.js, don't
_TERM = re.compile(r"\w+(?:[-.'’]\w+)*")
_WORD = re.compile(r"\w+")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
# How a search ranks: by the words (bm25), by meaning (the nearest vectors), or both fused by their
# ranks (reciprocal rank fusion, k=60 as its authors found best). Hybrid is the default; an archive
# without vectors (or without the model installed) is searched by its words.
MODES = ("hybrid", "words", "meaning")
MODE_LABELS = {"hybrid": "words and meaning", "words": "words", "meaning": "meaning"}
RRF_K = 60
MEANING_DEPTH = FACET_SAMPLE  # the nearest posts a search by meaning considers, and the best hits by words fused
# Posts less similar than this to a query are not hits by meaning: with wordllama's model, a post on
# the subject scores 0.5 or more, one on another about 0.1 or less (a few hand-made examples; bench/meaning.py).
MIN_SIMILARITY = 0.3
NO_MEANING = ("This archive has no vectors to search by meaning: run 'wparchive embed' (with "
              "pip install 'wparchive[meaning]'), or search by words.")

# The columns of a download, in order (CSV, JSON and JSON lines alike).
RESULT_FIELDS = ("kind", "key", "title", "type", "date_gmt", "site_id", "site_name", "author", "author_name",
                 "link", "score", "snippet")


class BadSearch(WPArchiveError):
    """A search that cannot run as asked: FTS5 syntax an advanced search got wrong, a date that is none."""

    exit_code = 2  # as click's own usage errors


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


def plain_snippet(snippet: str | None) -> str | None:
    """A snippet with the words found between [[ and ]]: no control characters leave wparchive."""
    if snippet is None:
        return None
    return snippet.replace(MARK_START, PLAIN_MARK_START).replace(MARK_END, PLAIN_MARK_END)


@dataclass(frozen=True)
class SearchRequest:
    """What a person asked: words (FTS5 syntax when advanced), filters by name, an order."""

    text: str
    advanced: bool = False
    filters: dict[str, str] = field(default_factory=dict)
    sort: str = "relevance"
    mode: str = "hybrid"

    @property
    def match(self) -> str:
        """The FTS5 query to run."""
        return self.text.strip() if self.advanced else fts_query(self.text)

    def problem(self) -> str:
        """What is wrong with the request before it runs (an empty string when nothing is)."""
        if self.sort not in SORTS:
            return f"Sort by {', '.join(SORTS)}, not {self.sort!r}."
        if self.mode not in MODES:
            return f"Search by {', '.join(MODES)}, not {self.mode!r}."
        for name in ("from", "to"):
            value = self.filters.get(name)
            if value is not None and not _is_date(value):
                return f"The {name} date {value!r} is not a date: give it as YYYY-MM-DD (or YYYY-MM, or YYYY)."
        unknown = sorted(set(self.filters) - set(FILTER_NAMES))
        if unknown:
            return f"There is no filter {unknown[0]!r}; the filters are {', '.join(FILTER_NAMES)}."
        return ""


def advanced_error(exc: sqlite3.Error) -> str:
    """An FTS5 error as a sentence saying what to do."""
    said = str(exc)
    if "no such column" in said:
        said += ": posts have title, content_text and excerpt_text; comments author_name and content_text"
    return (f"That is not a valid search in advanced mode ({said}). Operators are in capitals (AND, OR, NOT, "
            "NEAR); switch advanced mode off to search for the words as they are.")


def _is_date(value: str) -> bool:
    """Whether value is a day, a month or a year of the calendar, as YYYY-MM-DD, YYYY-MM or YYYY."""
    if not _DATE.match(value):
        return False
    try:
        date.fromisoformat((value + "-01-01")[:10])
    except ValueError:
        return False
    return True


class Query(NamedTuple):
    """A query a search step needs run; the rows come back as dicts."""

    sql: str
    params: dict[str, Any]


Rows = list[dict[str, Any]]
Steps = Generator[Any, Any, None]


@dataclass
class SearchResults:
    """One page of results, their total, the facets, and what went wrong (if anything)."""

    query: str = ""
    fts: str = ""
    rows: Rows = field(default_factory=list)
    total: int = 0
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    error: str = ""


def page_steps(request: SearchRequest, page: int = 1) -> Steps:
    """The steps of one page of a search: they output its SearchResults (with error set when the
    request is wrong or its advanced syntax is).

    The hits are ranked once, for both the page shown and the facets (over the first
    FACET_SAMPLE); snippets and names are then fetched for the page alone.
    """
    results = SearchResults(query=request.text, fts=request.match, error=request.problem())
    if results.error or not results.fts:
        yield results
        return
    offset = (page - 1) * PAGE_SIZE
    try:
        hits, results.total = yield from _ranked_steps(request, max(FACET_SAMPLE, offset + PAGE_SIZE))
        shown = hits[offset:offset + PAGE_SIZE]
        snippets = yield _snippets_query(results.fts, shown)
    except BadSearch as exc:
        results.error = str(exc)
        yield results
        return
    except sqlite3.OperationalError as exc:
        if not request.advanced:
            raise
        results.error = advanced_error(exc)
        yield results
        return
    sample = hits[:FACET_SAMPLE]
    names = yield _names_query(sample)
    results.rows = _described(shown, snippets, names)
    results.facets = facets_of(sample, _labels(names))
    yield results


def result_steps(request: SearchRequest, *, limit: int | None = None, chunk: int = CHUNK) -> Steps:
    """The steps of a whole search, in the page's order: they output its rows (RESULT_FIELDS, snippets
    with plain markers) a chunk at a time, at most limit of them; BadSearch before any when the
    request is wrong."""
    problem = request.problem() or ("" if request.match else "Give the words to search for.")
    if problem:
        raise BadSearch(problem)
    nearest = yield from _nearest_or_none(request)
    if nearest is not None:
        try:
            hits = yield from _meaning_ranked_steps(request, nearest)
        except sqlite3.OperationalError as exc:
            if not request.advanced:
                raise
            raise BadSearch(advanced_error(exc)) from None
        # By meaning the hits are few (MEANING_DEPTH at most, with as many by words): ranked at once, sent in chunks.
        hits = hits[:limit]
        for start in range(0, len(hits), chunk):
            yield (yield from _result_rows(request, hits[start:start + chunk]))
        return
    key_of = (lambda hit: hit["score"]) if request.sort == "relevance" else (lambda hit: hit["date_gmt"] or "")
    after: dict[str, Any] = {}
    sent = 0
    while limit is None or sent < limit:
        wanted = chunk if limit is None else min(chunk, limit - sent)
        sql, params = ranked_hits_sql(request.filters, request.sort, after=bool(after))
        try:
            hits = yield Query(sql, {**params, **after, "q": request.match, "wanted": wanted})
        except sqlite3.OperationalError as exc:
            if not request.advanced:
                raise
            raise BadSearch(advanced_error(exc)) from None
        if not hits:
            return
        yield (yield from _result_rows(request, hits))
        sent += len(hits)
        if len(hits) < wanted:
            return
        last = hits[-1]
        after = {"after_key": key_of(last), "after_kind": last["kind"], "after_rid": last["rid"]}


def _result_rows(request: SearchRequest, hits: Rows) -> Generator[Query, Rows, Rows]:
    """The hits as rows of a download (RESULT_FIELDS), with their snippets and names."""
    snippets = yield _snippets_query(request.match, hits)
    names = yield _names_query(hits)
    return [{name: row[name] for name in RESULT_FIELDS} | {"snippet": plain_snippet(row["snippet"])}
            for row in _described(hits, snippets, names)]


def _ranked_steps(request: SearchRequest, wanted: int) -> Generator[Query, Rows, tuple[Rows, int]]:
    """The steps ranking a search: its first `wanted` hits in the order asked (at least; by meaning,
    every hit) and how many there are. BadSearch when it is by meaning and the archive has no vectors."""
    nearest = yield from _nearest_or_none(request)
    if nearest is not None:
        hits = yield from _meaning_ranked_steps(request, nearest)
        return hits, len(hits)
    sql, params = ranked_hits_sql(request.filters, request.sort)
    params["q"] = request.match
    hits = yield Query(sql, {**params, "wanted": wanted})
    total = next(iter((yield Query(live_count_sql(request.filters), params))[0].values()))
    return hits, total


def _nearest_or_none(request: SearchRequest) -> Generator[Query, Rows, list[tuple[int, float]] | None]:
    """The posts nearest in meaning to a search that asks for meaning (None when it is by words alone,
    or hybrid in an archive without vectors); BadSearch when it is by meaning alone and there are none."""
    if request.mode == "words":
        return None
    nearest = yield from _nearest_steps(request.text)
    if nearest is None and request.mode == "meaning":
        raise BadSearch(NO_MEANING)
    return nearest


def _meaning_ranked_steps(request: SearchRequest, nearest: list[tuple[int, float]]) -> Generator[Query, Rows, Rows]:
    """Every hit of a search by meaning or hybrid, in the order asked: the nearest posts the filters
    keep (scored by their similarity, negated: lower is better, as bm25's), fused with the best by words."""
    similarity = dict(nearest)
    sql, params = nearest_hits_sql(request.filters)
    hits = yield Query(sql, {**params, "rids": json.dumps([rid for rid, _ in nearest])})
    for hit in hits:
        hit["score"] = -similarity[hit["rid"]]
    if request.mode == "hybrid":
        sql, params = ranked_hits_sql(request.filters)
        by_words = yield Query(sql, {**params, "q": request.match, "wanted": MEANING_DEPTH})
        hits = fused(by_words, hits)
    if request.sort != "relevance":
        _, direction = SORTS[request.sort]
        hits.sort(key=lambda hit: (hit["date_gmt"] or "", hit["kind"], hit["rid"]), reverse=direction == "DESC")
    return hits


def fused(*rankings: Rows) -> Rows:
    """Rankings of hits (each best first) as one, by reciprocal rank fusion: a hit scores the sum of
    1 / (RRF_K + its place) over the rankings it is in. Its score is that sum, negated (lower is
    better, as bm25's); ties go by kind and rowid."""
    best: dict[tuple[str, int], dict[str, Any]] = {}
    score: dict[tuple[str, int], float] = defaultdict(float)
    for ranking in rankings:
        for place, hit in enumerate(ranking, start=1):
            key = (hit["kind"], hit["rid"])
            best.setdefault(key, hit)
            score[key] += 1 / (RRF_K + place)
    order = sorted(best, key=lambda key: (-score[key], key))
    return [dict(best[key], score=-score[key]) for key in order]


def _nearest_steps(text: str) -> Generator[Query, Rows, list[tuple[int, float]] | None]:
    """The steps finding the posts nearest in meaning to text: their rowids and similarities, nearest
    first (MEANING_DEPTH at most); None when the model is not installed or the archive has no vectors."""
    from . import meaning

    try:
        params = {"model": meaning.model_name(), "dims": meaning.DIMS}
        state = (yield Query(VECTORS_STATE_SQL, params))[0]
    except meaning.MeaningUnavailable:
        return None
    except sqlite3.OperationalError:
        return None  # an archive of an older wparchive, served read-only: no embeddings table
    if state["generation"] is None:
        return None
    try:
        embedder = meaning.load_embedder()  # the model is loaded only when there are vectors to compare
    except meaning.MeaningUnavailable:
        return None
    key = (embedder.name, state["file"], state["generation"])
    index = meaning.cached_index(key)
    if index is None:
        index = meaning.remember_index(key, (yield Query(VECTORS_SQL, params)), embedder.dims)
    return [(rid, similarity) for rid, similarity in index.nearest(embedder.embed([text])[0], MEANING_DEPTH)
            if similarity >= MIN_SIMILARITY]


def _snippets_query(fts: str, hits: Rows) -> Query:
    return Query(SNIPPETS_SQL, {"q": fts, "posts": json.dumps([row["rid"] for row in hits if row["kind"] == "post"]),
                                "comments": json.dumps([row["rid"] for row in hits if row["kind"] == "comment"])})


def _names_query(hits: Rows) -> Query:
    return Query(NAMES_SQL, {"users": json.dumps(sorted({row["author"] for row in hits if row["author"]}))})


def _labels(names: Rows) -> dict[tuple[str, str], str]:
    return {(row["kind"], row["key"]): row["name"] for row in names}


def _described(hits: Rows, snippets: Rows, names: Rows) -> Rows:
    """The hits with their snippets (marked with control characters) and their author's and site's names."""
    label = _labels(names)
    snippet_of = {(row["kind"], row["rid"]): row["snippet"] for row in snippets}
    # A hit found by meaning alone has none of the words: the opening of its text stands for a snippet.
    return [dict(hit, snippet=snippet_of.get((hit["kind"], hit["rid"])) or _opening(hit.get("opening") or "") or None,
                 author_name=label.get(("user", hit["author"])),
                 site_name=label.get(("site", str(hit["site_id"])))) for hit in hits]


def facets_of(hits: Rows, labels: dict[tuple[str, str], str]) -> dict[str, list[dict[str, Any]]]:
    """For each facet, its values among the hits with how many hits have each: the most
    frequent first (then by label), at most FACET_VALUES of them."""
    counters: dict[str, Counter[Any]] = {name: Counter() for name in FACET_NAMES}
    for hit in hits:
        for name, column in (("site", "site_id"), ("type", "type"), ("year", "year"), ("author", "author")):
            if hit[column] is not None:
                counters[name][str(hit[column]) if name == "site" else hit[column]] += 1
        for name, column in (("category", "categories"), ("tag", "tags")):
            for value in set(_json_list(hit[column])):
                counters[name][value] += 1
    label_of: dict[str, Callable[[Any], str]] = {
        "author": lambda key: labels.get(("user", key)) or key,
        "site": lambda key: labels.get(("site", key)) or key}
    facets = {}
    for name, counter in counters.items():
        label = label_of.get(name, str)
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


class Stepper:
    """Search steps as a driver walks them: iterating gives each step in turn, a Query to answer
    (with its rows, or with the SQL error it raised, which the steps say the meaning of) or an output."""

    def __init__(self, steps: Steps) -> None:
        self.steps = steps
        self.reply: Rows | None = None
        self.error: sqlite3.OperationalError | None = None

    def __iter__(self) -> Stepper:
        return self

    def __next__(self) -> Any:
        step = self.steps.throw(self.error) if self.error else self.steps.send(self.reply)
        self.reply, self.error = None, None
        return step


def run_sync(conn: sqlite3.Connection, steps: Steps) -> Iterator[Any]:
    """Run search steps on a connection of our own (one that add_search_functions has prepared):
    what they output, as they output it."""
    stepper = Stepper(steps)
    for step in stepper:
        if not isinstance(step, Query):
            yield step
            continue
        try:
            cursor = conn.execute(step.sql, step.params)
            stepper.reply = [dict(zip([d[0] for d in cursor.description], row, strict=True)) for row in cursor]
        except sqlite3.OperationalError as exc:
            stepper.error = exc


def add_search_functions(conn: sqlite3.Connection) -> None:
    """Give a connection the functions the search SQL calls: wparchive_fts (a person's words as a safe
    FTS5 query; an empty search is the empty phrase, which matches nothing instead of failing) and
    wparchive_snippet (snippets of search hits, from a bounded prefix of their text)."""
    conn.create_function("wparchive_fts", 1, lambda text: fts_query(text or "") or '""', deterministic=True)
    conn.create_function("wparchive_snippet", 5, SnippetMaker(), deterministic=True)


class SnippetMaker:
    """wparchive_snippet(query, title, author_name, content_text, excerpt_text): the FTS5 snippet of
    the best passage of a hit, made from a bounded prefix of its text (SNIPPET_SOURCE_CHARS) in a
    small in-memory table of its own, chunk by chunk, so that no post, however long, or however
    often it repeats the word searched for, costs more than a few milliseconds.

    When the words are not in that prefix (or the query is one the small table cannot run), the
    snippet is the opening of the text, unmarked. One per connection, like the connection, used
    by one thread at a time.
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


def search_archive(conn: sqlite3.Connection, request: SearchRequest, *,
                   limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Every row of a search of an archive (RESULT_FIELDS), in the order asked, at most limit of them;
    BadSearch at once, before any row, when the search cannot run."""
    add_search_functions(conn)
    chunks = run_sync(conn, result_steps(request, limit=limit))
    first: Rows = next(chunks, [])  # a search that cannot run fails here, before any row is written
    return itertools.chain(first, itertools.chain.from_iterable(chunks))


def result_text(row: dict[str, Any], number: int, mark: Callable[[str], str] | None = None) -> str:
    """A row as a few lines for a terminal: number and title, what it is, its snippet on one line
    (each word found given to mark, or left between [[ and ]]), its address."""
    about = " · ".join(str(part) for part in (row["type"], (row["date_gmt"] or "")[:10], row["author_name"],
                                              row["site_name"]) if part)
    snippet = " ".join((row["snippet"] or "").split())
    if mark is not None:
        snippet = _PLAIN_MARKED.sub(lambda found: mark(found.group(1)), snippet)
    return f"{number}. {row['title'] or '(no title)'}\n   {about}\n   {snippet}\n   {row['link'] or row['key']}\n"


_PLAIN_MARKED = re.compile(re.escape(PLAIN_MARK_START) + "(.*?)" + re.escape(PLAIN_MARK_END))
