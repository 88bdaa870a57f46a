"""A real WordPress on loopback: Debian's wordpress package, MariaDB on a private socket, `php -S`.

Nothing is fetched but Debian packages. WordPress is unpacked from its .deb with dpkg-deb (no
apache pulled in) and cached between runs; each session copies the tree, writes its own
wp-config.php, installs with wp_install(), and loads a WXR file with a loader of ours, or starts
empty and imports one with the official WordPress Importer (../shared/tools/wordpress-importer).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from shared_fixtures import WORDPRESS_IMPORTER

PHP_DIR = Path(__file__).parent / "php"
MU_PLUGINS = PHP_DIR / "mu-plugins"
APT_PACKAGES = ["php-cli", "php-mysql", "php-xml", "php-mbstring", "mariadb-server"]
PHP_MODULES = {"mysqli", "SimpleXML", "mbstring"}
GETID3 = Path("/usr/share/php/getid3/getid3.php")
# Where Debian installs WordPress: its package links some files to other packages relative to it.
DEBIAN_WORDPRESS = Path("/usr/share/wordpress")
PRETTY = "/%year%/%monthnum%/%postname%/"


class Unavailable(Exception):
    """The harness cannot run here; the message is the reason to skip."""


class ImportFailed(RuntimeError):
    """The WordPress Importer gave up on a file; the message holds what it said."""


@dataclass
class WXRImport:
    """What the official importer did: its counts (published posts, pages, approved comments) and messages."""

    counts: dict[str, int]
    messages: list[str]
    # What it left out, one line each: "Failed to import Media “…”: …", "Post “…” already exists."
    failed: list[str] = field(default_factory=list)


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


def _relink(root: Path) -> None:
    """Point the tree's relative links into other Debian packages (../../../php/getid3/…) where they lead
    from Debian's own WordPress folder: copied elsewhere, they would lead nowhere."""
    for link in root.rglob("*"):
        if not link.is_symlink() or link.exists():
            continue
        target = Path(os.readlink(link))
        if target.is_absolute():
            continue
        installed = Path(os.path.normpath(DEBIAN_WORDPRESS / link.parent.relative_to(root) / target))
        if installed.exists():
            link.unlink()
            link.symlink_to(installed)


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

    def start(self, *, empty: bool = False) -> "RealWordPress":
        """Install and serve WordPress; empty takes away the sample post, page and comment it installs with."""
        ensure_system_packages()
        started = time.monotonic()
        shutil.copytree(wordpress_tree(), self.root, symlinks=True)
        _relink(self.root)
        shutil.copytree(PHP_DIR / "theme", self.root / "wp-content" / "themes" / "wparchive-test")
        self._write_config()
        self._start_mariadb()
        self.php("install.php", self.title)
        if empty:
            self.php("empty.php")
        self._start_php_server()
        self.timings["start"] = time.monotonic() - started
        return self

    def load_wxr(self, path: Path) -> dict[str, Any]:
        started = time.monotonic()
        made = self.php("load_wxr.php", str(path))
        self.timings["load_wxr"] = time.monotonic() - started
        return made

    def export_wxr(self, path: Path) -> dict[str, Any]:
        """WordPress's own export of all content (Tools → Export) written to path."""
        started = time.monotonic()
        made = self.php("export_wxr.php", str(path))
        self.timings["export_wxr"] = time.monotonic() - started
        return made

    def provide_attachment_files(self) -> int:
        """A placeholder file for each attachment whose file is missing, so that an importer can fetch it."""
        return int(self.php("attachment_files.php")["written"])

    def install_mu_plugin(self, name: str) -> None:
        """Copy one of the harness's must-use plugins (php/mu-plugins/NAME.php) into this WordPress."""
        target = self.root / "wp-content" / "mu-plugins"
        target.mkdir(exist_ok=True)
        shutil.copy(MU_PLUGINS / f"{name}.php", target / f"{name}.php")

    def import_wxr(self, path: Path, *, fetch_attachments: bool = True, assign_authors: bool = True,
                   importer: Path = WORDPRESS_IMPORTER) -> WXRImport:
        """Import a WXR file with the official WordPress Importer, as `wp import` drives it.

        fetch_attachments downloads each attachment from the URL in the file (loopback ports
        allowed by a must-use plugin). assign_authors answers the importer's author form as its
        defaults do (each author keeps or becomes a user of their login); without it every item
        goes to the importing administrator. Raises ImportFailed when the importer gives up.
        """
        if not importer.exists():
            raise Unavailable(f"{importer} is not available")
        self.install_mu_plugin("import_debug")
        if fetch_attachments:
            # Debian's WordPress links wp-includes/ID3 to php-getid3, with which it reads the metadata
            # of audio and video as they are added.
            ensure_debian_packages(["php-getid3"], GETID3.exists)
            _relink(self.root)
            self.install_mu_plugin("allow_loopback")
        if assign_authors:
            self.install_mu_plugin("import_authors")
        args = ["php", "-d", "memory_limit=512M", str(importer), f"127.0.0.1:{self.port}", str(path)]
        if fetch_attachments:
            args.append("--fetch-attachments")
        started = time.monotonic()
        result = subprocess.run(args, cwd=self.root, capture_output=True, text=True, timeout=900)
        self.timings["import_wxr"] = time.monotonic() - started
        lines = result.stdout.splitlines()
        counts = [line for line in lines if line.startswith("{")]
        messages = [line.strip() for line in lines if line.strip() and not line.startswith("{")]
        if result.returncode != 0 or not counts or any("there has been an error" in m for m in messages):
            said = "\n".join(messages)[-3000:]
            raise ImportFailed(f"the WordPress Importer failed on {path} ({result.returncode}): {said} "
                               f"{result.stderr[-2000:]}")
        failed = [m for m in messages if m.startswith("Failed to") or m.endswith("already exists.")
                  or m.startswith("Menu item skipped")]
        return WXRImport(json.loads(counts[-1]), messages, failed)

    def app_password(self) -> tuple[str, str]:
        """A new application password for the administrator: (user name, password)."""
        made = self.php("app_password.php")
        return made["user"], made["password"]

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
