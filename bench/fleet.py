"""Many small sites drained from a Redis queue by several `wparchive worker --burst` processes.

    python bench/fleet.py                                    # 100 sites of 20 posts, 4 workers
    python bench/fleet.py --sites 200 --posts 50 --workers 8 --latency 0.05
    python bench/fleet.py --queue redis://127.0.0.1:6379/15  # a Redis of your own (its db is emptied)

Synthetic sites of bench/synthetic.py, each on its own server on 127.0.0.1, all served by one
child process (so that serving weighs on the workers' measure only as CPU), which counts each
site's requests and response bytes. A Redis of its own (Debian's redis-server, on a free port,
nothing on disk) unless --queue names one. The sites are listed in a sites.toml (delay 0) and put
into the queue with `wparchive enqueue`; then WORKERS processes of `wparchive worker --burst
--quiet --workers 1` drain it, each site into its own archive; then the same again, as the next
night's harvest of sites where nothing changed. Printed for each: the wall time from the workers'
start to the last one's end, sites a minute and posts a second over all (posts archived, so the
second night's rate is of posts checked), requests and kilobytes per site (median and largest),
and the memory of all the workers' process trees together (the sum of each process's peak RSS, and
the peak of their summed PSS; see proctree.py). Then the archives' size, and `wparchive merge` of
them all into one, as a fleet publishes them, timed the first time and again with nothing new.
Run it on a quiet machine: it measures CPU and waiting, and a busy machine harvests slower.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from proctree import sample_until_done  # noqa: E402
from synthetic import SyntheticSite, _Handler  # noqa: E402


class _Counting:
    """A response stream that counts the bytes written through it into sent[0]."""

    def __init__(self, stream: Any, sent: list[int]) -> None:
        self._stream, self._sent = stream, sent

    def write(self, data: bytes) -> int:
        self._sent[0] += len(data)
        return int(self._stream.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def serve_sites(count: int, posts: int, latency: float) -> None:
    """The child process (`--serve`): prints the sites' home URLs as one JSON line, then, for each line
    read on stdin, {home: [requests, bytes sent]} as one JSON line; ends when stdin closes."""
    from http.server import ThreadingHTTPServer

    counts: dict[str, tuple[list[str], list[int]]] = {}  # home → (the server's request log, [bytes sent])
    for seed in range(1, count + 1):
        site = SyntheticSite(posts, seed=seed)
        log: list[str] = []
        sent = [0]

        def setup(self: Any, sent: list[int] = sent) -> None:
            _Handler.setup(self)
            self.wfile = _Counting(self.wfile, sent)

        handler = type("Handler", (_Handler,), {"site": site, "requests": log, "latency": latency, "setup": setup})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        site.render(f"http://127.0.0.1:{server.server_address[1]}")
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        counts[site.home + "/"] = (log, sent)
    print(json.dumps(list(counts)), flush=True)
    for _line in sys.stdin:
        print(json.dumps({home: [len(log), sent[0]] for home, (log, sent) in counts.items()}), flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("redis-server")
    if not binary:
        sys.exit("needs redis-server (apt-get install redis-server), or --queue redis://HOST:PORT/DB")
    port = free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                                "no", "--dir", str(folder)], stdout=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.1)
    process.terminate()
    sys.exit("redis-server did not start within 10 s")


def wparchive(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "wparchive", *args], check=True)


def drain(queue: str, out: Path, config: Path, workers: int) -> tuple[float, float, float, list[int]]:
    """Start the workers, sample their process trees' memory until all end: wall seconds, the sum of peak
    RSS and the peak of summed PSS (MB), and their exit codes."""
    command = [sys.executable, "-m", "wparchive", "worker", "--queue", queue, "--out", str(out), "--config",
               str(config), "--burst", "--quiet", "--workers", "1"]
    started = time.monotonic()
    processes = [subprocess.Popen(command) for _ in range(workers)]
    rss, peak_pss = sample_until_done(processes)
    return time.monotonic() - started, rss, peak_pss, [process.returncode for process in processes]


def archived_posts(out: Path) -> int:
    return sum(archived_posts_in(path) for path in out.glob("*.db"))


def archived_posts_in(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT count(*) FROM posts").fetchone()[0])
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--posts", type=int, default=20, help="posts of each site")
    parser.add_argument("--workers", type=int, default=4, help="worker processes")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds every request takes")
    parser.add_argument("--queue", help="a Redis URL to use (its database is emptied first)")
    parser.add_argument("--serve", nargs=3, type=float, metavar=("SITES", "POSTS", "LATENCY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_sites(int(args.serve[0]), int(args.serve[1]), args.serve[2])
        return
    folder = Path(tempfile.mkdtemp(prefix="wparchive-fleet-"))
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(args.sites), str(args.posts),
                               str(args.latency)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdin is not None and server.stdout is not None
    redis_process = None
    try:
        homes = json.loads(server.stdout.readline())
        if args.queue:
            import redis

            redis.Redis.from_url(args.queue).flushdb()
            queue = args.queue
        else:
            redis_process, queue = start_redis(folder)
        config = folder / "config"
        config.mkdir()
        (config / "sites.toml").write_text("[defaults]\ndelay = 0\n" + "".join(
            f'[[site]]\nurl = "{home}"\n' for home in homes), encoding="utf-8")
        out = folder / "archives"
        nights = []  # the first harvest, then the next night's, with nothing changed on the sites
        before: dict[str, list[int]] = {home: [0, 0] for home in homes}
        for _ in range(2):
            wparchive("enqueue", "--queue", queue, "--config", str(config), "--quiet")
            seconds, rss, peak_pss, codes = drain(queue, out, config, args.workers)
            server.stdin.write("report\n")
            server.stdin.flush()
            counts = json.loads(server.stdout.readline())
            nights.append((seconds, rss, peak_pss, codes, {home: [count[0] - before[home][0], count[1] - before[home][1]]
                                                          for home, count in counts.items()}))
            before = counts
        # Publishing: every site's archive folded into one, the first time and again the next night
        merged = folder / "merged.db"
        merges = []
        for _ in range(2):
            started = time.monotonic()
            wparchive("merge", *map(str, sorted(out.glob("*.db"))), "--db", str(merged), "--quiet")
            merges.append(time.monotonic() - started)
    finally:
        server.stdin.close()
        server.wait(timeout=60)
        if redis_process is not None:
            redis_process.terminate()
            redis_process.wait(timeout=30)
    posts = archived_posts(out)
    print(f"{args.sites} sites of {args.posts} posts, {args.workers} workers, {args.latency} s a request; "
          f"{len(list(out.glob('*.db')))} archives, {posts} posts\n")
    print("| harvest | exit codes | wall s | sites/min | posts/s | requests/site (median, max) "
          "| KB/site (median, max) | peak RSS sum MB | peak PSS MB |\n|---|---|---|---|---|---|---|---|---|")
    for name, (seconds, rss, peak_pss, codes, counts) in zip(("first", "next, nothing changed"), nights, strict=True):
        requests = [count[0] for count in counts.values()]
        kilobytes = [count[1] / 1024 for count in counts.values()]
        print(f"| {name} | {sorted(set(codes))} | {seconds:.1f} | {args.sites / seconds * 60:.0f} "
              f"| {posts / seconds:.0f} | {statistics.median(requests):.0f}, {max(requests)} "
              f"| {statistics.median(kilobytes):.0f}, {max(kilobytes):.0f} | {rss:.0f} | {peak_pss:.0f} |")
    sizes = [path.stat().st_size for path in out.glob("*.db")]
    print(f"\nArchives: {sum(sizes) / 1e6:.1f} MB in all, {statistics.median(sizes) / 1e6:.2f} MB a site (median). "
          f"`wparchive merge` of all {len(sizes)} into one: {merges[0]:.1f} s, {archived_posts_in(merged)} posts, "
          f"{merged.stat().st_size / 1e6:.1f} MB; merging them again (nothing new): {merges[1]:.1f} s.")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
