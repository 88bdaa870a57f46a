"""wparchive beside other REST harvesters from the package index, on the same loopback server.

    PYTHONPATH=src python bench/peers.py                    # 2,000 synthetic posts and the sample site, 3 runs
    PYTHONPATH=src python bench/peers.py --posts 500 --runs 1 --sites synthetic

Each peer is installed, at a pinned version, into a virtualenv of its own under
~/.cache/wparchive-bench/peers/NAME (made once, reused). Then, on each site, each tool runs in turn
from an empty folder, every run of every tool against the same server:
- wall time (median of the runs) and peak memory of the tool's process tree (bench/proctree.py;
  for a tool of two steps, the larger of the two);
- requests the server answered during the run (counted by the server);
- what the tool ended with in its own output (files or archive.db): posts, pages, comments,
  users, categories, tags, media, beside what the server holds (its X-WP-Total for each).
Every tool is pointed at 127.0.0.1 only; none is asked to download media files.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import requests

sys.path.insert(0, str(Path(__file__).parent))
from proctree import Measured, run_command  # noqa: E402
from synthetic import SyntheticSite, serve  # noqa: E402

CACHE = Path.home() / ".cache" / "wparchive-bench" / "peers"
KINDS = ("posts", "pages", "comments", "users", "categories", "tags", "media")
PINNED = {"wpextract": "1.1.1", "wparc": "1.0.8", "wpget": "0.1.5"}

Counts = dict[str, int | None]  # kind → items the tool kept; None: a kind it does not fetch


class Target(NamedTuple):
    """A site being served: its home URL, the server's request log, and how many of each kind it holds."""

    kind: str  # "synthetic" or "sample"
    name: str
    home: str
    log: list[str]
    holds: Counts


class Peer(NamedTuple):
    """A harvester: the commands of one run (into an empty folder) and how to count its output."""

    name: str
    commands: Callable[[Target, Path], list[list[str]]]
    counted: Callable[[Target, Path], Counts]
    sites: tuple[str, ...] = ("synthetic", "sample")


def program(name: str, command: str = "") -> str:
    """A command of a peer's own virtualenv (by default the one named after it)."""
    return str(CACHE / name / "bin" / (command or name))


def install(name: str) -> None:
    """Make a peer's virtualenv with its pinned version, unless it is there already."""
    python = CACHE / name / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(CACHE / name)], check=True)
    if installed(python, name) != PINNED[name]:
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"{name}=={PINNED[name]}"], check=True)


def installed(python: Path, name: str) -> str:
    """The version of a distribution in a virtualenv ("" when absent)."""
    found = subprocess.run([str(python), "-c", f"import importlib.metadata as m; print(m.version({name!r}))"],
                           capture_output=True, text=True)
    return found.stdout.strip()


def json_items(path: Path) -> int | None:
    """Items in a JSON list file, or in a JSON-lines file; None when the tool wrote no such file."""
    if not path.exists():
        return None
    if path.suffix == ".jsonl":
        return sum(1 for line in path.open(encoding="utf-8") if line.strip())
    data = json.loads(path.read_text(encoding="utf-8"))
    return len(data)


def count_wparchive(target: Target, out: Path) -> Counts:
    """Live rows of archive.db, by kind."""
    db = sqlite3.connect(out / "archive.db")
    one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    counts: Counts = {
        "posts": one("select count(*) from posts where type = 'post'"),
        "pages": one("select count(*) from posts where type = 'page'"),
        "comments": one("select count(*) from comments"),
        "users": one("select count(*) from users"),
        "categories": one("select count(*) from terms where taxonomy = 'category'"),
        "tags": one("select count(*) from terms where taxonomy = 'post_tag'"),
        "media": one("select count(*) from media"),
    }
    db.close()
    return counts


def wparchive_commands(target: Target, out: Path) -> list[list[str]]:
    return [[sys.executable, "-m", "wparchive", "harvest", target.home + "/", "--db", str(out / "archive.db"),
             "--delay", "0", "--quiet"]]


def wpextract_commands(target: Target, out: Path) -> list[list[str]]:
    # No --media-dest: media metadata only, no files. extract reads the downloaded JSON offline.
    tool = program("wpextract")
    return [[tool, "download", target.home + "/", str(out / "json"), "--log", str(out / "download.log")],
            [tool, "extract", str(out / "json"), str(out / "dataset"), "--log", str(out / "extract.log")]]


def count_wpextract(target: Target, out: Path) -> Counts:
    """Rows of the dataset `extract` wrote; comments are not among the types it downloads."""
    counts = {kind: json_items(out / "dataset" / f"{kind}.json") for kind in KINDS}
    counts["comments"] = None
    return counts


def wparc_commands(target: Target, out: Path) -> list[list[str]]:
    # `wparc dump` refuses a host with a port (its domain check allows a bare name or address),
    # so its crawl function is called as the command calls it, over plain HTTP.
    host = urlsplit(target.home).netloc
    call = f"from wparc.wpapi.dump import collect_data; collect_data({host!r}, force_https=False)"
    return [[program("wparc", "python"), "-c", call]]


