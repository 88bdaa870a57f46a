"""The Markdown export as real Hugo and Jekyll read it (Debian's packages, installed when missing)."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import Unavailable, ensure_debian_packages
from wparchive.cli import cli
from wparchive.harvest import harvest_site

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def builders() -> None:
    try:
        ensure_debian_packages(["hugo", "jekyll"], lambda: bool(shutil.which("hugo") and shutil.which("jekyll")))
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def content(builders, server, client, db, db_path, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    harvest_site(db, client, server.home + "/")
    folder = tmp_path / "content"
    result = CliRunner().invoke(cli, ["export", str(folder), "--db", db_path, "--format", "markdown"])
    assert result.exit_code == 0, result.output
    return folder


def test_hugo_reads_every_file_as_a_page(content: Path, tmp_path: Path) -> None:
    site = tmp_path / "hugo"
    site.mkdir()
    (site / "config.toml").write_text(f'baseURL = "http://example.org/"\ncontentDir = "{content}"\n')
    listing = subprocess.run(["hugo", "list", "all"], cwd=site, capture_output=True, text=True, check=True)
    pages = list(csv.DictReader(io.StringIO(listing.stdout)))
    assert len(pages) == len(list(content.rglob("*.md"))) == 29
    compost = next(p for p in pages if p["slug"] == "the-compost-question")
    assert compost["title"] == "The compost question" and compost["date"] == "2023-03-08T19:30:00+01:00"
    build = subprocess.run(["hugo", "--destination", str(tmp_path / "public")], cwd=site, capture_output=True,
                           text=True)
    assert build.returncode == 0, build.stderr


def test_jekyll_builds_a_page_for_every_file(content: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    build = subprocess.run(["jekyll", "build", "--source", str(content), "--destination", str(out), "--quiet"],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    pages = list(out.rglob("*.html"))
    assert len(pages) == 29
    compost = next(p for p in pages if p.parent.name == "08" and "compost" in p.name)
    assert "Hot or cold? We tried both." in compost.read_text()
