"""Ranked, filtered, error-proof full-text search over posts, pages and comments: one home for the
search page, its downloads and `wparchive search`.

What a search runs is written once, as steps (generators) that yield the queries they need and
receive their rows: Datasette runs them on its connections (asynchronously, within its time
limit), the command line on its own connection (run_sync). Steps yield Query objects and get rows
back; whatever else they yield is their output (a page of results, or a chunk of rows to send).

A search covers one archive or several: each Query names the archive it is for, so that each
archive is queried on its own (Datasette's SQLITE_MAX_ATTACHED limit of ten attached databases
never applies), and the archives' rankings are merged here (see Merge).
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import sqlite3
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from .db.queries import (
    FACET_NAMES, FACET_SAMPLE, FILTER_NAMES, FULL_TEXT_INDEXES_SQL, MARK_END, MARK_START, NAMES_SQL, PLAIN_MARK_END,
    PLAIN_MARK_START, SEARCHABLE_SQL, SNIPPET_CHUNK_CHARS, SNIPPET_CLEAR_SQL, SNIPPET_INSERT_SQL, SNIPPET_SOURCE_CHARS,
    SNIPPET_SQL, SNIPPET_TABLE_SQL, SNIPPETS_SQL, SORTS, VECTORS_SQL, VECTORS_STATE_SQL, live_count_sql,
    nearest_hits_sql, ranked_hits_sql,
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

# The columns of a download, in order (CSV, JSON and JSON lines alike). score: a row's score in its
# archive; database: that archive, by the name it is served under (its file's name without .db).
RESULT_FIELDS = ("kind", "key", "title", "type", "date_gmt", "site_id", "site_name", "author", "author_name",
                 "link", "score", "snippet", "database")
# A search's filters: those of the SQL, and the database (one of the archives searched).
SEARCH_FILTERS = (*FILTER_NAMES, "database")


class BadSearch(WPArchiveError):
    """A search that cannot run as asked: FTS5 syntax an advanced search got wrong, a date that is none."""

    exit_code = 2  # as click's own usage errors


class Unsearchable(BadSearch):
    """An archive that cannot answer a search: among several archives, that one is skipped, saying why."""


class NoVectors(Unsearchable):
    """A search by meaning of an archive without vectors."""


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
        unknown = sorted(set(self.filters) - set(SEARCH_FILTERS))
        if unknown:
            return f"There is no filter {unknown[0]!r}; the filters are {', '.join(SEARCH_FILTERS)}."
        return ""

    def archives(self, served: Sequence[str]) -> list[str]:
        """The archives to search among those served: all of them, or the one the database filter names
        (BadSearch when it names none of them)."""
        wanted = self.filters.get("database")
        if wanted is None:
            return list(served)
        if wanted not in served:
            raise BadSearch(f"There is no archive {wanted!r} here; the archives are {', '.join(served)}.")
        return [wanted]


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
    """A query a search step needs run, on the archive it names; the rows come back as dicts."""

    sql: str
    params: dict[str, Any]
    archive: str = ""  # its name among the archives searched ("": the only one)


class Work(NamedTuple):
    """Work of the steps' own too long for an event loop (a scan of every vector of an archive), with the
    queries to run meanwhile: a driver runs it off its loop while they run, and replies with its result
    followed by each query's rows."""

    run: Callable[[], Any]
    queries: tuple[Query, ...] = ()


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
    skipped: list[str] = field(default_factory=list)  # the archives not searched, each with why
    databases: list[str] = field(default_factory=list)  # the archives searched


