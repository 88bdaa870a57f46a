"""Memory of a wparchive command's whole process tree (the command and its cleaning workers),
sampled from /proc while it runs: for the benchmarks in this folder.

Every 20 ms the tree is walked and each process's peak RSS so far (VmHWM, which a short spike
between two looks cannot escape) is kept; reported is the sum of those peaks over the command and
its children: an upper bound, as pages shared between them count in each, and the peaks need not
coincide.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

MB = 1024 * 1024


def tree(pid: int) -> list[int]:
    """A process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    ppid = int(stat.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def peak_rss(pid: int) -> int | None:
    """VmHWM of a process in bytes: its peak RSS so far."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def pss(pid: int) -> int | None:
    """Proportional set size of a process in bytes: its pages, those shared split between sharers."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


LAST_PSS_MB = 0.0  # the peak of the tree's summed PSS in the last run(), for the benchmarks that report it


def run(args: list[str]) -> tuple[float, float, int]:
    """Sum of peak RSS over the process tree (MB), wall time (s) and exit code of a wparchive command;
    the peak of the tree's summed PSS (what it really holds, shared pages counted once) is kept in
    LAST_PSS_MB."""
    global LAST_PSS_MB
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "wparchive", *args], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    peaks: dict[int, int] = {}
    peak_pss = 0
    while process.poll() is None:
        together = 0
        for pid in tree(process.pid):
            peak = peak_rss(pid)
            if peak is not None:
                peaks[pid] = max(peaks.get(pid, 0), peak)
            together += pss(pid) or 0
        peak_pss = max(peak_pss, together)
        time.sleep(0.02)
    LAST_PSS_MB = peak_pss / MB
    return sum(peaks.values()) / MB, time.monotonic() - started, process.returncode
