"""`make demo PORT=… SITE_PORT=…`, as the README gives it: the demo harvests and serves on the ports asked for."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(shutil.which("make") is None, reason="no make here")
def test_make_demo_takes_its_ports_from_make(tmp_path: Path) -> None:
    # The Makefile run in a folder of its own (the demo's archive is written where make runs), with
    # the virtualenv these tests run in: -o keeps make from installing it again.
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    venv = Path(sys.prefix)
    port, site_port = _free_port(), _free_port()
    demo = subprocess.Popen(["make", "demo", f"PORT={port}", f"SITE_PORT={site_port}", f"VENV={venv}",
                             "-o", str(venv / "bin" / ".installed")],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        lines = []
        while time.monotonic() < deadline:
            line = demo.stdout.readline() if demo.stdout else ""
            if not line:
                break
            lines.append(line)
            if line.startswith("Open "):
                break
        said = "".join(lines)
        assert f"Sample site running at http://127.0.0.1:{site_port}/" in said, said
        assert f"Open http://127.0.0.1:{port}/" in said, said
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=30).status_code == 200
        assert (tmp_path / "demo.db").exists()
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait()
