"""Finding by meaning: what embedding costs, what searching by meaning costs, and what it finds.

    python bench/meaning.py                  # 100,000 posts, 10 rounds
    python bench/meaning.py --posts 20000 --rounds 3

1. The synthetic archive of bench/search_speed.py (titles and 240 Zipf-drawn words per post) is
   embedded by `wparchive embed`'s code: seconds, posts per second, the process's peak memory, the
   archive's growth; then embedded again (nothing changed: the cost of checking).
2. The vectors' memory, and one brute-force scan (numpy, one query against every vector) in process.
3. `wparchive serve` answers search.json over HTTP on 127.0.0.1 with mode=words, meaning and
   hybrid, for search_speed's query words: p50 and p95 in milliseconds.
4. Retrieval quality on a small labelled set written here: twelve subjects, three posts each, and
   for each subject two queries, one in the posts' own words and one in other words (synonyms,
   paraphrase). Recall at 3 (how many of the subject's three posts are in the first three hits)
   and the reciprocal rank of the first, averaged, for words, meaning and hybrid.
"""

from __future__ import annotations

import argparse
import csv
import io
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import requests

sys.path.insert(0, str(Path(__file__).parent))
from search_speed import build, percentile, queries, served  # noqa: E402

from wparchive.db import ensure_db_shape, open_db  # noqa: E402
from wparchive.meaning import embed_archive, load_embedder  # noqa: E402

# Subject: three posts (title, text); a query in their words; a query in other words.
LABELLED = {
    "car repair": ([("Fixing the engine", "The engine of my automobile kept stalling, so I replaced the spark plugs."),
                    ("Brake pads", "Worn brake pads on a hatchback: how to swap them in the driveway."),
                    ("Oil change", "Changing the motor oil and filter of a sedan every 10,000 miles.")],
                   "engine oil brake", "car mechanic"),
    "sourdough": ([("My starter", "Feeding a sourdough starter with rye flour and water each morning."),
                   ("Crusty loaf", "Baking a crusty loaf in a Dutch oven at high heat."),
                   ("Proofing dough", "Letting the dough rise overnight in the fridge for flavour.")],
                  "sourdough loaf", "making bread at home"),
    "tomatoes": ([("Tomato seedlings", "Sowing tomato seeds indoors in March under a lamp."),
                  ("Staking tomatoes", "Tie the tomato vines to stakes as they grow tall."),
                  ("Blight", "Blight turned the leaves of my tomato plants brown and spotty.")],
                 "tomato plants", "growing vegetables in the garden"),
    "running": ([("First marathon", "Training sixteen weeks for my first marathon, long runs on Sundays."),
                 ("Running shoes", "Choosing running shoes with enough cushioning for the road."),
                 ("Interval training", "Sprints and recovery jogs to get faster over 5 km.")],
                "running marathon", "jogging to get fit"),
    "cats": ([("Our new kitten", "The kitten sleeps all day and chases the string at night."),
              ("Cat food", "Wet or dry food for an older cat with sensitive teeth."),
              ("Scratching post", "Stopping the cat from scratching the sofa with a tall post.")],
             "cat kitten", "feline pets"),
    "taxes": ([("Filing a return", "Filing the income tax return before the April deadline."),
               ("Deductions", "Which deductions a freelancer can claim on the tax return."),
               ("Receipts", "Keeping receipts for every expense in case of an audit.")],
              "tax return", "paying the government what you owe"),
    "photography": ([("Aperture", "A wide aperture blurs the background of a portrait."),
                     ("Golden hour", "Shoot landscapes in the warm light just after sunrise."),
                     ("Camera lenses", "A 50 mm prime lens is sharp and cheap for beginners.")],
                    "camera lens aperture", "taking better pictures"),
    "knitting": ([("Casting on", "Casting on stitches with wool yarn and bamboo needles."),
                  ("A scarf", "Knitting a striped scarf in garter stitch over a weekend."),
                  ("Dropped stitch", "Picking up a dropped stitch with a crochet hook.")],
                 "knitting stitch", "making a sweater by hand"),
    "bees": ([("The hive", "Opening the hive to check the frames for brood and honey."),
              ("Swarming", "A swarm of bees left the colony and settled on a branch."),
              ("Harvesting honey", "Extracting honey from the frames in late summer.")],
             "bees honey hive", "beekeeping"),
    "hiking": ([("Mountain trail", "Hiking the ridge trail to the summit with a day pack."),
                ("Boots", "Breaking in leather hiking boots before a long trek."),
                ("Map and compass", "Finding the way on the hill with a map and a compass.")],
               "hiking trail", "walking in the hills"),
    "coffee": ([("Espresso", "Pulling a shot of espresso with a fine grind and 9 bar."),
                ("Pour-over", "A pour-over brew with freshly ground beans and water at 94 °C."),
                ("Roasting beans", "Roasting green coffee beans at home in a popcorn popper.")],
               "coffee espresso beans", "morning brew"),
    "moving house": ([("Packing boxes", "Packing the kitchen into boxes two weeks before the move."),
                      ("The removal van", "Booking a removal van and movers for Saturday."),
                      ("New address", "Telling the bank and the post office our new address.")],
                     "moving boxes van", "relocating to a new home"),
}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_embedding(path: Path, posts: int) -> None:
    before = path.stat().st_size
    load_embedder()
    loaded = peak_mb()
    db = open_db(str(path))
    started = time.perf_counter()
    counts = embed_archive(db)
    seconds = time.perf_counter() - started
    print(f"| embed {posts:,} posts | {seconds:.1f} s | {counts.embedded / seconds:,.0f} posts/s | "
          f"{seconds / counts.embedded * 1000:.2f} ms/post | peak RSS {peak_mb():.0f} MB (model loaded: "
          f"{loaded:.0f} MB) | archive +{(path.stat().st_size - before) / 1e6:.0f} MB |")
    started = time.perf_counter()
    again = embed_archive(db)
    print(f"| embed again, nothing changed | {time.perf_counter() - started:.1f} s | {again.embedded} embedded |")
    db.conn.close()


