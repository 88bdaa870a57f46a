"""One harvest at a time per archive: an advisory lock beside the database file."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from typing import Iterator

from ..errors import DatabaseLocked


@contextmanager
def archive_lock(db_path: str) -> Iterator[None]:
    """Hold the archive's lock, or raise DatabaseLocked at once if another process has it.

    flock is released by the kernel when the holder dies, even by SIGKILL, so a crashed
    harvest never leaves a stale lock behind.
    """
    lock_path = db_path + ".lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise DatabaseLocked(f"{db_path} is being harvested by another process (pid {holder})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock
