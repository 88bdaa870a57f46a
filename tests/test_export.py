"""wparchive export: streamed CSV, JSON and JSONL; Markdown with front matter for Hugo and Jekyll."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from wparchive.cli import cli
from wparchive.harvest import harvest_site
from wparchive.media import download_media


@pytest.fixture
def archive(server, client, db, db_path) -> str:  # type: ignore[no-untyped-def]
    harvest_site(db, client, server.home + "/")
    with db.conn:
        db.execute("UPDATE posts SET deleted_at = '2025-01-01T00:00:00+00:00' WHERE key = '1-1024'")
    return db_path


def _export(*args: str):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, ["export", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_jsonl_json_and_csv_hold_every_live_item(archive, tmp_path) -> None:
    _export(str(tmp_path / "a.jsonl"), "--db", archive)
    lines = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert len(lines) == 28  # 24 posts and 5 pages, less the one no longer served
    assert "1-1024" not in {row["key"] for row in lines}
    compost = next(row for row in lines if row["key"] == "1-1002")
    assert compost["categories"] == ["Growing"] and compost["author_label"] == "Margit Okafor"
    _export(str(tmp_path / "a.json"), "--db", archive, "--format", "json")
    assert json.loads((tmp_path / "a.json").read_text()) == lines
    _export(str(tmp_path / "a.csv"), "--db", archive, "--format", "csv")
    rows = list(csv.DictReader((tmp_path / "a.csv").open(encoding="utf-8")))
    assert [r["key"] for r in rows] == [r["key"] for r in lines]
    assert json.loads(next(r for r in rows if r["key"] == "1-1002")["tags"]) == ["compost"]


def test_filters_by_site_type_and_date(archive, tmp_path) -> None:
    result = _export("-", "--db", archive, "--type", "page", "--since", "2023-02-02", "--site", "Allotment")
    keys = [json.loads(line)["key"] for line in result.stdout.splitlines()]
    assert keys == ["1-52", "1-53", "1-54"]
    none = _export("-", "--db", archive, "--site", "no-such-site")
    assert none.stdout == ""


def test_markdown_files_with_front_matter(archive, tmp_path) -> None:
    _export(str(tmp_path / "content"), "--db", archive, "--format", "markdown")
    files = sorted((tmp_path / "content").rglob("*.md"))
    assert len(files) == 28
    post = (tmp_path / "content" / "_posts" / "2023-03-08-the-compost-question.md").read_text(encoding="utf-8")
    head, body = post.split("---\n", 2)[1:]
    meta = yaml.safe_load(head)
    assert meta["title"] == "The compost question"
    assert meta["date"] == "2023-03-08T19:30:00+01:00"  # the site's local time with its offset
    assert meta["slug"] == "the-compost-question" and meta["wordpress_id"] == 1002
    assert meta["categories"] == ["Growing"] and meta["tags"] == ["compost"] and meta["author"] == "Margit Okafor"
    assert meta["url_original"].endswith("/2023/03/the-compost-question/")
    assert "[Wikipedia article on compost](https://en.wikipedia.org/wiki/Compost)" in body
    for path in files:
        yaml.safe_load(path.read_text(encoding="utf-8").split("---\n", 2)[1])  # every header parses
    assert (tmp_path / "content" / "pages" / "about.md").exists()


def test_markdown_points_at_copied_images_when_media_were_downloaded(server, client, db, db_path, tmp_path) -> None:
    result = harvest_site(db, client, server.home + "/")
    download_media(db, client, result.site_id, Path(db_path).with_name("archive-media"))
    _export(str(tmp_path / "content"), "--db", db_path, "--format", "markdown")
    post = (tmp_path / "content" / "_posts" / "2023-04-12-tomatoes-twelve-varieties-one-summer.md").read_text()
    image = next(line for line in post.splitlines() if line.startswith("!["))
    local = image.split("(")[1].rstrip(")")
    assert local.startswith("/images/") and (tmp_path / "content" / local.lstrip("/")).exists()
