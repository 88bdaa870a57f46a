"""Peak memory of `wparchive export` as the archive grows: it should not grow with it.

    python bench/export_memory.py                 # 2,000 and 20,000 posts, jsonl, csv and wxr, 3 runs each
    python bench/export_memory.py --sizes 2000 20000 100000 --formats wxr

Archives of synthetic posts (about 10 KB of text, Markdown and HTML each) are written straight
through wparchive's own savers; each export runs in a fresh process whose peak RSS
(ru_maxrss) is read when it ends. Medians of the runs are reported.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from wparchive.db import ensure_db_shape, open_db, save_page
from wparchive.records import SiteContext, post_record
from wparchive.rows import Provenance

PARAGRAPH = ("<p>Compost needs air and water, and patience; the heap by the shed has been turned every "
             "week since March, and the results are <a href=\"https://example.org/soil/\">dark and crumbly</a>."
             "</p>\n")


def build_archive(path: Path, posts: int) -> None:
    db = open_db(str(path))
    db.execute("INSERT INTO sites (id, home, name, gmt_offset) VALUES (1, 'https://example.org', 'Bench', '0')")
    ctx = SiteContext(site_id=1, home="https://example.org", hosts=frozenset({"example.org"}))
    prov = Provenance(response_url="https://example.org/wp-json/wp/v2/posts", fetched_at="2026-01-01T00:00:00+00:00",
                      run_id=1)
    content = PARAGRAPH * 40
    template = post_record({"id": 1, "type": "post", "status": "publish", "title": {"rendered": "Post"},
                            "content": {"rendered": content}, "date": "2024-01-01T00:00:00",
                            "date_gmt": "2024-01-01T00:00:00", "slug": "post", "link": "https://example.org/p/"},
                           ctx, prov)
    for start in range(1, posts + 1, 1000):
        records = []
        for wp_id in range(start, min(start + 1000, posts + 1)):
            record = type(template)(table="posts", row={**template.row, "key": f"1-{wp_id}", "wp_id": wp_id,
                                                        "slug": f"post-{wp_id}", "title": f"Post {wp_id}"},
                                    raw_json=template.raw_json, children={})
            records.append(record)
        save_page(db, records, run_id=1, at="2026-01-01T00:00:00+00:00", site_id=1, table="posts", collection="post")
    ensure_db_shape(db)


def measure(db: Path, fmt: str, out: Path) -> tuple[float, float]:
    """Peak RSS (MB) and wall time (s) of one export, run under a wrapper process of its own, whose
    RUSAGE_CHILDREN then holds that export alone."""
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        f"subprocess.run([sys.executable, '-m', 'wparchive', 'export', {str(out)!r}, '--db', {str(db)!r}, "
        f"'--format', {fmt!r}], check=True, capture_output=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, time.perf_counter() - t)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    rss, seconds = map(float, result.stdout.split())
    return rss, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--formats", nargs="+", default=["jsonl", "csv", "wxr"])
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    print("| posts | format | archive MB | output MB | peak RSS MB (median) | seconds (median) |")
    print("|---|---|---|---|---|---|")
    for size in args.sizes:
        db = folder / f"archive-{size}.db"
        build_archive(db, size)
        for fmt in args.formats:
            out = folder / f"export-{size}.{'xml' if fmt == 'wxr' else fmt}"
            runs = [measure(db, fmt, out) for _ in range(args.runs)]
            rss = statistics.median(r for r, _ in runs)
            seconds = statistics.median(s for _, s in runs)
            written = sum(f.stat().st_size for f in folder.glob(f"{out.stem}*{out.suffix}"))  # wxr: split files
            print(f"| {size:,} | {fmt} | {db.stat().st_size / 1e6:.0f} | {written / 1e6:.0f} | "
                  f"{rss:.0f} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
