"""A real WordPress on loopback: Debian's wordpress package, MariaDB on a private socket, `php -S`.

Nothing is fetched but Debian packages. WordPress is unpacked from its .deb with dpkg-deb (no
apache pulled in) and cached between runs; each session copies the tree, writes its own
wp-config.php, installs with wp_install(), and loads a WXR file with a loader of ours.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

PHP_DIR = Path(__file__).parent / "php"
APT_PACKAGES = ["php-cli", "php-mysql", "php-xml", "php-mbstring", "mariadb-server"]
PHP_MODULES = {"mysqli", "SimpleXML", "mbstring"}
PRETTY = "/%year%/%monthnum%/%postname%/"


class Unavailable(Exception):
    """The harness cannot run here; the message is the reason to skip."""


def cache_dir() -> Path:
    """Where the unpacked WordPress package is kept between runs."""
    base = os.environ.get("WPARCHIVE_TEST_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "wparchive-tests")
    return Path(base)


def _signal_group(process: subprocess.Popen[bytes], number: int) -> None:
    """Send a signal to the process group a server leads (started with start_new_session)."""
    try:
        os.killpg(process.pid, number)
    except ProcessLookupError:
        pass  # the whole group has ended


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


def _php_has_modules() -> bool:
    if not shutil.which("php"):
        return False
    modules = set(_run(["php", "-m"]).stdout.split())
    return PHP_MODULES <= modules


def _mariadb_ready() -> bool:
    return bool(shutil.which("mariadbd") or os.path.exists("/usr/sbin/mariadbd")) and bool(
        shutil.which("mariadb-install-db"))


def ensure_debian_packages(packages: list[str], present: Callable[[], bool]) -> None:
    """Install Debian packages when present() says they are missing (as root); else explain why not."""
    if present():
        return
    if os.geteuid() != 0:
        raise Unavailable(f"needs {' '.join(packages)} installed, or root to install them")
    if not shutil.which("apt-get"):
        raise Unavailable(f"needs apt-get to install {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        _run(["apt-get", "update", "-qq"], env=env, timeout=600)
        _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env=env, timeout=1200)
    except subprocess.CalledProcessError as exc:
        raise Unavailable(f"apt-get failed: {exc.stderr.strip()[-500:]}") from exc
    if not present():
        raise Unavailable(f"{' '.join(packages)} still missing after apt-get install")


def ensure_system_packages() -> None:
    """PHP and MariaDB for the real WordPress."""
    ensure_debian_packages(APT_PACKAGES, lambda: _php_has_modules() and _mariadb_ready())


def wordpress_tree() -> Path:
    """Debian's WordPress unpacked from its .deb (downloaded once, then cached)."""
    cache = cache_dir()
    tree = cache / "wordpress" / "usr" / "share" / "wordpress"
    if (tree / "wp-settings.php").exists():
        return tree
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise Unavailable("needs apt-get and dpkg-deb to fetch Debian's wordpress package")
    download = cache / "download"
    shutil.rmtree(download, ignore_errors=True)
    download.mkdir(parents=True)
    try:
        try:
            _run(["apt-get", "download", "wordpress"], cwd=download, timeout=600)
        except subprocess.CalledProcessError:
            _run(["apt-get", "update", "-qq"], timeout=600)
            _run(["apt-get", "download", "wordpress"], cwd=download, timeout=600)
    except (subprocess.CalledProcessError, PermissionError) as exc:
        raise Unavailable(f"apt-get download wordpress failed: {getattr(exc, 'stderr', exc)}") from exc
    deb = next(download.glob("wordpress_*.deb"))
    unpacked = cache / "wordpress.partial"
    shutil.rmtree(unpacked, ignore_errors=True)
    _run(["dpkg-deb", "-x", str(deb), str(unpacked)])
    shutil.rmtree(cache / "wordpress", ignore_errors=True)
    unpacked.rename(cache / "wordpress")
    (cache / "wordpress" / "VERSION").write_text(deb.name)
    return tree


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(check: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f}s")


