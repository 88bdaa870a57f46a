"""The README documents every command, and its --help blocks are current (cog)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cogapp import Cog

from wparchive.cli import cli

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_is_documented(command: str) -> None:
    assert f"wparchive {command} --help" in README.read_text(encoding="utf-8")


def test_readme_help_blocks_are_current() -> None:
    result = Cog().main(["cog", "--check", str(README)])
    assert result == 0, "README.md is out of date: run 'make docs' (cog -r README.md)"
