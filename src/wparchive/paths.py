"""Where wparchive's files are: the configuration folder, and the media folder beside an archive.

A leaf module, so that serving and exporting an archive can find their files without loading
the harvester.
"""

from __future__ import annotations

import os
from pathlib import Path


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