class RealWordPress:
    """One WordPress site on 127.0.0.1 with its own MariaDB; start(), then stop()."""

    def __init__(self, workdir: Path, title: str = "Theme Unit Test") -> None:
        self.workdir = workdir
        self.title = title
        self.root = workdir / "wordpress"
        self.socket = workdir / "mysql.sock"
        self.port = free_port()
        self.home = f"http://127.0.0.1:{self.port}"
        self._processes: list[subprocess.Popen[bytes]] = []
        self.timings: dict[str, float] = {}

    def start(self) -> "RealWordPress":
        ensure_system_packages()
        started = time.monotonic()
        shutil.copytree(wordpress_tree(), self.root, symlinks=True)
        shutil.copytree(PHP_DIR / "theme", self.root / "wp-content" / "themes" / "wparchive-test")
        self._write_config()
        self._start_mariadb()
        self.php("install.php", self.title)
        self._start_php_server()
        self.timings["start"] = time.monotonic() - started
        return self

    def load_wxr(self, path: Path) -> dict[str, Any]:
        started = time.monotonic()
        made = self.php("load_wxr.php", str(path))
        self.timings["load_wxr"] = time.monotonic() - started
        return made

    def set_permalinks(self, mode: str) -> None:
        """pretty: /%year%/%monthnum%/%postname%/ and /wp-json/; plain: ?p=ID and ?rest_route= only."""
        self.php("permalinks.php", PRETTY if mode == "pretty" else "")

    def witness(self) -> dict[str, Any]:
        return self.php("witness.php")

    def php(self, script: str, *args: str) -> dict[str, Any]:
        """Run one of the harness's PHP scripts against this WordPress; returns its JSON output."""
        result = subprocess.run(
            ["php", "-d", "memory_limit=512M", str(PHP_DIR / script), str(self.root), *args],
            capture_output=True, text=True, timeout=600,
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
        if result.returncode != 0 or not lines:
            raise RuntimeError(f"php {script} failed ({result.returncode}): {result.stdout[-2000:]} {result.stderr[-2000:]}")
        return json.loads(lines[-1])

    def stop(self) -> None:
        for process in reversed(self._processes):
            # Each server leads a process group of its own: `php -S` forks PHP_CLI_SERVER_WORKERS
            # workers, which a signal to it alone left running after the tests.
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
            _signal_group(process, signal.SIGKILL)  # what of the group outlived its leader
        self._processes.clear()

    def _write_config(self) -> None:
        config = f"""<?php
define('DB_NAME', 'wordpress');
define('DB_USER', 'root');
define('DB_PASSWORD', '');
define('DB_HOST', 'localhost:{self.socket}');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
define('WP_HOME', '{self.home}');
define('WP_SITEURL', '{self.home}');
define('WP_ENVIRONMENT_TYPE', 'local');
define('DISABLE_WP_CRON', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_DEBUG', false);
$table_prefix = 'wp_';
if (!defined('ABSPATH')) {{
    define('ABSPATH', __DIR__ . '/');
}}
require_once ABSPATH . 'wp-settings.php';
"""
        (self.root / "wp-config.php").write_text(config)

    def _start_mariadb(self) -> None:
        data = self.workdir / "mysql"
        mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        _run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
              "--auth-root-authentication-method=normal", "--skip-test-db"], timeout=300)
        log = open(self.workdir / "mariadb.log", "wb")
        self._processes.append(subprocess.Popen(
            [mariadbd, "--no-defaults", f"--datadir={data}", f"--socket={self.socket}", "--skip-networking",
             "--user=root", f"--pid-file={self.workdir / 'mariadb.pid'}", "--innodb-buffer-pool-size=64M"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        ))
        _wait_for(self._mariadb_answers, "MariaDB")
        _run(["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot",
              "-e", "CREATE DATABASE wordpress CHARACTER SET utf8mb4"])

    def _mariadb_answers(self) -> bool:
        if not self.socket.exists():
            return False
        return subprocess.run(["mariadb-admin", "--no-defaults", f"--socket={self.socket}", "-uroot", "ping"],
                              capture_output=True).returncode == 0

    def _start_php_server(self) -> None:
        log = open(self.workdir / "php-server.log", "wb")
        self._processes.append(subprocess.Popen(
            ["php", "-S", f"127.0.0.1:{self.port}", "-t", str(self.root), str(PHP_DIR / "router.php")],
            cwd=self.root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PHP_CLI_SERVER_WORKERS": "2"},
        ))

        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return False

        _wait_for(answers, "php -S")