def measure_scan(path: Path) -> None:
    from wparchive.meaning import remember_index

    embedder = load_embedder()
    db = open_db(str(path))
    rows = [{"rid": rid, "vector": vector} for rid, vector in db.execute("SELECT rowid, vector FROM embeddings")]
    started = time.perf_counter()
    index = remember_index(("bench", "bench", str(path), 0), rows, embedder.dims)
    read = time.perf_counter() - started
    query = embedder.embed(["compost heap"])[0]
    times = []
    for _ in range(50):
        t = time.perf_counter()
        index.nearest(query, 1000)
        times.append((time.perf_counter() - t) * 1000)
    embed_times = []
    for _ in range(50):
        t = time.perf_counter()
        embedder.embed(["car mechanic near me"])
        embed_times.append((time.perf_counter() - t) * 1000)
    print(f"| vectors in memory | {index.matrix.nbytes / 1e6:.0f} MB ({len(rows):,} × {embedder.dims} float32), "
          f"built in {read * 1000:.0f} ms |")
    print(f"| nearest 1,000 by brute force (numpy) | p50 {statistics.median(times):.1f} ms | "
          f"p95 {percentile(times, 0.95):.1f} ms |")
    print(f"| embedding a query | p50 {statistics.median(embed_times):.2f} ms |")
    db.conn.close()