def page_steps(request: SearchRequest, page: int = 1, archives: Sequence[str] = ("",)) -> Steps:
    """The steps of one page of a search of one archive or several: they output its SearchResults
    (with error set when the request is wrong or its advanced syntax is).

    Each archive ranks its hits once, for both the page shown and the facets (over its first
    FACET_SAMPLE); the rankings are merged (Merge), and snippets and names are then fetched, from
    each archive, for its hits on the page alone.
    """
    results = SearchResults(query=request.text, fts=request.match, error=request.problem())
    if results.error or not results.fts:
        yield results
        return
    offset = (page - 1) * PAGE_SIZE
    try:
        answers = yield from _ranked_everywhere(request, archives, max(FACET_SAMPLE, offset + PAGE_SIZE),
                                                results.skipped)
        while True:  # until every archive with a hit on the page has described it
            merge = Merge(request.sort, len(answers))
            for n, answer in enumerate(answers):
                merge.add(n, answer.hits, last=True)
            shown = list(itertools.islice(merge.rows(), offset, offset + PAGE_SIZE))
            sample: Rows = []
            described: dict[tuple[str, str, int], dict[str, Any]] = {}
            for answer in answers:
                own = [hit for hit in shown if hit["database"] == answer.archive]
                try:
                    named, rows = yield from _on(answer.archive, _page_rows_steps(results.fts, answer.hits, own))
                except Unsearchable as exc:  # an archive that fails here is left out, and the page merged again
                    results.skipped.append(_skipped(answer.archive, str(exc)))
                    answers = [other for other in answers if other is not answer]
                    if not answers:
                        raise BadSearch(_nothing_searched(results.skipped, archives)) from None
                    break
                sample += named
                described |= {(row["database"], row["kind"], row["rid"]): row for row in rows}
            else:
                break
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
    results.databases = [answer.archive for answer in answers]
    results.total = sum(answer.total for answer in answers)
    results.rows = [described[hit["database"], hit["kind"], hit["rid"]] for hit in shown]
    results.facets = facets_of(sample, several=len(archives) > 1)
    yield results


def _page_rows_steps(fts: str, hits: Rows, own: Rows) -> Generator[Query, Rows, tuple[Rows, Rows]]:
    """The steps describing an archive's part of a page: its first hits (FACET_SAMPLE of them) named, for
    the facets, and its hits on the page (own) with their snippets and names."""
    snippets = (yield _snippets_query(fts, own)) if own else []
    names = yield _names_query(hits[:FACET_SAMPLE] + own)
    return _named(hits[:FACET_SAMPLE], names), _described(own, snippets, names)


def result_steps(request: SearchRequest, *, archives: Sequence[str] = ("",), limit: int | None = None,
                 chunk: int = CHUNK, skipped: list[str] | None = None) -> Steps:
    """The steps of a whole search of one archive or several, in the page's order: they output its rows
    (RESULT_FIELDS, snippets with plain markers) a chunk at a time, at most limit of them; BadSearch
    before any when the request is wrong. The archives skipped are added to skipped, before any row."""
    problem = request.problem() or ("" if request.match else "Give the words to search for.")
    if problem:
        raise BadSearch(problem)
    skipped = [] if skipped is None else skipped
    streams = [(archive, _archive_result_steps(request, archive, limit=limit, chunk=chunk))
               for archive in request.archives(archives)]
    merge = Merge(request.sort, len(streams))
    refused: set[int] = set()
    out: Rows = []
    sent = 0
    while limit is None or sent < limit:
        for n in merge.wanting():
            archive, stream = streams[n]
            try:
                rows = yield from _on(archive, stream)
            except Unsearchable as exc:
                skipped.append(_skipped(archive, str(exc)))
                refused.add(n)
                rows = None
            merge.add(n, rows or [], last=rows is None)
        if len(refused) == len(streams):  # every archive was refused at once, before any row
            raise BadSearch(_nothing_searched(skipped, archives))
        row = merge.next_row()
        if row is None:
            break
        out.append(row)
        sent += 1
        if len(out) == chunk:
            yield out
            out = []
    if out:
        yield out


def _archive_result_steps(request: SearchRequest, archive: str, *, limit: int | None, chunk: int) -> Steps:
    """The steps of a whole search of one archive, in the page's order: its rows, a chunk at a time."""
    find = yield from _nearest_finder(request, archive)
    if find is not None:
        hits = yield from _meaning_ranked_steps(request, find)
        # By meaning the hits are few (MEANING_DEPTH at most, with as many by words): ranked at once, sent in chunks.
        hits = _from(archive, hits[:limit])
        for start in range(0, len(hits), chunk):
            yield (yield from _result_rows(request, hits[start:start + chunk]))
        return
    key_of = (lambda hit: hit["score"]) if request.sort == "relevance" else (lambda hit: hit["date_gmt"] or "")
    after: dict[str, Any] = {}
    sent = 0
    while limit is None or sent < limit:
        wanted = chunk if limit is None else min(chunk, limit - sent)
        sql, params = ranked_hits_sql(request.filters, request.sort, after=bool(after))
        hits = yield from _of_words(request, Query(sql, {**params, **after, "q": request.match, "wanted": wanted}))
        if not hits:
            return
        yield (yield from _result_rows(request, _from(archive, hits)))
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


