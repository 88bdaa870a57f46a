"""Serving an archive with Datasette, configured from config/ (metadata and settings)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from datasette.app import Datasette

from .db import checkpoint
from .errors import ConfigError, PortUnavailable
from .paths import config_dir, database_names
from .web.metadata import for_archives, read_metadata


def load_metadata(db_paths: str | list[str], directory: Path, *, base_url: str = "/") -> dict[str, Any]:
    """Datasette metadata from metadata.yml, its database key given to each served file's name
    (in the links of the description, the first's, which also get Datasette's base_url)."""
    paths = [db_paths] if isinstance(db_paths, str) else db_paths
    return for_archives(read_metadata(directory), database_names(paths), base_url=base_url)


def load_settings(directory: Path) -> dict[str, Any]:
    """Datasette settings from settings.json (none when the file is absent)."""
    path = directory / "settings.json"
    if not path.exists():
        return {}
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    return settings


def build_datasette(db_path: str | list[str], *, config: str | os.PathLike[str] | None = None,
                    immutable: bool = False, media_dir: str | os.PathLike[str] | None = None) -> Datasette:
    """A Datasette instance serving one archive or several with the project's metadata and settings,
    and the files --media downloaded from media_dir (for the first archive; default: beside each
    archive, as --media puts them). Its search page searches every archive served, as one.

    immutable: Datasette reads the files alone, without the WAL, so the WAL is checkpointed into
    each first; nothing may write the archives while they are served so (`serve -i` holds their locks).
    """
    paths = [db_path] if isinstance(db_path, str) else db_path
    directory = config_dir(config)
    settings = load_settings(directory)
    if immutable:
        for path in paths:
            checkpoint(path)
    files = {"immutables": paths} if immutable else {"files": paths}
    metadata = load_metadata(paths, directory, base_url=settings.get("base_url", "/"))
    if media_dir is not None:
        metadata.setdefault("plugins", {}).setdefault("wparchive", {})["media_dir"] = str(media_dir)
    return Datasette(metadata=metadata, settings=settings, **files)


def listen(port: int, host: str = "127.0.0.1", *, keep_free: tuple[int, ...] = ()) -> socket.socket:
    """A socket listening on host:port for run_server; PortUnavailable when it cannot be had (its
    hint names a free port, never one of keep_free: those the command is about to take itself)."""
    try:
        # Made by hand, as TCP (not create_server's protocol 0): asyncio then sets TCP_NODELAY on the
        # connections it accepts. Without it, each response after the first on a kept-alive connection
        # waited 40 ms for the client's delayed ACK of its headers (Nagle's algorithm) before its body went.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            if os.name != "nt":  # as create_server: a restart need not wait for TIME_WAIT to pass
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen()
        except OSError:
            sock.close()
            raise
        return sock
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise PortUnavailable(f"cannot listen on {host}:{port}: {reason}",
                              hint=port_hint(port, "--port", host, keep_free=keep_free)) from None


def port_hint(port: int, option: str, host: str = "127.0.0.1", *, keep_free: tuple[int, ...] = ()) -> str:
    """What to do about a port that cannot be had: choose another with option, such as the first
    free one after it (free when looked at, which is the best a suggestion can do)."""
    for candidate in [*range(port + 1, min(port + 100, 65536)), 0]:  # 0: any the system has free
        if candidate in keep_free:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                if os.name != "nt":  # as listen() binds
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, candidate))
            except OSError:
                continue
            return f"Choose another port with {option}: {probe.getsockname()[1]} is free, for one."
    return f"Choose another port with {option}."


def run_server(ds: Datasette, listening: socket.socket) -> None:
    """Serve on a listening socket until Ctrl-C, then return."""
    import asyncio

    import uvicorn

    asyncio.run(ds.invoke_startup())
    # The socket is ours, not uvicorn's: uvicorn.run() would log a port in use and exit 3 itself.
    server = uvicorn.Server(uvicorn.Config(ds.app(), log_level="warning"))
    try:
        server.run(sockets=[listening])
    except KeyboardInterrupt:
        pass  # Ctrl-C is how serving ends: uvicorn has shut down and raises it again for its caller