def measure_sqlite_vec(path: Path) -> None:
    """The same nearest 1,000 with sqlite-vec, for comparison: its vec0 table (brute force in C, in
    memory) and its distance function over the stored vectors. This Python's sqlite3, which Datasette
    runs on, may not load extensions: apsw (its own SQLite) loads it here."""
    try:
        import apsw
        import sqlite_vec
    except ImportError:
        print("| sqlite-vec | not measured: pip install apsw sqlite-vec |")
        return
    import sqlite3

    print(f"| this Python's sqlite3 loads extensions | "
          f"{'yes' if hasattr(sqlite3.connect(':memory:'), 'enable_load_extension') else 'no'} |")
    embedder = load_embedder()
    conn = apsw.Connection(":memory:", flags=apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE | apsw.SQLITE_OPEN_URI)
    conn.enable_load_extension(True)
    conn.load_extension(sqlite_vec.loadable_path())
    conn.execute("ATTACH ? AS archive", (f"file:{path}?mode=ro",))
    conn.execute(f"CREATE VIRTUAL TABLE vec USING vec0(embedding float[{embedder.dims}])")
    started = time.perf_counter()
    with conn:
        conn.execute("INSERT INTO vec (rowid, embedding) SELECT p.rowid, e.vector FROM archive.embeddings e "
                     "JOIN archive.posts p ON p.key = e.key")
    built = time.perf_counter() - started
    query = embedder.embed(["compost heap"])[0].astype("float32").tobytes()

    def timed(sql: str) -> list[float]:
        times = []
        for _ in range(20):
            t = time.perf_counter()
            rows = conn.execute(sql, (query,)).fetchall()
            times.append((time.perf_counter() - t) * 1000)
        assert len(rows) == 1000, len(rows)
        return times

    knn = timed("SELECT rowid, distance FROM vec WHERE embedding MATCH ? AND k = 1000")
    scan = timed("SELECT rowid, vec_distance_cosine(vector, ?) AS d FROM archive.embeddings ORDER BY d LIMIT 1000")
    print(f"| nearest 1,000, sqlite-vec vec0 table in memory (built in {built * 1000:.0f} ms) | "
          f"p50 {statistics.median(knn):.1f} ms | p95 {percentile(knn, 0.95):.1f} ms |")
    print(f"| nearest 1,000, sqlite-vec vec_distance_cosine over the stored vectors | "
          f"p50 {statistics.median(scan):.1f} ms | p95 {percentile(scan, 0.95):.1f} ms |")
    conn.close()


def measure_http(path: Path, rounds: int) -> None:
    query_set = [q for kind, q in queries(path) if not kind.startswith("over")]
    with served(path) as base:
        session = requests.Session()
        session.headers["Cache-Control"] = "no-cache"  # the search worked out each time, not an answer kept
        print("| search.json mode | queries | p50 ms | p95 ms |\n|---|---|---|---|")
        for mode in ("words", "meaning", "hybrid"):
            def url(q: str, mode: str = mode) -> str:
                return f"{base}/-/wparchive/search.json?{urlencode({'q': q, 'mode': mode})}"
            for q in query_set:
                session.get(url(q))  # warm: the model and the vectors are read on the first
            times = []
            for _ in range(rounds):
                for q in query_set:
                    t = time.perf_counter()
                    answer = session.get(url(q))
                    times.append((time.perf_counter() - t) * 1000)
                    assert answer.status_code == 200, (q, answer.text[:200])
            print(f"| {mode} | {len(times)} | {statistics.median(times):.1f} | {percentile(times, 0.95):.1f} |")


def measure_quality(folder: Path) -> None:
    path = folder / "labelled.db"
    db = open_db(str(path))
    subject_of = {}
    rows = []
    for subject, (posts, _, _) in LABELLED.items():
        for title, text in posts:
            key = f"1-{len(rows) + 1}"
            subject_of[key] = subject
            rows.append((key, len(rows) + 1, title, text))
    with db.conn:
        db.execute("INSERT INTO sites (id, home, name) VALUES (1, 'https://example.org', 'Labelled')")
        db.conn.executemany("INSERT INTO posts (key, site_id, wp_id, type, title, content_text) "
                            "VALUES (?, 1, ?, 'post', ?, ?)", rows)
    ensure_db_shape(db)
    embed_archive(db)
    db.conn.close()
    print("| mode | queries | recall@3 | MRR |\n|---|---|---|---|")
    for wording, which in (("own words", 1), ("other words", 2)):
        for mode in ("words", "meaning", "hybrid"):
            recalls, ranks = [], []
            for subject, entry in LABELLED.items():
                found = subprocess.run([sys.executable, "-m", "wparchive", "search", "--db", str(path), "--mode", mode,
                                        "--format", "csv", entry[which]], capture_output=True, text=True, check=True)
                keys = [row["key"] for row in csv.DictReader(io.StringIO(found.stdout))]
                recalls.append(sum(subject_of[k] == subject for k in keys[:3]) / 3)
                first = next((n for n, k in enumerate(keys, start=1) if subject_of[k] == subject), None)
                ranks.append(1 / first if first else 0.0)
            print(f"| {mode}, {wording} | {len(LABELLED)} | {statistics.mean(recalls):.2f} | "
                  f"{statistics.mean(ranks):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    path = folder / "archive.db"
    build(path, args.posts)
    measure_quality(folder)
    measure_embedding(path, args.posts)
    measure_scan(path)
    measure_sqlite_vec(path)
    measure_http(path, args.rounds)


if __name__ == "__main__":
    main()
