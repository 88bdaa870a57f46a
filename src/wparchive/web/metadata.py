"""The archive's Datasette metadata (config/metadata.yml): read once, laid out for the databases served.

One home for both ways of serving: `wparchive serve` passes it to Datasette as its own metadata, and
the plugin gives it to a Datasette started as `datasette archive.db` (its get_metadata hook), so that
both show the same descriptions, facets, sortable columns and canned queries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

# The database key of metadata.yml that stands for whichever archive is served.
METADATA_DATABASE_KEY = "archive"


def read_metadata(directory: Path) -> dict[str, Any]:
    """The metadata.yml of a configuration folder, as written; ConfigError when it cannot be read."""
    path = directory / "metadata.yml"
    try:
        metadata = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}".replace("\n", " ")) from None
    if not isinstance(metadata, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top")
    return metadata


def for_archives(metadata: dict[str, Any], names: list[str], *, base_url: str = "/") -> dict[str, Any]:
    """metadata with its database key given to each archive served (by name), and the links of its
    description leading to the first of them, under Datasette's base_url."""
    databases = dict(metadata.get("databases") or {})
    if METADATA_DATABASE_KEY not in databases or not names:
        return metadata
    archive = databases.pop(METADATA_DATABASE_KEY)
    # a copy each: Datasette updates the metadata it is given in place, one database's with its own
    laid_out = {**metadata, "databases": {**{name: fresh_copy(archive) for name in names}, **databases}}
    description = metadata.get("description_html")
    if description:
        laid_out["description_html"] = description.replace(f"/{METADATA_DATABASE_KEY}/", f"{base_url}{names[0]}/")
    return laid_out


def fresh_copy(value: Any) -> Any:
    """A copy of nested dicts and lists."""
    if isinstance(value, dict):
        return {key: fresh_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [fresh_copy(item) for item in value]
    return value


# The tables that make a database an archive (and not another database Datasette serves beside it).
ARCHIVE_TABLES = frozenset({"posts", "harvest_runs"})


async def is_archive(database: Any) -> bool:
    """Whether a Datasette database is a wparchive archive."""
    return ARCHIVE_TABLES <= set(await database.table_names())
