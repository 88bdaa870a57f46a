"""harvest --jobs against three slow sites: one after another (--jobs 1) beside all at once (--jobs 3).

    python bench/jobs.py                             # 3 sites of 500 posts, 0.2 s a request, 3 runs each
    python bench/jobs.py --posts 2000 --latency 0.25 --runs 5

Three synthetic sites of bench/synthetic.py, each on its own server on 127.0.0.1 that takes LATENCY
seconds for every request (as a distant PHP and MySQL might), listed in a sites.toml. Each harvest
is a first one, into a new archive, in its own process with --delay 0 and --concurrency 1 (each
site polite); the table gives the seconds each took (median of the runs) and how many times faster
--jobs 3 was. Run it on a quiet machine: it measures waiting, and a busy one cleans slower.
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


def harvest(config: Path, db_path: Path, jobs: int, workers: int | None) -> float:
    command = [sys.executable, "-m", "wparchive", "harvest", "--config", str(config), "--db", str(db_path),
               "--delay", "0", "--quiet", "--jobs", str(jobs)]
    if workers is not None:
        command += ["--workers", str(workers)]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=500, help="posts of each site")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds every request takes")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, help="--workers of the harvests (default: theirs, every core)")
    args = parser.parse_args()
    servers, sites = [], []
    for seed in (1, 2, 3):
        site = SyntheticSite(args.posts, seed=seed)
        server, _log = serve(site, latency=args.latency)
        servers.append(server)
        sites.append(site)
    folder = Path(tempfile.mkdtemp(prefix="wparchive-jobs-"))
    config = folder / "config"
    config.mkdir()
    (config / "sites.toml").write_text("".join(f'[[site]]\nurl = "{site.home}/"\n\n' for site in sites))
    print(f"3 sites of {args.posts} posts, {args.latency} s a request; seconds, median of {args.runs}\n")
    print("| --jobs 1 | --jobs 3 | speed-up |\n|---|---|---|")
    seconds: dict[int, list[float]] = {1: [], 3: []}
    for run in range(args.runs):
        for jobs in (1, 3):  # side by side, so that a machine getting busier weighs on both alike
            seconds[jobs].append(harvest(config, folder / f"jobs{jobs}-{run}.db", jobs, args.workers))
    one, three = statistics.median(seconds[1]), statistics.median(seconds[3])
    print(f"| {one:.1f} | {three:.1f} | {one / three:.1f}× |")
    for server in servers:
        server.shutdown()


if __name__ == "__main__":
    main()