@dataclass
class _Answer:
    """What one archive answered a search: its first hits in the order asked, and how many there are."""

    archive: str
    hits: Rows
    total: int


def _ranked_everywhere(request: SearchRequest, archives: Sequence[str], wanted: int,
                       skipped: list[str]) -> Generator[Query | Work, Any, list[_Answer]]:
    """The steps ranking a search in each archive it covers (_ranked_steps); those that cannot answer
    (no full-text index, an older schema, no vectors to search by meaning) are added to skipped, and
    BadSearch when none can."""
    answers = []
    for archive in request.archives(archives):
        try:
            hits, total = yield from _on(archive, _ranked_steps(request, wanted, archive))
        except Unsearchable as exc:
            skipped.append(_skipped(archive, str(exc)))
        else:
            answers.append(_Answer(archive, hits, total))
    if not answers:
        raise BadSearch(_nothing_searched(skipped, archives))
    return answers


def _unsearchable(archive: str) -> Generator[Query, Rows, str]:
    """Why an archive a search failed on cannot be searched (its tables or columns are not those a
    search reads), or '' when they are. Asked only after a failure: every search would pay its queries."""
    problem = ""
    if (yield Query(FULL_TEXT_INDEXES_SQL, {}, archive))[0]["n"] < 2:
        problem = "it has no full-text index"
    else:
        try:
            yield Query(SEARCHABLE_SQL, {"q": '""'}, archive)
        except sqlite3.OperationalError as exc:
            if _MAY_BE_TIME_LIMIT in str(exc):
                raise
            problem = f"it is of an older wparchive ({exc})"
    return f"{problem}; 'wparchive rebuild' on it brings it up to date." if problem else ""


def _skipped(archive: str, reason: str) -> str:
    return f"{archive or 'The archive'} is not searched: {reason}"


def _nothing_searched(skipped: list[str], archives: Sequence[str]) -> str:
    """Why a search found nothing to search: the one archive's reason, as a search of it alone says it."""
    if len(skipped) == 1 and len(archives) == 1:
        return skipped[0].split(" is not searched: ", 1)[1]
    return " ".join(skipped) or "There is no archive to search."


def _on(archive: str, steps: Generator[Any, Any, Any]) -> Generator[Query | Work, Any, Any]:
    """Steps of one archive, each of their queries run on it: until they output something (which this
    returns), or end (what they return, None for steps that only output). An SQL error the steps do not
    take as theirs (advanced syntax) is the archive's: Unsearchable, so that the others still answer,
    unless it may be the time limit, which ends the whole search."""
    reply: Any = None
    error: sqlite3.OperationalError | None = None
    while True:
        try:
            step = steps.throw(error) if error else steps.send(reply)
        except StopIteration as done:
            return done.value
        except sqlite3.OperationalError as exc:
            if _MAY_BE_TIME_LIMIT in str(exc):
                raise
            why = yield from _unsearchable(archive)
            raise Unsearchable(why or f"reading it failed ({exc}); 'wparchive rebuild' may mend it, or it is "
                                      "no archive of wparchive's.") from None
        if isinstance(step, Work):
            step = step._replace(queries=tuple(query._replace(archive=archive) for query in step.queries))
        elif isinstance(step, Query):
            step = step._replace(archive=archive)
        else:
            return step
        reply, error = None, None
        try:
            reply = yield step
        except sqlite3.OperationalError as exc:
            error = exc


# SQLite's word for a full-text index it could not open, which is also what Datasette's time limit
# reads as when it is reached while the index opens (web.ran_out_of_time tells the two apart).
_MAY_BE_TIME_LIMIT = "vtable constructor failed"


def _from(archive: str, hits: Rows) -> Rows:
    """The hits, each named with the archive it is from (its database)."""
    for hit in hits:
        hit["database"] = archive
    return hits


