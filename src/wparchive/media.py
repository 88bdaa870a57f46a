"""Downloading attachments and in-content images into a content-addressed folder (--media).

Files are named by the SHA-256 of their bytes, so the same image used by many posts is stored
once and a file's name proves its content. CDN resize parameters and WordPress's -300x200
size suffixes are taken off, so the original is kept where the site still has it.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Iterable, Iterator, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlite_utils.db import Database

from .client import Client
from .db import known_files, media_sources, save_file
from .errors import ArchiveUnavailable, FetchError, WPArchiveError
from .paths import FILE_PATH, MEDIA_EXTENSIONS
from .progress import Progress, SilentProgress
from .rows import utc_now

# Query parameters by which image CDNs (Jetpack's Photon, WordPress.com) resize on the fly.
CDN_PARAMETERS = frozenset({"w", "h", "resize", "fit", "crop", "zoom", "quality", "strip", "ssl", "lb", "ulb"})
_SIZE_SUFFIX = re.compile(r"-\d{2,5}x\d{2,5}(?=\.[A-Za-z0-9]{2,5}$)")
DEFAULT_MAX_BYTES = 50 * 1024 * 1024


@dataclass
class MediaCounts:
    """What a download pass did."""

    downloaded: int = 0
    already: int = 0
    failed: int = 0
    bytes: int = 0
    errors: list[str] = field(default_factory=list)


def candidate_urls(url: str) -> list[str]:
    """The URLs to try for a file, best first: the original, then the URL as found."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in CDN_PARAMETERS]
    path = _SIZE_SUFFIX.sub("", parts.path)
    original = urlunsplit(parts._replace(path=path, query=urlencode(query), fragment=""))
    return [original] if original == url else [original, url]


def download_media(db: Database, client: Client, site_id: int, directory: str | os.PathLike[str], *,
                   run_id: int | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
                   progress: Progress | None = None) -> MediaCounts:
    """Fetch every attachment and in-content image of a site not fetched before; failures are
    recorded in the files table and do not stop the pass. progress hears of one task, "media"."""
    progress = progress or SilentProgress()
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WPArchiveError(f"cannot create the media folder {folder}: {exc.strerror or exc}",
                             hint="Choose a folder you may write to with --media-dir.") from None
    counts = MediaCounts()
    have = known_files(db)
    sources = media_sources(db, site_id)
    progress.begin("media", len(sources))
    try:
        for url in sources:
            if url in have:
                counts.already += 1
            else:
                row = _fetch_one(client, url, folder, max_bytes)
                save_file(db, {**row, "site_id": site_id, "run_id": run_id, "fetched_at": utc_now()})
                if row["sha256"]:
                    counts.downloaded += 1
                    counts.bytes += cast(int, row["size"])
                else:
                    counts.failed += 1
                    counts.errors.append(f"{url}: {row['error']}")
            progress.advance(1)
    finally:
        progress.end("media")
    return counts


def _fetch_one(client: Client, url: str, folder: Path, max_bytes: int) -> dict[str, object]:
    error = ""
    for candidate in candidate_urls(url):
        try:
            response, chunks = client.stream(candidate)
        except FetchError as exc:
            error = str(exc)
            continue
        if response.status_code >= 400:
            response.close()
            error = f"HTTP {response.status_code}"
            continue
        declared = int(response.headers.get("Content-Length") or 0)
        if declared > max_bytes:
            response.close()
            return _failed(url, candidate, f"too large: {declared} bytes (limit {max_bytes})")
        try:
            sha256, size, temporary = _write_capped(chunks, folder, max_bytes)
        except _TooLarge:
            return _failed(url, candidate, f"too large: over {max_bytes} bytes")
        except FetchError as exc:  # the transfer broke off, or outlasted its deadline
            return _failed(url, candidate, str(exc))
        except OSError as exc:
            return _failed(url, candidate, f"cannot write: {exc}")
        finally:
            response.close()
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()[:255]
        target = folder / sha256[:2] / f"{sha256}{file_extension(content_type, candidate)}"
        try:
            target.parent.mkdir(exist_ok=True)
            os.replace(temporary, target)
        except OSError as exc:
            os.unlink(temporary)
            return _failed(url, candidate, f"cannot write: {exc}")
        return {"url": url, "fetched_url": candidate, "sha256": sha256, "size": size, "content_type": content_type,
                "path": target.relative_to(folder).as_posix(), "error": None}
    return _failed(url, url, error or "no URL to try")


def file_extension(content_type: str, url: str) -> str:
    """The extension a downloaded file is named with: the one its Content-Type stands for, else
    its URL's, when that is one of paths.MEDIA_EXTENSIONS; else none. Neither the server's words
    nor its URL become part of a path as they are."""
    kind = content_type.split(";")[0].strip().lower()
    if _MEDIA_TYPE.fullmatch(kind):
        guessed = (mimetypes.guess_extension(kind, strict=False) or "").lower()
        if guessed in MEDIA_EXTENSIONS:
            return guessed
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
    return suffix if suffix in MEDIA_EXTENSIONS else ""


_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


class _TooLarge(Exception):
    pass


def _write_capped(chunks: Iterator[bytes], folder: Path, max_bytes: int) -> tuple[str, int, str]:
    digest = hashlib.sha256()
    size = 0
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".partial-")
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise _TooLarge
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        os.unlink(temporary)
        raise
    return digest.hexdigest(), size, temporary


def _failed(url: str, candidate: str, error: str) -> dict[str, object]:
    return {"url": url, "fetched_url": candidate, "sha256": None, "size": None, "content_type": None,
            "path": None, "error": error}


def copy_files(paths: Iterable[str], source: Path, target: Path) -> int:
    """Copy downloaded files, named by their path in the files table, from another archive's media folder
    into this one's; how many were copied. Those already there (the same name is the same bytes), missing,
    or whose path is not a name this module gives (an archive's rows are no proof of anything) are not."""
    copied = 0
    for path in dict.fromkeys(paths):
        found, kept = source / path, target / path
        if (not re.fullmatch(FILE_PATH, path) or kept.exists() or not found.is_file()
                or not found.resolve().is_relative_to(source.resolve())):
            continue
        try:
            kept.parent.mkdir(parents=True, exist_ok=True)
            with found.open("rb") as original, tempfile.NamedTemporaryFile(dir=kept.parent, delete=False) as copy:
                shutil.copyfileobj(original, copy)
            os.replace(copy.name, kept)
        except OSError as exc:
            raise ArchiveUnavailable(f"cannot copy {found} to {kept}: {exc.strerror or exc}", hint=(
                "Check that the archive's media folder is writable and that the disk has room; the files "
                "merged so far are kept, and merging again copies the rest.")) from None
        copied += 1
    return copied
