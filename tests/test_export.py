"""wparchive export: streamed CSV, JSON and JSONL; Markdown with front matter for Hugo and Jekyll."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from wparchive.cli import cli
from wparchive.db import open_db
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
    result = _export("-", "--db", archive, "--type", "page", "--since", "2023-02-02", "--site", "The Allotment Almanac")
    keys = [json.loads(line)["key"] for line in result.stdout.splitlines()]
    assert keys == ["1-52", "1-53", "1-54"]


def _refused(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["export", *args])


# A WACZ export also names the folder of the WARC files it packages (the filters are checked first).
_FORMAT_OPTIONS = {"wacz": ["--warc", "warc"]}


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "markdown", "wxr", "wacz"])
def test_filters_naming_nothing_in_the_archive_are_usage_errors_that_list_what_there_is(archive, server, tmp_path,
                                                                                       fmt) -> None:
    out = tmp_path / "out"
    for option, value, listed in [("--since", "notadate", "give it as YYYY-MM-DD"),
                                  ("--since", "2024-02-30", "give it as YYYY-MM-DD"),
                                  ("--site", "no-such-site", f"one of: 1 ({server.home})"),
                                  ("--site", "Allotment", f"one of: 1 ({server.home})"),  # a part names nothing
                                  ("--site", " ", f"one of: 1 ({server.home})"),
                                  ("--site", f"{server.home}:1", f"one of: 1 ({server.home})"),  # a second port
                                  ("--type", "recipe", "it holds: page, post")]:
        result = _refused(str(out), "--db", archive, "--format", fmt, option, value, *_FORMAT_OPTIONS.get(fmt, []))
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(f"Error: {option} {value!r}") and listed in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "markdown", "wxr", "wacz"])
def test_filters_that_leave_nothing_say_so_and_write_nothing(archive, tmp_path, fmt) -> None:
    out = tmp_path / "out"
    result = _refused(str(out), "--db", archive, "--format", fmt, "--type", "page", "--since", "2099-01-01",
                      *_FORMAT_OPTIONS.get(fmt, []))
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: nothing to export: no live item of type page since 2099-01-01")
    assert not out.exists() and not out.with_suffix(".xml").exists()


def test_a_site_is_named_whole_by_its_id_address_or_host(make_server, client, db, db_path, tmp_path) -> None:
    first, second = make_server(), make_server()
    harvest_site(db, client, first.home + "/")
    harvest_site(db, client, second.home + "/")

    def sites(*args: str) -> set[str]:
        result = _export("-", "--db", db_path, *args)
        return {json.loads(line)["key"].split("-")[0] for line in result.stdout.splitlines()}

    # Both are on 127.0.0.1: "1" is in both addresses, and names site 1 alone.
    assert sites("--site", "1") == {"1"} and sites("--site", "2") == {"2"}
    assert sites("--site", second.home) == sites("--site", second.home.removeprefix("http://") + "/") == {"2"}
    assert sites("--site", "127.0.0.1") == {"1", "2"}  # the host of both
    assert _refused("-", "--db", db_path, "--site", "127.0.0").exit_code == 2
    with db.conn:
        db.execute("UPDATE sites SET name = NULL WHERE id = 2")
    assert _refused("-", "--db", db_path, "--site", "").exit_code == 2  # not the name of a site without one
    refused = _refused(str(tmp_path / "both.xml"), "--db", db_path, "--format", "wxr", "--site", "127.0.0.1")
    assert refused.exit_code == 1 and "a WXR file holds one site, and 2 match" in refused.stderr
    _export(str(tmp_path / "one.xml"), "--db", db_path, "--format", "wxr", "--site", "2")
    assert second.home in (tmp_path / "one.xml").read_text(encoding="utf-8")


def test_csv_opens_in_spreadsheets_as_utf8_with_no_formula_run(archive, tmp_path) -> None:
    formulas = ["=HYPERLINK(\"https://example.org\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    with open_db(archive).conn as conn:
        for n, title in enumerate(formulas):
            conn.execute("UPDATE posts SET title = ? WHERE wp_id = ?", [title, 1001 + n])
        conn.execute("UPDATE posts SET title = 'Café – 東京 ελληνικά' WHERE wp_id = 1010")
    _export(str(tmp_path / "plain.csv"), "--db", archive, "--format", "csv")
    _export(str(tmp_path / "excel.csv"), "--db", archive, "--format", "csv", "--bom")
    plain, excel = (tmp_path / "plain.csv").read_bytes(), (tmp_path / "excel.csv").read_bytes()
    assert excel == b"\xef\xbb\xbf" + plain and not plain.startswith(b"\xef\xbb\xbf")
    titles = {row["wp_id"]: row["title"] for row in csv.DictReader(io.StringIO(plain.decode("utf-8")))}
    assert [titles[str(1001 + n)] for n in range(len(formulas))] == ["'" + f for f in formulas]
    assert titles["1010"] == "Café – 東京 ελληνικά"
    assert all(not t.startswith(("=", "+", "-", "@", "\t", "\r")) for t in titles.values())


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