class Merge:
    """The rankings of several archives, each in the order asked, taken as one, a row at a time.

    By date (newest or oldest first), by date, then kind, as each archive orders them. By relevance, by
    reciprocal rank fusion of the archives' rankings, as hybrid fuses words and meaning: a hit scores
    1 / (RRF_K + its place in its own archive's ranking), so the first of each archive come first, then
    the second of each, and so on. Scores are not merged as they are: bm25 weighs a word by how rare it
    is in the one archive's full-text index, and a text's length against that archive's average, so
    the same text scores differently in another archive (a word rare in one and common in another); to
    rank with statistics pooled over every archive, bm25 would have to be computed here from each
    text's counts of each word, which FTS5 gives no SQL to read. Places compare across archives
    whatever they rank by (words, meaning, or both). Ties go to the archive given first.

    A page adds each archive's ranking whole; a download adds them a chunk at a time, as wanting() asks.
    """

    def __init__(self, sort: str, archives: int) -> None:
        self.newest_first = sort != "relevance" and SORTS[sort][1] == "DESC"
        self.key: Callable[[int, dict[str, Any]], tuple[Any, ...]] = (
            (lambda place, row: (place,)) if sort == "relevance" else
            (lambda place, row: (row["date_gmt"] or "", row["kind"])))
        self.waiting: list[deque[dict[str, Any]]] = [deque() for _ in range(archives)]
        self.places = [0] * archives
        self.ended = [False] * archives

    def add(self, archive: int, rows: Rows, *, last: bool = False) -> None:
        """The next rows of an archive's ranking (last: there are no more)."""
        self.waiting[archive].extend(rows)
        self.ended[archive] = self.ended[archive] or last

    def wanting(self) -> list[int]:
        """The archives whose next rows must be added before the next row can be taken."""
        return [n for n, rows in enumerate(self.waiting) if not rows and not self.ended[n]]

    def next_row(self) -> dict[str, Any] | None:
        """The next row of the merged ranking (None when every archive's has been taken), once no
        archive is wanting."""
        best: int | None = None
        for n, rows in enumerate(self.waiting):
            if rows and (best is None or self._before(n, best)):
                best = n
        if best is None:
            return None
        self.places[best] += 1
        return self.waiting[best].popleft()

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every row, when every archive's ranking was added whole."""
        return iter(self.next_row, None)

    def _before(self, archive: int, other: int) -> bool:
        mine = self.key(self.places[archive], self.waiting[archive][0])
        theirs = self.key(self.places[other], self.waiting[other][0])
        return mine > theirs if self.newest_first else mine < theirs


def _ranked_steps(request: SearchRequest, wanted: int, archive: str) -> Generator[Query | Work, Any, tuple[Rows, int]]:
    """The steps ranking a search of an archive: its first `wanted` hits in the order asked (at least; by
    meaning, every hit) and how many there are. NoVectors when it is by meaning and the archive has none."""
    find = yield from _nearest_finder(request, archive)
    if find is not None:
        hits = yield from _meaning_ranked_steps(request, find)
        return _from(archive, hits), len(hits)
    sql, params = ranked_hits_sql(request.filters, request.sort)
    params["q"] = request.match
    hits = yield from _of_words(request, Query(sql, {**params, "wanted": wanted}))
    total = next(iter((yield Query(live_count_sql(request.filters), params))[0].values()))
    return _from(archive, hits), total


def _of_words(request: SearchRequest, step: Query | Work) -> Generator[Query | Work, Any, Any]:
    """A step that runs the words searched for: in advanced mode, an SQL error of it is their syntax's,
    BadSearch saying what to do (any other is the archive's)."""
    try:
        return (yield step)
    except sqlite3.OperationalError as exc:
        if not request.advanced:
            raise
        raise BadSearch(advanced_error(exc)) from None


def _nearest_finder(request: SearchRequest, archive: str) -> Generator[Query, Rows, Nearest | None]:
    """What finds the posts nearest in meaning to a search that asks for meaning (None when it is by
    words alone, or hybrid in an archive without vectors); NoVectors when it is by meaning alone and
    there are none."""
    if request.mode == "words":
        return None
    find = yield from _nearest_steps(request.text, archive)
    if find is None and request.mode == "meaning":
        raise NoVectors(NO_MEANING)
    return find


def _meaning_ranked_steps(request: SearchRequest, find: Nearest) -> Generator[Query | Work, Any, Rows]:
    """Every hit of a search by meaning or hybrid, in the order asked: the nearest posts the filters
    keep (scored by their similarity, negated: lower is better, as bm25's), fused with the best by words.
    The nearest are found (a scan of every vector) while the best by words are ranked: the two take
    about as long, and each its own core."""
    words: tuple[Query, ...] = ()
    if request.mode == "hybrid":
        sql, params = ranked_hits_sql(request.filters)
        words = (Query(sql, {**params, "q": request.match, "wanted": MEANING_DEPTH}),)
    nearest, *by_words = yield from _of_words(request, Work(find, words))
    similarity = dict(nearest)
    sql, params = nearest_hits_sql(request.filters)
    hits = yield Query(sql, {**params, "rids": json.dumps([rid for rid, _ in nearest])})
    for hit in hits:
        hit["score"] = -similarity[hit["rid"]]
    if by_words:
        hits = fused(by_words[0], hits)
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


