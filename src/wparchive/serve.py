"""Serving an archive with Datasette, configured from config/ (metadata and settings)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml
from datasette.app import Datasette

from .paths import config_dir
from .errors import ConfigError

METADATA_DATABASE_KEY = "archive"


def load_metadata(db_path: str, directory: Path, *, base_url: str = "/") -> dict[str, Any]:
    """Datasette metadata from metadata.yml, its database key renamed to the served file's name
    (in the links of the description too, which also get Datasette's base_url)."""
    path = directory / "metadata.yml"
    try:
        metadata: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: {exc}".replace("\n", " ")) from None
    if not isinstance(metadata, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top")
    databases = metadata.get("databases") or {}
    if METADATA_DATABASE_KEY in databases:
        name = Path(db_path).stem
        databases = {name if k == METADATA_DATABASE_KEY else k: v for k, v in databases.items()}
        metadata["databases"] = databases
        description = metadata.get("description_html")
        if description:
            metadata["description_html"] = description.replace(f"/{METADATA_DATABASE_KEY}/", f"{base_url}{name}/")
    return metadata


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


def build_datasette(db_path: str, *, config: str | os.PathLike[str] | None = None,
                    immutable: bool = False) -> Datasette:
    """A Datasette instance serving one archive with the project's metadata and settings."""
    directory = config_dir(config)
    settings = load_settings(directory)
    files = {"immutables": [db_path]} if immutable else {"files": [db_path]}
    return Datasette(
        metadata=load_metadata(db_path, directory, base_url=settings.get("base_url", "/")),
        settings=settings,
        **files,
    )


def run_server(ds: Datasette, *, port: int, host: str = "127.0.0.1") -> None:
    """Serve until interrupted."""
    import asyncio

    import uvicorn

    asyncio.run(ds.invoke_startup())
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning")
