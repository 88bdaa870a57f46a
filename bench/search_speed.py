"""Ranked search latency through Datasette's HTTP API at 100,000 posts.

    python bench/search_speed.py                    # 100,000 posts, 20 queries, 10 rounds
    python bench/search_speed.py --posts 20000

An archive of synthetic posts (titles and 240 words of text drawn by Zipf's law from a
30,000-word vocabulary, stored as text, Markdown and HTML as a harvest stores them, so rows are
as long as real ones; categories, tags, 20,000 comments) is written straight into wparchive's
schema and its full-text index built once. `wparchive serve` then answers, over HTTP on 127.0.0.1:
- the search page's JSON (/-/wparchive/search.json?q=…): 20 ranked hits with snippets, the total,
  five facets;
- the search page itself (/-/wparchive/search?q=…), the same as HTML;
- the search canned query as JSON (/archive/search.json?q=…): the best 500 hits with snippets.
Query words are picked by how many posts hold them (from rare to over half), with phrases,
quotes and hyphens.
p50 and p95 in milliseconds over every request of a kind.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import requests

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import WORDS  # noqa: E402

from wparchive.db import ensure_db_shape, open_db  # noqa: E402

SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "ta", "po", "si", "de", "ga", "vu", "zo", "be", "fi", "ha", "jo", "ul",
             "an", "er", "os")


def vocabulary(size: int = 30_000) -> list[str]:
    """Pronounceable words, the garden words of the synthetic site first (the most frequent)."""
    words = list(WORDS)
    rng = random.Random(3)
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


VOCABULARY = vocabulary()
# Word frequencies of natural text: Zipf's law, the n-th word about 1/n as frequent as the first.
WEIGHTS = [1 / (rank + 1) ** 1.07 for rank in range(len(VOCABULARY))]
CUMULATIVE = list(itertools.accumulate(WEIGHTS))  # once, not on every draw


def text_words(rng: random.Random, count: int) -> list[str]:
    return rng.choices(VOCABULARY, cum_weights=CUMULATIVE, k=count)


def build(path: Path, posts: int) -> None:
    rng = random.Random(7)
    db = open_db(str(path))
    db.execute("INSERT INTO sites (id, home, name, gmt_offset) VALUES (1, 'https://example.org', 'Bench', '0')")
    rows = []
    for wp_id in range(1, posts + 1):
        paragraphs = [" ".join(text_words(rng, 60)) for _ in range(4)]
        text = "\n\n".join(paragraphs)
        # Markdown and HTML as a harvest stores them: the rows are as long as real ones.
        html = "".join(f'<!-- wp:paragraph -->\n<p class="has-text">{p}</p>\n<!-- /wp:paragraph -->\n\n'
                       for p in paragraphs)
        rows.append((f"1-{wp_id}", 1, wp_id, "post", "publish", " ".join(text_words(rng, 5)).title(),
                     f"20{10 + wp_id % 14:02d}-{1 + wp_id % 12:02d}-01T00:00:00", f"1-{1 + wp_id % 20}",
                     json.dumps([f"Category {1 + wp_id % 30}"]), json.dumps([f"tag {wp_id % 300}", f"tag {wp_id % 77}"]),
                     text, text[:200], text, html))
    with db.conn:
        db.conn.executemany(
            "INSERT INTO posts (key, site_id, wp_id, type, status, title, date_gmt, author, categories, tags, "
            "content_text, excerpt_text, content_markdown, content_html, year) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,CAST(substr(?7, 1, 4) AS INTEGER))", rows)
        # The terms and post_terms a harvest writes beside the names in categories and tags.
        db.conn.executemany("INSERT INTO terms (key, site_id, wp_id, taxonomy, name) VALUES (?, 1, ?, ?, ?)",
                            [(f"1-{i}", i, "category", f"Category {i}") for i in range(1, 31)] +
                            [(f"1-{1000 + i}", 1000 + i, "post_tag", f"tag {i}") for i in range(300)])
        db.conn.executemany("INSERT OR IGNORE INTO post_terms (post, term, taxonomy) VALUES (?, ?, ?)",
                            [(f"1-{wp_id}", term, taxonomy) for wp_id in range(1, posts + 1)
                             for term, taxonomy in ((f"1-{1 + wp_id % 30}", "category"),
                                                    (f"1-{1000 + wp_id % 300}", "post_tag"),
                                                    (f"1-{1000 + wp_id % 77}", "post_tag"))])
        db.conn.executemany("INSERT INTO users (key, site_id, wp_id, name) VALUES (?, 1, ?, ?)",
                            [(f"1-{i}", i, f"Author {i}") for i in range(1, 21)])
        db.conn.executemany(
            "INSERT INTO comments (key, site_id, wp_id, post, author_name, date_gmt, content_text) VALUES (?,1,?,?,?,?,?)",
            [(f"1-{c}", c, f"1-{1 + c * 5 % posts}", f"Reader {c % 50}", "2024-01-01T00:00:00",
              " ".join(text_words(rng, 30))) for c in range(1, 20_001)])
        db.execute("INSERT INTO harvest_runs (id, site_id, status, started_at, finished_at) "
                   "VALUES (1, 1, 'ok', '2026-01-01T00:00:00', '2026-01-01T00:10:00')")
    ensure_db_shape(db)


def queries(path: Path, per_kind: int = 3) -> list[tuple[str, str]]:
    """Query words picked by the share of posts they occur in (per_kind of each share), with phrases,
    quotes and hyphens."""
    import sqlite3

    db = sqlite3.connect(path)
    db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, posts_fts, 'row')")
    posts = db.execute("SELECT count(*) FROM posts").fetchone()[0]

    def words(low: float, high: float, n: int = 3) -> list[str]:
        rows = db.execute("SELECT term FROM temp.vocab WHERE doc BETWEEN ? AND ? AND length(term) > 3 "
                          "ORDER BY doc DESC LIMIT ?", [int(low * posts), int(high * posts), n]).fetchall()
        return [r[0] for r in rows]

    rare, mid, common = words(0.0002, 0.001, per_kind), words(0.005, 0.02, per_kind), words(0.05, 0.2, per_kind)
    very = words(0.5, 1.0, max(2, per_kind))
    db.close()
    return ([("rare (< 0.1 % of posts)", w) for w in rare] + [("1 % of posts", w) for w in mid] +
            [("5–20 % of posts", w) for w in common] + [("two words", f"{mid[0]} {common[0]}")] +
            [("phrase, quotes, hyphen", f'"{common[0]} {common[1]}"'), ("phrase, quotes, hyphen", f"{mid[1]}-{mid[2]}"),
             ("unbalanced quote", f'"{mid[0]}')] + [("over half the posts", w) for w in very[:max(2, per_kind)]])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


@contextmanager
def served(path: Path, *more: Path) -> Iterator[str]:
    """`wparchive serve` on the archive (and more beside it, searched as one), answering: its address."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "wparchive", "serve", str(path), *map(str, more),
                               "--port", str(port)], stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(base + "/-/versions.json", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--archives", type=int, default=1,
                        help="serve this many copies of the archive and search them as one (each with --posts)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    path = folder / "archive.db"
    started = time.perf_counter()
    build(path, args.posts)
    print(f"built {args.posts:,} posts in {time.perf_counter() - started:.0f}s, {path.stat().st_size / 1e6:.0f} MB",
          file=sys.stderr)
    query_set = queries(path)
    copies = [folder / f"copy{n}.db" for n in range(2, args.archives + 1)]
    for copy in copies:
        shutil.copyfile(path, copy)
    with served(path, *copies) as base:
        session = requests.Session()
        session.headers["Cache-Control"] = "no-cache"  # the search worked out each time, not an answer kept
        timings: dict[str, list[float]] = {"/-/wparchive/search.json": [], "/-/wparchive/search": [],
                                           "search.json": []}
        by_kind: dict[tuple[str, str], list[float]] = {}
        for endpoint, make in (
                ("/-/wparchive/search.json", lambda q: f"/-/wparchive/search.json?{urlencode({'q': q})}"),
                ("/-/wparchive/search", lambda q: f"/-/wparchive/search?{urlencode({'q': q})}"),
                ("search.json", lambda q: f"/archive/search.json?{urlencode({'q': q, '_shape': 'array'})}")):
            for _, query in query_set:
                session.get(base + make(query))  # warm the page cache
            for _ in range(args.rounds):
                for kind, query in query_set:
                    t = time.perf_counter()
                    response = session.get(base + make(query))
                    elapsed = (time.perf_counter() - t) * 1000
                    assert response.status_code == 200, (query, response.status_code)
                    timings[endpoint].append(elapsed)
                    by_kind.setdefault((endpoint, kind), []).append(elapsed)
        print("| endpoint | queries | p50 ms | p95 ms |\n|---|---|---|---|")
        for endpoint, values in timings.items():
            typical = [v for (name, kind), kinds in by_kind.items() if name == endpoint and not kind.startswith("over")
                       for v in kinds]
            print(f"| {endpoint} | all but over-half-the-posts words, {len(typical)} | {statistics.median(typical):.1f} | "
                  f"{percentile(typical, 0.95):.1f} |")
            print(f"| {endpoint} | all {len(values)} | {statistics.median(values):.1f} | {percentile(values, 0.95):.1f} |")
            for (name, kind), kinds in by_kind.items():
                if name == endpoint:
                    print(f"| {endpoint} | {kind} | {statistics.median(kinds):.1f} | {percentile(kinds, 0.95):.1f} |")


if __name__ == "__main__":
    main()