# What finds the posts nearest in meaning to a search: their rowids and similarities, nearest first.
Nearest = Callable[[], list[tuple[int, float]]]


def _nearest_steps(text: str, archive: str) -> Generator[Query, Rows, Nearest | None]:
    """The steps reading what finds the posts nearest in meaning to text (MEANING_DEPTH at most, at
    least MIN_SIMILARITY alike): the archive's vectors, read once for as long as they do not change;
    None when the model is not installed or the archive has no vectors."""
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
    key = (archive, embedder.name, state["file"], state["generation"])
    index = meaning.cached_index(key)
    if index is None:
        index = meaning.remember_index(key, (yield Query(VECTORS_SQL, params)), embedder.dims)
    return lambda: [(rid, similarity) for rid, similarity in index.nearest(embedder.embed([text])[0], MEANING_DEPTH)
                    if similarity >= MIN_SIMILARITY]


def _snippets_query(fts: str, hits: Rows) -> Query:
    return Query(SNIPPETS_SQL, {"q": fts, "posts": json.dumps([row["rid"] for row in hits if row["kind"] == "post"]),
                                "comments": json.dumps([row["rid"] for row in hits if row["kind"] == "comment"])})


def _names_query(hits: Rows) -> Query:
    return Query(NAMES_SQL, {"users": json.dumps(sorted({row["author"] for row in hits if row["author"]}))})


def _named(hits: Rows, names: Rows) -> Rows:
    """The hits with their author's and site's names, and their site's address."""
    users = {row["key"]: row["name"] for row in names if row["kind"] == "user"}
    sites = {row["key"]: (row["name"], row["home"]) for row in names if row["kind"] == "site"}
    # A facets' sample is a thousand hits of a few sites: each site is looked for once.
    site_of = {site_id: sites.get(str(site_id), (None, None)) for site_id in {hit["site_id"] for hit in hits}}
    return [{**hit, "author_name": users.get(hit["author"]), "site_name": site_of[hit["site_id"]][0],
             "site_home": site_of[hit["site_id"]][1]} for hit in hits]


def _described(hits: Rows, snippets: Rows, names: Rows) -> Rows:
    """The hits with their snippets (marked with control characters) and their author's and site's names."""
    snippet_of = {(row["kind"], row["rid"]): row["snippet"] for row in snippets}
    # A hit found by meaning alone has none of the words: the opening of its text stands for a snippet.
    return [dict(hit, snippet=snippet_of.get((hit["kind"], hit["rid"])) or _opening(hit.get("opening") or "") or None)
            for hit in _named(hits, names)]


def facets_of(hits: Rows, *, several: bool = False) -> dict[str, list[dict[str, Any]]]:
    """For each facet, its values among the hits (named: _named) with how many hits have each: the
    most frequent first (then by label), at most FACET_VALUES of them.

    Hits of several archives are counted together, so that each count is the sum of the archives'
    counts. A site is then its address, and an author their name, as the site and author filters take
    them: ids and keys are an archive's own (site 1 of one archive is not site 1 of another), and the
    same site archived twice counts once. The database is then a facet too.
    """
    counters: dict[str, Counter[Any]] = {name: Counter() for name in FACET_NAMES + (("database",) if several else ())}
    sites = [((hit["site_home"] or hit["site_name"]) if several else None) or (
        str(hit["site_id"]) if hit["site_id"] is not None else None) for hit in hits]
    authors = [(hit["author_name"] if several else None) or hit["author"] for hit in hits]
    found = {"site": sites, "type": [hit["type"] for hit in hits], "year": [hit["year"] for hit in hits],
             "author": authors, "database": [hit["database"] for hit in hits] if several else []}
    for name, values in found.items():
        if name in counters:
            counters[name].update(value for value in values if value is not None)
    # Each value's label is that of its last hit.
    labels: dict[tuple[str, Any], Any] = {("site", site): hit["site_name"] or site
                                          for site, hit in zip(sites, hits, strict=True)}
    labels |= {("author", author): hit["author_name"] or author for author, hit in zip(authors, hits, strict=True)}
    # Categories and tags are JSON lists, many of them the same list: each different one is read once.
    for name, column in (("category", "categories"), ("tag", "tags")):
        for terms, n in Counter(hit[column] for hit in hits).items():
            for value in _json_terms(terms):
                counters[name][value] += n
    facets = {}
    for name, counter in counters.items():
        values = [{"value": value, "label": labels.get((name, value)) or str(value), "n": n}
                  for value, n in counter.items()]
        values.sort(key=lambda v: (-v["n"], v["label"]))
        facets[name] = values[:FACET_VALUES]
    return facets


