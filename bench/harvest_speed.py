"""Full-harvest speed and memory against the floor, and incremental runs, on a synthetic site.

    python bench/harvest_speed.py                       # 2,000 and 20,000 posts, 3 runs each
    python bench/harvest_speed.py --sizes 100000 --runs 1

In one run, on the same pre-rendered server (bench/synthetic.py), for each size:
- floor 1: fetch every page of posts and decode the JSON (one requests.Session);
- floor 2: floor 1 + html2text of every post;
- floor 3: floor 2 + a raw sqlite3 executemany of the rows, the FTS index built once at the end;
- wparchive: `wparchive harvest` end to end in a process of its own (every collection, text,
  Markdown, links, images, language, FTS), with the peak RSS of its whole process tree (itself and
  its cleaning workers, summed: see proctree.py);
- re-harvest with nothing changed, and with 1 % of the posts changed: requests made, seconds.
Throughput is posts per second; ratios are ours over floor 3. Medians of the runs.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import html2text
import requests

sys.path.insert(0, str(Path(__file__).parent))
from proctree import run as run_measured  # noqa: E402
from synthetic import SyntheticSite, serve  # noqa: E402


def floor(base: str, level: int, db_path: Path) -> float:
    """Seconds for the floor at a level (1: fetch + decode, 2: + html2text, 3: + SQLite and FTS)."""
    started = time.perf_counter()
    session = requests.Session()
    converter = html2text.HTML2Text()
    converter.body_width = 0
    db = sqlite3.connect(db_path) if level >= 3 else None
    if db is not None:
        db.execute("CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT, content_markdown TEXT, content_html TEXT)")
    number = 1
    while True:
        response = session.get(f"{base}/wp-json/wp/v2/posts", params={"per_page": 100, "page": number,
                                                                     "orderby": "id", "order": "asc"})
        if response.status_code != 200:
            break
        items = json.loads(response.content)
        if not items:
            break
        rows = []
        for item in items:
            markdown = converter.handle(item["content"]["rendered"]) if level >= 2 else ""
            rows.append((item["id"], item["title"]["rendered"], markdown, item["content"]["rendered"]))
        if db is not None:
            with db:
                db.executemany("INSERT INTO posts VALUES (?, ?, ?, ?)", rows)
        number += 1
    if db is not None:
        db.execute("CREATE VIRTUAL TABLE posts_fts USING fts5(title, content_markdown, content='posts', content_rowid='id')")
        db.execute("INSERT INTO posts_fts(posts_fts) VALUES ('rebuild')")
        db.commit()
        db.close()
    return time.perf_counter() - started


def harvest(base: str, db_path: Path, extra: list[str]) -> tuple[float, float, float]:
    """Seconds, peak RSS and peak PSS (MB) of `wparchive harvest`, summed over its process tree
    (see proctree.py)."""
    measured = run_measured(["harvest", base + "/", "--db", str(db_path), "--delay", "0", "--quiet", *extra])
    if measured.code != 0:
        raise SystemExit(f"wparchive harvest exited {measured.code}")
    return measured.seconds, measured.rss, measured.pss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", default="", help="passed to wparchive harvest --workers (default: its own)")
    args = parser.parse_args()
    extra = ["--workers", args.workers] if args.workers else []
    print("| posts | floor 1: fetch + JSON | floor 2: + html2text | floor 3: + SQLite, FTS | wparchive | "
          "wparchive / floor 3 | peak RSS of the process tree, MB | peak PSS of the tree, MB | nothing changed: requests, s | 1 % changed: requests, s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        site = SyntheticSite(size)
        server, log = serve(site)
        base = site.home
        folder = Path(tempfile.mkdtemp())
        floors: dict[int, list[float]] = {1: [], 2: [], 3: []}
        ours: list[float] = []
        rss: list[float] = []
        pss: list[float] = []
        for run in range(args.runs):
            for level in (1, 2, 3):
                floors[level].append(size / floor(base, level, folder / f"floor-{level}-{run}.db"))
            seconds, peak, shared = harvest(base, folder / f"ours-{run}.db", extra)
            ours.append(size / seconds)
            rss.append(peak)
            pss.append(shared)
        archive = folder / f"ours-{args.runs - 1}.db"
        log.clear()
        quiet_s, _, _ = harvest(base, archive, extra)
        quiet_requests = len(log)
        changed = site.touch(0.01)
        log.clear()
        changed_s, _, _ = harvest(base, archive, extra)
        changed_requests = len(log)
        server.shutdown()
        f1, f2, f3 = (statistics.median(floors[level]) for level in (1, 2, 3))
        mine = statistics.median(ours)
        print(f"| {size:,} | {f1:,.0f}/s | {f2:,.0f}/s | {f3:,.0f}/s | {mine:,.0f}/s | {mine / f3:.2f} | "
              f"{statistics.median(rss):.0f} | {statistics.median(pss):.0f} | {quiet_requests}, {quiet_s:.1f} | "
              f"{changed_requests} ({changed} posts), {changed_s:.1f} |", flush=True)


if __name__ == "__main__":
    main()