def count_wparc(target: Target, out: Path) -> Counts:
    """Lines of the JSON-lines file it wrote for each route."""
    data = out / urlsplit(target.home).netloc / "data"
    return {kind: json_items(data / f"wp_v2_{kind}.jsonl") for kind in KINDS}


def wpget_commands(target: Target, out: Path) -> list[list[str]]:
    return [[program("wpget"), "--url", target.home + "/", "--output", str(out / "posts.jsonl")]]


def count_wpget(target: Target, out: Path) -> Counts:
    """Posts only: it fetches nothing else."""
    return {kind: json_items(out / "posts.jsonl") if kind == "posts" else None for kind in KINDS}


PEERS = [
    Peer("wparchive", wparchive_commands, count_wparchive),
    Peer("wpextract", wpextract_commands, count_wpextract),
    Peer("wparc", wparc_commands, count_wparc),
    # It asks for the number of pages with a HEAD request, which the sample site's server does not answer.
    Peer("wpget", wpget_commands, count_wpget, sites=("synthetic",)),
]


def holdings(home: str) -> Counts:
    """How many items of each kind the server announces (X-WP-Total of a one-item page)."""
    session = requests.Session()
    return {kind: int(session.get(f"{home}/wp-json/wp/v2/{kind}", params={"per_page": 1}).headers["X-WP-Total"])
            for kind in KINDS}


@contextmanager
def synthetic_target(posts: int) -> Iterator[Target]:
    server, log = serve(SyntheticSite(posts))
    home = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield Target("synthetic", f"synthetic site, {posts:,} posts", home, log, holdings(home))
    finally:
        server.shutdown()


@contextmanager
def sample_target() -> Iterator[Target]:
    from wparchive.sample.content import sample_site
    from wparchive.sample.server import WordPressServer

    site = sample_site()
    with WordPressServer(site) as server:
        # As WordPress does, its X-WP-Total of comments counts those on drafts and on private and
        # password-protected posts, which it then leaves out of the pages: held is what is served.
        holds = holdings(server.home) | {"comments": len(site.public_comments())}
        yield Target("sample", "the sample site", server.home, server.requests, holds)


def run_peer(peer: Peer, target: Target, folder: Path) -> tuple[Measured, int, Counts]:
    """One run of a peer into an empty folder: its measure (seconds summed over its commands, the
    largest peak memory), the requests the server saw, and what it kept."""
    folder.mkdir(parents=True)
    before = len(target.log)
    seconds, rss, pss = 0.0, 0.0, 0.0
    for step, argv in enumerate(peer.commands(target, folder)):
        measured = run_command(argv, cwd=str(folder), log=str(folder / f"output-{step}.txt"))
        if measured.code != 0:
            raise SystemExit(f"{peer.name} exited {measured.code}: see {folder}/output-{step}.txt")
        seconds += measured.seconds
        rss, pss = max(rss, measured.rss), max(pss, measured.pss)
    return Measured(rss, pss, seconds, 0), len(target.log) - before, peer.counted(target, folder)


def cell(kept: int | None, held: int | None) -> str:
    if kept is None:
        return "–"
    return f"{kept:,}" if kept == held else f"**{kept:,}**"


def table(target: Target, runs: int, folder: Path) -> None:
    peers = [peer for peer in PEERS if target.kind in peer.sites]
    results: dict[str, list[tuple[Measured, int, Counts]]] = {peer.name: [] for peer in peers}
    for run in range(runs):
        for peer in peers:  # interleaved, so that the machine's noise falls on every tool alike
            results[peer.name].append(run_peer(peer, target, folder / target.kind / peer.name / str(run)))
    print(f"\n{target.name} ({target.home}/), median of {runs} run{'s' * (runs > 1)}:\n")
    print("| tool | wall time, s | requests | peak RSS of the tree, MB | peak PSS of the tree, MB | "
          + " | ".join(KINDS) + " |")
    print("|---" * (5 + len(KINDS)) + "|")
    print("| the server holds | | | | | " + " | ".join(f"{target.holds[kind]:,}" for kind in KINDS) + " |")
    for peer in peers:
        measured = [m for m, _, _ in results[peer.name]]
        requests_made, counts = results[peer.name][-1][1:]
        print(f"| {peer.name} | {statistics.median(m.seconds for m in measured):.1f} | {requests_made:,} | "
              f"{statistics.median(m.rss for m in measured):.0f} | {statistics.median(m.pss for m in measured):.0f} | "
              + " | ".join(cell(counts[kind], target.holds[kind]) for kind in KINDS) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=2000, help="posts of the synthetic site")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sites", nargs="+", choices=["synthetic", "sample"], default=["synthetic", "sample"])
    args = parser.parse_args()
    for name in PINNED:
        install(name)
        print(f"{name}=={installed(CACHE / name / 'bin' / 'python', name)} in {CACHE / name}")
    folder = Path(tempfile.mkdtemp(prefix="peers-"))
    print(f"outputs in {folder}; bold: a count that differs from what the server holds; –: a kind the tool does not fetch")
    for site in args.sites:
        with synthetic_target(args.posts) if site == "synthetic" else sample_target() as target:
            table(target, args.runs, folder)


if __name__ == "__main__":
    main()