# Most archives' categories and tags are a few thousand different lists, met by search after
# search: each is read once and kept (4096 of them), unless it is longer than this (a hostile site's).
_REMEMBERED_TERMS_CHARS = 1_000


def _json_terms(value: str | None) -> frozenset[Any]:
    """The terms of a JSON list of categories or tags, each once."""
    if value and len(value) <= _REMEMBERED_TERMS_CHARS:
        return _remembered_terms(value)
    return _read_terms(value)


def _read_terms(value: str | None) -> frozenset[Any]:
    if not value:
        return frozenset()
    try:
        parsed = json.loads(value)
    except ValueError:
        return frozenset()
    return frozenset(v for v in parsed if isinstance(v, (str, int, float))) if isinstance(parsed, list) else frozenset()


_remembered_terms = functools.lru_cache(maxsize=4096)(_read_terms)


class Stepper:
    """Search steps as a driver walks them: iterating gives each step in turn, a Query to answer (with
    its rows, or with the SQL error it raised, which the steps say the meaning of), Work to do (with
    its result and its queries' rows) or an output."""

    def __init__(self, steps: Steps) -> None:
        self.steps = steps
        self.reply: Any = None
        self.error: sqlite3.OperationalError | None = None

    def __iter__(self) -> Stepper:
        return self

    def __next__(self) -> Any:
        step = self.steps.throw(self.error) if self.error else self.steps.send(self.reply)
        self.reply, self.error = None, None
        return step


def run_sync(conns: sqlite3.Connection | Mapping[str, sqlite3.Connection], steps: Steps) -> Iterator[Any]:
    """Run search steps on connections of our own (that add_search_functions has prepared), each
    archive's by its name (a connection alone: the only archive, named ""): what they output, as they
    output it."""
    by_name = {"": conns} if isinstance(conns, sqlite3.Connection) else conns

    def rows_of(query: Query) -> Rows:
        cursor = by_name[query.archive].execute(query.sql, query.params)
        return [dict(zip([d[0] for d in cursor.description], row, strict=True)) for row in cursor]

    stepper = Stepper(steps)
    for step in stepper:
        try:
            if isinstance(step, Query):
                stepper.reply = rows_of(step)
            elif isinstance(step, Work):  # one after the other: a command answers one search
                stepper.reply = [step.run(), *(rows_of(query) for query in step.queries)]
            else:
                yield step
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


def search_archives(conns: Mapping[str, sqlite3.Connection], request: SearchRequest, *, limit: int | None = None,
                    skipped: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """Every row of a search of archives (by name, in the order given; RESULT_FIELDS), in the order
    asked, at most limit of them; BadSearch at once, before any row, when the search cannot run.
    The archives that cannot be searched are added to skipped, also before any row."""
    for conn in conns.values():
        add_search_functions(conn)
    chunks = run_sync(conns, result_steps(request, archives=list(conns), limit=limit, skipped=skipped))
    first: Rows = next(chunks, [])  # a search that cannot run fails here, before any row is written
    return itertools.chain(first, itertools.chain.from_iterable(chunks))


def result_text(row: dict[str, Any], number: int, mark: Callable[[str], str] | None = None, *,
                named: bool = False) -> str:
    """A row as a few lines for a terminal: number and title, what it is (named: and its database), its
    snippet on one line (each word found given to mark, or left between [[ and ]]), its address."""
    about = " · ".join(str(part) for part in (row["type"], (row["date_gmt"] or "")[:10], row["author_name"],
                                              row["site_name"], row["database"] if named else None) if part)
    snippet = " ".join((row["snippet"] or "").split())
    if mark is not None:
        snippet = _PLAIN_MARKED.sub(lambda found: mark(found.group(1)), snippet)
    return f"{number}. {row['title'] or '(no title)'}\n   {about}\n   {snippet}\n   {row['link'] or row['key']}\n"


_PLAIN_MARKED = re.compile(re.escape(PLAIN_MARK_START) + "(.*?)" + re.escape(PLAIN_MARK_END))
