"""--concurrency against a slow server: the same harvest at 1, 2, 4 and 8 pages at once.

    python bench/concurrency.py                      # 2,000 posts, 0.25 s a request, 3 runs
    python bench/concurrency.py --latency 0.1 --runs 5

The synthetic site of bench/synthetic.py, its server made to take LATENCY seconds for every
request (as PHP and MySQL rendering a page of 100 posts might), on 127.0.0.1. Each harvest
runs in its own process with --delay 0; the table gives posts per second (median of the runs),
requests made and the speed-up over one request at a time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import SyntheticSite, serve  # noqa: E402


def harvest(base: str, db_path: Path, concurrency: int) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "wparchive", "harvest", base + "/", "--db", str(db_path), "--delay", "0",
                    "--quiet", "--concurrency", str(concurrency)], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    site = SyntheticSite(args.posts)
    server, log = serve(site, latency=args.latency)
    folder = Path(tempfile.mkdtemp())
    print(f"| concurrency | posts/s (median of {args.runs}) | requests | speed-up |\n|---|---|---|---|")
    first = None
    for level in args.levels:
        rates, requests = [], 0
        for run in range(args.runs):
            log.clear()
            rates.append(args.posts / harvest(site.home, folder / f"c{level}-{run}.db", level))
            requests = len(log)
        rate = statistics.median(rates)
        first = first or rate
        print(f"| {level} | {rate:,.0f} | {requests} | {rate / first:.1f}× |", flush=True)
    server.shutdown()


if __name__ == "__main__":
    main()
