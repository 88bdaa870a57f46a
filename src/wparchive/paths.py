"""Where wparchive's files are: the configuration folder, the media folder beside an archive, the
names of the WARC files a harvest writes, and the extensions its files may have.

A leaf module, so that serving and exporting an archive can find their files without loading
the harvester.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit


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
