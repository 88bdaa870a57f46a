"""One writer at a time per archive: an advisory lock beside the database file.

A harvest or a rebuild holds it alone (exclusive); `serve -i` shares it with other immutable
servers, so that no harvest changes a file Datasette was told cannot change.
"""

from __future__ import annotations

import errno
import fcntl
import os
from contextlib import contextmanager
from typing import Iterator

from ..errors import ArchiveUnavailable, DatabaseLocked

# What a lock file that cannot be made means, and what to do about it.
_CANNOT_LOCK_HINT = ("wparchive keeps a lock file beside the archive (and SQLite its -wal and -shm files): "
                     "the archive's folder must be writable, and ARCHIVE.lock must be free to be a file.")


@contextmanager
def archive_lock(db_path: str, *, shared: bool = False) -> Iterator[None]:
    """Hold the archive's lock, or raise DatabaseLocked at once if another process holds it.

    Exclusive (a harvest, a rebuild) unless shared (serve -i, which only reads). flock is
    released by the kernel when the holder dies, even by SIGKILL, so a crashed harvest never
    leaves a stale lock behind. ArchiveUnavailable when the lock file cannot be made, except
    for a shared lock on read-only storage, where nothing can write the archive anyway.
    """
    lock_path = db_path + ".lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        fd = _read_only(lock_path, exc) if shared else -1
        if fd == -1 and not (shared and exc.errno in (errno.EACCES, errno.EROFS, errno.EPERM)):
            if not os.path.isdir(os.path.dirname(os.path.abspath(db_path))):
                raise ArchiveUnavailable.opening(db_path, "") from None  # says that the folder does not exist
            raise ArchiveUnavailable(f"cannot lock {db_path}: {lock_path}: {exc.strerror or exc}",
                                     hint=_CANNOT_LOCK_HINT) from None
    if fd == -1:
        yield  # read-only storage without a lock file: no harvest can be writing there
        return
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _held(db_path, fd, shared) from None
        if not shared:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _read_only(lock_path: str, exc: OSError) -> int:
    """The lock file opened for reading (enough for a shared flock), or -1 when there is none to open."""
    if exc.errno not in (errno.EACCES, errno.EROFS, errno.EPERM):
        return -1
    try:
        return os.open(lock_path, os.O_RDONLY)
    except OSError:
        return -1


def _held(db_path: str, fd: int, shared: bool) -> DatabaseLocked:
    """Who holds the lock: a harvest (exclusive, its pid in the file) or immutable servers (shared)."""
    if shared:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        return DatabaseLocked(
            f"{db_path} is being harvested by another process (pid {holder}): serve -i needs an archive nothing writes",
            hint="Serve it without -i (Datasette then reads while the harvest writes), or once the harvest is done.")
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # granted only if the holders share it: immutable servers
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        return DatabaseLocked(f"{db_path} is being harvested by another process (pid {holder})")
    fcntl.flock(fd, fcntl.LOCK_UN)
    return DatabaseLocked(f"{db_path} is being served read-only by another process (wparchive serve -i)",
                          hint="Stop that server, or serve the archive without -i: Datasette then reads while a "
                               "harvest writes.")
