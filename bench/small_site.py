"""A small real site: a fresh harvest beside a plain fetch of its collection pages, in one run.

    python bench/small_site.py               # starts a real WordPress (tests/integration/harness.py)
    python bench/small_site.py --runs 5

The theme-unit-test data loaded into Debian's WordPress on 127.0.0.1 (php -S, two workers, its own
MariaDB), as the integration tests run it. Each figure is a whole process, started fresh, median
of the runs, the commands taking turns:

- plain fetch: a Python process that reads the REST index and then every page (100 items a page)
  of each collection wparchive harvests anonymously (posts, pages, media, comments, categories,
  tags, users), decoding the JSON and nothing else: the floor of a harvest;
- fresh harvest: `wparchive harvest URL --delay 0 -q` into a new archive (no collection of this
  site is large enough for the cleaning workers: cleaned in the harvest's own process, its
  language model loading in a thread while the first pages download); and the same with
  `--workers 1`, which must take as long;
- no-change harvest: the same again into that archive;
- `wparchive --help`.

Requests are counted in the server's own log.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "integration"), str(ROOT / "tests")]

COLLECTIONS = ("posts", "pages", "media", "comments", "categories", "tags", "users")


def plain_fetch(home: str) -> None:
    """The floor, run in a process of its own (`--plain-fetch URL`)."""
    import requests

    session = requests.Session()
    # plain permalinks, as the site is installed: the API answers at ?rest_route=
    session.get(home + "/", params={"rest_route": "/"}, timeout=30).json()
    for collection in COLLECTIONS:
        page = pages = 1
        while page <= pages:
            response = session.get(home + "/", params={"rest_route": f"/wp/v2/{collection}", "per_page": 100,
                                                       "page": page}, timeout=30)
            response.json()
            pages = int(response.headers.get("X-WP-TotalPages", 1))
            page += 1


def timed(args: list[str], log: Path) -> tuple[float, int]:
    """Wall seconds of a command, and the requests the server logged meanwhile."""
    before = _requests_logged(log)
    started = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    time.sleep(0.2)  # the server writes its log line after the response
    return seconds, _requests_logged(log) - before


def _requests_logged(log: Path) -> int:
    # php -S serves one request a connection and logs connections, not requests
    lines = log.read_text(errors="replace").splitlines()
    return sum(line.endswith(" Accepted") for line in lines) - sum("Closed without sending" in line for line in lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--plain-fetch", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_fetch:
        plain_fetch(args.plain_fetch)
        return

    from harness import RealWordPress
    from shared_fixtures import WPTT

    workdir = Path(tempfile.mkdtemp())
    site = RealWordPress(workdir)
    try:
        site.start()
        site.load_wxr(WPTT / "themeunittestdata.wordpress.xml")
        log = workdir / "php-server.log"
        wparchive = [sys.executable, "-m", "wparchive"]
        commands = {
            "plain fetch": lambda run: [sys.executable, __file__, "--plain-fetch", site.home],
            "fresh harvest": lambda run: [*wparchive, "harvest", site.home + "/", "--db", str(workdir / f"{run}.db"),
                                          "--delay", "0", "-q"],
            "fresh harvest, --workers 1": lambda run: [*wparchive, "harvest", site.home + "/", "--db",
                                                       str(workdir / f"{run}-1.db"), "--delay", "0", "-q",
                                                       "--workers", "1"],
            "no-change harvest": lambda run: [*wparchive, "harvest", site.home + "/", "--db",
                                              str(workdir / f"{run}.db"), "--delay", "0", "-q"],
            "wparchive --help": lambda run: [*wparchive, "--help"],
        }
        timed(commands["plain fetch"](0), log)  # WordPress's caches warm, as for every run after
        figures: dict[str, list[tuple[float, int]]] = {name: [] for name in commands}
        for run in range(args.runs):
            for name, command in commands.items():
                figures[name].append(timed(command(run), log))
        floor = statistics.median(seconds for seconds, _ in figures["plain fetch"])
        print(f"{args.runs} runs each, taking turns; medians\n")
        print("| command | seconds | × plain fetch | requests |")
        print("|---|---|---|---|")
        for name, runs in figures.items():
            seconds = statistics.median(s for s, _ in runs)
            requests = statistics.median(r for _, r in runs)
            print(f"| {name} | {seconds:.2f} | {seconds / floor:.2f} | {requests:.0f} |")
    finally:
        site.stop()


if __name__ == "__main__":
    main()
