"""Where wparchive's files are: the configuration folder, the media folder beside an archive, the
names of the WARC files a harvest writes, and the extensions its files may have.

A leaf module, so that serving and exporting an archive can find their files without loading
the harvester.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def config_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The configuration folder: the given one, $WPARCHIVE_CONFIG, or the bundled config/."""
    if explicit:
        return Path(explicit)
    if os.environ.get("WPARCHIVE_CONFIG"):
        return Path(os.environ["WPARCHIVE_CONFIG"])
    bundled = Path(__file__).parent / "_config"  # inside an installed wheel
    if bundled.is_dir():
        return bundled
    return Path(__file__).resolve().parents[2] / "config"  # a source checkout


def media_folder(db_path: str | os.PathLike[str], given: str | os.PathLike[str] | None = None) -> Path:
    """Where --media puts files: as given, else beside the archive (archive.db → archive-media)."""
    return Path(given) if given else Path(os.path.splitext(db_path)[0] + "-media")


def database_names(paths: list[str]) -> list[str]:
    """The names Datasette serves these archives under, in order: each file's name without its
    extension, made unique as Datasette makes it (archive, archive_2, …), so that `wparchive search`
    names the databases of its rows as `wparchive serve` does."""
    names: list[str] = []
    for path in paths:
        stem = name = Path(path).stem
        suffix = 2
        while name in names:
            name, suffix = f"{stem}_{suffix}", suffix + 1
        names.append(name)
    return names


def warc_prefix(site_url: str) -> str:
    """How the WARC files of a harvest of site_url are named (PREFIX-YYYYMMDDHHMMSS.warc.gz): by its
    host, so that a WACZ export finds a site's files among others in the same folder."""
    return f"wparchive-{urlsplit(site_url).hostname}"


_DEFAULT_PORTS = {"http": 80, "https": 443}


def site_url(url: str) -> str:
    """A site's URL as the job queue keeps it: scheme and host in lower case, the host without trailing dots,
    no default port, no empty query and no fragment, and / for no path; the path is kept as given. A URL
    that cannot be read (a bad port) is returned as it is, for url_problem to say what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme, host = parts.scheme.lower(), (parts.hostname or "").rstrip(".")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    userinfo = parts.netloc.rpartition("@")[0]  # kept, so that whoever refuses credentials still sees them
    return urlunsplit((scheme, f"{userinfo}@{netloc}" if userinfo else netloc, parts.path or "/", parts.query, ""))


def site_key(url: str) -> str:
    """What tells one site from another: its site_url without the scheme. http:// and https:// of one host
    and path are one site, since WordPress knows a site by one home URL and redirects the other scheme to
    it; they share one archive, and a worker's sites.toml gives either its options and credentials."""
    return site_url(url).partition("://")[2]


def site_archive(folder: str | os.PathLike[str], site_url_: str) -> Path:
    """The archive of one site in folder, as a queue worker writes it: FOLDER/<host>[_<port>][-<path>].db,
    the same for every URL of the site (see site_key: the scheme, a default port, a trailing dot, an empty
    query and a fragment make no other archive).

    The name is made of letters, digits, dots, hyphens and underscores only, starts with neither a dot
    nor a hyphen, and is at most about 120 characters long, so that no URL, however hostile, names a
    file outside folder or a hidden one. A URL with a path (or anything the name leaves out) gets a
    short hash of its site_key, so that two sites never share a file.
    """
    key = site_key(site_url_)
    parts = urlsplit(site_url(site_url_))
    host = _safe_name(parts.hostname or "", 60)
    try:
        port = parts.port
    except ValueError:  # a port that is no number: check_site_url refuses it, the hash tells it apart anyway
        port = None
    name = host + (f"_{port}" if port else "")
    rest = parts.path.strip("/") + (f"?{parts.query}" if parts.query else "")
    if rest or not host or host != (parts.hostname or ""):
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        name = "-".join(part for part in (name, _safe_name(rest, 40), digest) if part)
    return Path(folder) / f"{name}.db"


def _safe_name(text: str, length: int) -> str:
    """text as a part of a file name: runs of other characters become one hyphen; no leading dot or hyphen."""
    return re.sub(r"[^a-z0-9._]+", "-", text.lower())[:length].lstrip(".-").rstrip("-")


# The name media.py gives a file in the media folder: its SHA-256 in a folder of its first two digits,
# and an extension (none when the type is not one of MEDIA_EXTENSIONS, such as SVG).
FILE_PATH = r"[0-9a-f]{2}/[0-9a-f]{64}(?:\.[a-z0-9]{1,10})?"

# The extensions a downloaded media file may be named with: formats that browsers and site
# builders show, play or offer for download, and never run. HTML, SVG, XML, scripts and anything
# else are kept without one, so that a site cannot plant a page in an export's images/ folder
# by calling it an image.
MEDIA_EXTENSIONS = frozenset({
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".bmp", ".ico", ".tif", ".tiff", ".heic", ".heif", ".jxl",
    ".mp3", ".m4a", ".aac", ".oga", ".ogg", ".opus", ".wav", ".flac", ".mid", ".midi",
    ".mp4", ".m4v", ".mov", ".webm", ".ogv", ".avi", ".mkv", ".3gp", ".mpg", ".mpeg", ".wmv",
    ".pdf", ".txt", ".csv", ".rtf", ".epub", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".odt", ".ods",
    ".odp", ".key", ".pages", ".numbers", ".zip", ".gz", ".tgz", ".7z", ".rar", ".bz2", ".xz",
})
