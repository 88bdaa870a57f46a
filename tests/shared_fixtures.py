"""Where ../shared's fixtures are, and a clean skip when they are not beside the project."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
WP_CORE_REST = SHARED / "fixtures" / "wp-core-rest"
WPTT = SHARED / "fixtures" / "wptt"
# The official WordPress Importer plugin and a command-line driver for it (see its README.md).
WORDPRESS_IMPORTER = SHARED / "tools" / "wordpress-importer" / "wxr-import.php"


def needs_shared(path: Path) -> Path:
    """The path, or a skip of the calling test when ../shared (or that file) is absent."""
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path
