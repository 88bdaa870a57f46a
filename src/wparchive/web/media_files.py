"""The files `--media` downloaded, served from the archive's media folder, so that a post's pictures
show even when the site is gone.

Only what media.py wrote is served: a name made of the SHA-256 of the bytes (the route admits no
other), recorded in the files table, found inside the media folder. The bytes came from the site and
are hostile: a file is sent as the type recorded only when that is an image, audio or video type,
else as a download; never sniffed; under a policy that lets nothing in it run (an SVG's scripts, an
HTML page called an image).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from datasette.utils.asgi import AsgiFileDownload, Response

from ..db.queries import FILE_TYPE_SQL, POST_FILES_SQL
from ..paths import FILE_PATH, media_folder
from .access import asked_database

# Types a browser shows in a page without running anything: as served, inline. SVG can hold scripts,
# which the policy below (a sandbox, no script source) keeps from running, even when opened alone.
_INLINE_TYPE = re.compile(
    r"image/(?:png|jpeg|gif|webp|avif|bmp|x-icon|vnd\.microsoft\.icon|svg\+xml)|(?:audio|video)/[a-z0-9.+-]{1,60}")
HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    "cache-control": "public, max-age=31536000, immutable",  # a name that is a hash of the bytes never changes
}


def media_dir(datasette: Any, database: Any) -> Path | None:
    """The media folder of an archive served: for the first served, the plugin's media_dir setting if
    it has one; else beside the archive."""
    config = datasette.plugin_config("wparchive") or {}
    if config.get("media_dir") and database.name == datasette.get_database().name:
        return Path(config["media_dir"])
    return media_folder(database.path) if database.path else None


def _stored(folder: Path, path: str) -> Path | None:
    """The file at path inside folder, if it is there and inside it (a link cannot lead out)."""
    target = folder / path
    try:
        if target.is_file() and target.resolve().is_relative_to(folder.resolve()):
            return target
    except OSError:
        pass
    return None


async def archived_files(datasette: Any, database: Any, key: str, file_url: Any) -> dict[str, str]:
    """The images and attachments of a post of database whose files are in its media folder: original
    URL → the address they are served at (file_url of their path)."""
    folder = media_dir(datasette, database)
    if folder is None or not folder.is_dir():
        return {}
    try:
        rows = (await database.execute(POST_FILES_SQL, {"key": key})).rows
    except sqlite3.OperationalError:  # an archive from before --media kept its files table
        return {}
    return {row["url"]: file_url(row["path"]) for row in rows
            if isinstance(row["path"], str) and re.fullmatch(FILE_PATH, row["path"]) and _stored(folder, row["path"])}


async def media_file(request: Any, datasette: Any) -> Any:
    """/-/wparchive/media/<path>: a file of the media folder (of the first archive served, or of the one
    ?database= names), as the files table records it; 404 when no database is served by that name,
    403 when the reader may not see its files table."""
    path = request.url_vars["path"]
    database = await asked_database(request, datasette, "files")
    folder = media_dir(datasette, database)
    try:
        found = (await database.execute(FILE_TYPE_SQL, {"path": path})).first()
    except sqlite3.OperationalError:
        found = None
    stored = _stored(folder, path) if folder is not None and found is not None else None
    if stored is None:
        return Response.text("No such file in this archive's media folder", status=404)
    recorded = (found["content_type"] or "").split(";")[0].strip().lower()
    inline = bool(_INLINE_TYPE.fullmatch(recorded))
    headers = {**HEADERS, "content-disposition": f'{"inline" if inline else "attachment"}; filename="{stored.name}"'}
    return AsgiFileDownload(stored, content_type=recorded if inline else "application/octet-stream", headers=headers)
