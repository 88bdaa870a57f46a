"""Datasette under load: many clients at once over the pages people open, on a 20,000-post archive.

    python bench/datasette_load.py                         # 20 clients, 20 s, 3 runs, serve -i
    python bench/datasette_load.py --db /tmp/x/archive.db  # reuse an archive built before
    python bench/datasette_load.py --clients 5 --duration 10 --mutable

The archive is bench/search_speed.py's (synthetic posts of 240 Zipf-drawn words stored as text,
Markdown and HTML, categories and tags with their terms and post_terms, 20,000 comments, the
full-text index built once). `wparchive serve` runs as a real subprocess on a free port of
127.0.0.1 (with -i unless --mutable); each client is a thread with its own requests.Session that
asks, one request after another (no pause between them) for --duration seconds, for a page drawn
at random from the mix:
- home: the home page (/), with its per-site summary and chart of posts per month;
- table: the posts table as HTML with the facets of the bundled metadata;
- table.json: the posts table as JSON;
- post: a random post's reader page (/-/wparchive/post/<key>);
- search rare / search common: the search page (/-/wparchive/search?q=…) for a word in about
  0.1 % of posts, and for one in over half of them, each drawn from up to --words words of that
  kind (so that an answer kept by `serve -i` is not simply every answer asked for);
- search.json rare / search.json common: the same words through /-/wparchive/search.json.
Latency is each request's wall time in the client; an error is a status other than 200 or a
failed request. p50/p95/p99 per kind and overall, and the rate, are the medians over --runs.
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlencode

import requests

sys.path.insert(0, str(Path(__file__).parent))
from search_speed import build, percentile, queries  # noqa: E402


def url_mix(path: Path, posts: int, per_kind: int) -> dict[str, object]:
    """The kinds of request, each a function of a random generator giving a path."""
    words = queries(path, per_kind)
    rare = [w for kind, w in words if kind.startswith("rare")]
    common = [w for kind, w in words if kind.startswith("over half")]
    table = f"/{path.stem}/posts"

    def search(endpoint: str, pool: list[str]) -> object:
        return lambda rng: f"/-/wparchive/{endpoint}?{urlencode({'q': rng.choice(pool)})}"

    return {
        "home": lambda rng: "/",
        "table": lambda rng: table,
        "table.json": lambda rng: f"{table}.json",
        "post": lambda rng: f"/-/wparchive/post/{quote(f'1-{rng.randint(1, posts)}')}",
        "search rare": search("search", rare),
        "search common": search("search", common),
        "search.json rare": search("search.json", rare),
        "search.json common": search("search.json", common),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(path: Path, *, immutable: bool, config: Path | None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "wparchive", "serve", "--db", str(path), "--port", str(port)]
    command += ["--config", str(config)] if config else []
    server = subprocess.Popen(command + (["-i"] if immutable else []), stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            requests.get(base + "/-/versions.json", timeout=1)
            return server, base
        except requests.ConnectionError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("the server did not start")


def run_load(base: str, mix: dict, clients: int, duration: float, seed: int) -> tuple[dict, dict, float]:
    """Latencies (ms) and error counts per kind from clients threads over duration seconds, and the wall time."""
    latencies: dict[str, list[float]] = {kind: [] for kind in mix}
    errors: dict[str, int] = {kind: 0 for kind in mix}
    lock = threading.Lock()
    kinds = list(mix)
    start = threading.Event()

    def client(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        session = requests.Session()
        start.wait()
        deadline = time.perf_counter() + duration
        while time.perf_counter() < deadline:
            kind = rng.choice(kinds)
            url = base + mix[kind](rng)
            began = time.perf_counter()
            try:
                ok = session.get(url, timeout=60).status_code == 200
            except requests.RequestException:
                ok = False
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                latencies[kind].append(elapsed)
                errors[kind] += not ok

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    began = time.perf_counter()
    start.set()
    for thread in threads:
        thread.join()
    return latencies, errors, time.perf_counter() - began


def summary(latencies: dict[str, list[float]], errors: dict[str, int], wall: float) -> dict[str, tuple]:
    """Per kind and overall: requests, p50, p95, p99 (ms), errors, requests per second."""
    rows = {}
    everything = [v for values in latencies.values() for v in values]
    for kind, values in [*latencies.items(), ("overall", everything)]:
        count = len(values)
        errs = sum(errors.values()) if kind == "overall" else errors[kind]
        if not values:
            rows[kind] = (0, float("nan"), float("nan"), float("nan"), errs, 0.0)
            continue
        rows[kind] = (count, percentile(values, 0.5), percentile(values, 0.95), percentile(values, 0.99), errs,
                      count / wall)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--db", type=Path, help="An archive built by this script before (else one is built).")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=20.0, help="Seconds of load per run.")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--words", type=int, default=200, help="Words of each kind the searches draw from.")
    parser.add_argument("--mutable", action="store_true", help="Serve without -i (as while a harvest may run).")
    parser.add_argument("--config", type=Path, help="serve --config: a folder of metadata.yml and settings.json to try.")
    args = parser.parse_args()
    path = args.db
    if path is None or not path.exists():
        path = path or Path(tempfile.mkdtemp()) / "archive.db"
        started = time.perf_counter()
        build(path, args.posts)
        print(f"built {args.posts:,} posts in {time.perf_counter() - started:.0f}s at {path}", file=sys.stderr)
    import sqlite3

    with sqlite3.connect(path) as conn:
        posts = conn.execute("SELECT max(wp_id) FROM posts").fetchone()[0]
    mix = url_mix(path, posts, args.words)
    server, base = start_server(path, immutable=not args.mutable, config=args.config)
    try:
        warm = requests.Session()
        for make in mix.values():  # warm the page cache and every code path once
            warm.get(base + make(random.Random(0)), timeout=120)
        runs = []
        for run in range(args.runs):
            latencies, errors, wall = run_load(base, mix, args.clients, args.duration, seed=run)
            runs.append(summary(latencies, errors, wall))
            overall = runs[-1]["overall"]
            print(f"run {run + 1}: {overall[0]} requests, p50 {overall[1]:.0f} ms, p99 {overall[3]:.0f} ms, "
                  f"{overall[4]} errors", file=sys.stderr)
    finally:
        server.terminate()
        server.wait()
    rare, common = (len({make(random.Random(n)) for n in range(5000)}) for make in (mix["search rare"], mix["search common"]))
    print(f"{args.clients} clients, {args.duration:.0f} s, {posts:,} posts, serve{'' if args.mutable else ' -i'}, "
          f"searches among {rare} rare and {common} common words, medians of {args.runs} runs\n")
    print("| kind | requests | p50 ms | p95 ms | p99 ms | errors | req/s |\n|---|---|---|---|---|---|---|")
    for kind in [*mix, "overall"]:
        cells = [statistics.median([r[kind][i] for r in runs])
                 for i in range(6)]
        name = f"**{kind}**" if kind == "overall" else kind
        print(f"| {name} | {cells[0]:.0f} | {cells[1]:.0f} | {cells[2]:.0f} | {cells[3]:.0f} | {cells[4]:.0f} | "
              f"{cells[5]:.1f} |")


if __name__ == "__main__":
    main()
