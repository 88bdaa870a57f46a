"""Memory of a wparchive command's whole process tree (the command and its cleaning workers),
sampled from /proc while it runs: for the benchmarks in this folder.

Every 20 ms the tree is walked and each process's peak RSS so far (VmHWM, which a short spike
between two looks cannot escape) is kept; reported is the sum of those peaks over the command and
its children: an upper bound, as pages shared between them count in each, and the peaks need not
coincide. Beside it, the peak over the samples of the processes' summed PSS, which counts a shared
page once: what the tree really holds.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from typing import Any, NamedTuple

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


def _proc_kb(path: str, field: str) -> int | None:
    """A "Field:   123 kB" line of a /proc file, in bytes; None when the process is gone."""
    try:
        with open(path) as lines:
            for line in lines:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_rss(pid: int) -> int | None:
    """VmHWM of a process in bytes: its peak RSS so far."""
    return _proc_kb(f"/proc/{pid}/status", "VmHWM:")


def pss(pid: int) -> int | None:
    """Proportional set size of a process in bytes: its pages, those shared split between sharers."""
    return _proc_kb(f"/proc/{pid}/smaps_rollup", "Pss:")


class Measured(NamedTuple):
    """A command's run: the sum of its processes' peak RSS and the peak of their summed PSS (MB),
    its wall time (s) and its exit code."""

    rss: float
    pss: float
    seconds: float
    code: int


def run(args: list[str]) -> Measured:
    """Run a wparchive command, sampling its process tree's memory until it ends."""
    return run_command([sys.executable, "-m", "wparchive", *args])


def run_command(argv: list[str], cwd: str | None = None, log: str | None = None) -> Measured:
    """Run any command (another tool, for comparison), sampling its process tree's memory until it
    ends; its output goes to the file `log`, or nowhere."""
    with open(log, "wb") if log else contextlib.nullcontext(subprocess.DEVNULL) as output:
        started = time.monotonic()
        return _measure(subprocess.Popen(argv, cwd=cwd, stdout=output, stderr=subprocess.STDOUT), started)


def _measure(process: subprocess.Popen[bytes], started: float) -> Measured:
    rss, peak_pss = sample_until_done([process])
    return Measured(rss, peak_pss, time.monotonic() - started, process.returncode)


def sample_until_done(processes: list[subprocess.Popen[Any]]) -> tuple[float, float]:
    """Sample the process trees of several commands together until all have ended: the sum of every
    process's peak RSS, and the peak of their summed PSS (MB)."""
    peaks: dict[int, int] = {}
    peak_pss = 0
    while any(process.poll() is None for process in processes):
        together = 0
        for process in processes:
            for pid in tree(process.pid):
                peak = peak_rss(pid)
                if peak is not None:
                    peaks[pid] = max(peaks.get(pid, 0), peak)
                together += pss(pid) or 0
        peak_pss = max(peak_pss, together)
        time.sleep(0.02)
    return sum(peaks.values()) / MB, peak_pss / MB
