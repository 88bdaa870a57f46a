"""export --format wacz: what harvests captured with --warc, packaged as WACZ 1.1.1 and checked by
py-wacz's own validator."""

from __future__ import annotations

import gzip
import html
import json
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from wparchive.cli import cli

warcio = pytest.importorskip("warcio", reason="needs warcio (pip install 'wparchive[test]')")
pytest.importorskip("cdxj_indexer", reason="needs cdxj-indexer (pip install 'wparchive[test]')")
from warcio.archiveiterator import ArchiveIterator  # noqa: E402


def wacz_command() -> str:
    """py-wacz's command line, installed beside this Python."""
    found = shutil.which("wacz", path=str(Path(sys.executable).parent)) or shutil.which("wacz")
    if found is None:
        pytest.skip("needs py-wacz's `wacz` command to validate (pip install 'wparchive[test]')")
    return found


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def harvested(make_server, tmp_path):  # type: ignore[no-untyped-def]
    """The sample site harvested with --warc: (archive path, WARC folder)."""
    server = make_server()
    db_path, warcs = str(tmp_path / "a.db"), tmp_path / "warc"
    result = run("harvest", server.home + "/", "--db", db_path, "--delay", "0", "--quiet", "--warc", str(warcs))
    assert result.exit_code == 0, result.output
    return db_path, warcs


def responses_in(folder: Path) -> dict[str, tuple[str, str]]:
    """Every response record of the WARC files in folder a harvest wrote: its id, URL and WARC-Date."""
    found = {}
    for path in folder.glob("wparchive-127.0.0.1-2*.warc.gz"):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "response":
                    headers = record.rec_headers
                    found[headers.get_header("WARC-Record-ID")] = (headers.get_header("WARC-Target-URI"),
                                                                   headers.get_header("WARC-Date"))
    return found


def test_a_wacz_export_is_valid_indexes_every_response_and_lists_each_item_with_its_text(harvested, tmp_path) -> None:
    db_path, warcs = harvested
    warc_names = {f"archive/{p.name}" for p in warcs.glob("*.warc.gz")}
    # another host's file, whose name starts as this one's do
    (warcs / "wparchive-127.0.0.1-shop.example-20240101000000.warc.gz").write_bytes(b"not this site's")
    out = tmp_path / "site.wacz"
    result = run("export", "--format", "wacz", "--warc", str(warcs), "--db", db_path, str(out))
    assert result.exit_code == 0, result.output
    assert "Exported 29 items and 1 WARC files" in result.output

    validated = subprocess.run([wacz_command(), "validate", "-f", str(out)], capture_output=True, text=True,
                               timeout=300)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "the passed WACZ is valid" in validated.stdout

    responses = responses_in(warcs)
    assert responses
    with zipfile.ZipFile(out) as package:
        names = set(package.namelist())
        assert names == warc_names | {"indexes/index.cdx.gz", "indexes/index.idx", "pages/pages.jsonl",
                                      "datapackage.json", "datapackage-digest.json"}
        for name in warc_names:  # stored, so that replay tools read a record at its offset
            assert package.getinfo(name).compress_type == zipfile.ZIP_STORED
            assert package.read(name) == (warcs / Path(name).name).read_bytes()
        index = gzip.decompress(package.read("indexes/index.cdx.gz")).decode()
        pages = [json.loads(line) for line in package.read("pages/pages.jsonl").decode().splitlines()]
        datapackage = json.loads(package.read("datapackage.json"))

    # the CDXJ index finds each API response, at its time, in its WARC file
    indexed = set()
    for line in index.splitlines():
        _, timestamp, fields = line.split(" ", 2)
        entry = json.loads(fields)
        indexed.add((entry["url"], timestamp))
        assert f"archive/{entry['filename']}" in warc_names
    assert {(url, when.replace("-", "").replace(":", "").replace("T", "")[:14])
            for url, when in responses.values()} <= indexed

    assert datapackage["wacz_version"] == "1.1.1"
    assert {r["path"] for r in datapackage["resources"]} == names - {"datapackage.json", "datapackage-digest.json"}

    assert pages[0] == {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
    db = sqlite3.connect(db_path)
    live = {key: (title, text, record) for key, title, text, record in db.execute(
        "SELECT key, title, content_text, warc_record_id FROM posts WHERE deleted_at IS NULL")}
    assert len(live) == 29
    assert {page["id"] for page in pages[1:]} == set(live)
    for page in pages[1:]:
        title, text, record = live[page["id"]]
        assert (page["title"], page["text"]) == (title, text)
        assert (page["url"], page["ts"]) == responses[record]  # an address and time the archive holds
    compost = next(page for page in pages[1:] if page["title"] == "The compost question")
    assert "Hot composting needs turning every few days" in compost["text"]


def test_filters_choose_the_pages(harvested, tmp_path) -> None:
    db_path, warcs = harvested
    out = tmp_path / "pages.wacz"
    result = run("export", "-f", "wacz", "--warc", str(warcs), "--type", "page", "--db", db_path, "-q", str(out))
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as package:
        pages = [json.loads(line) for line in package.read("pages/pages.jsonl").decode().splitlines()[1:]]
    expected = sqlite3.connect(db_path).execute(
        "SELECT count(*) FROM posts WHERE type = 'page' AND deleted_at IS NULL").fetchone()[0]
    assert 0 < len(pages) == expected


def test_without_warc_captures_it_says_to_harvest_with_warc_first(make_server, tmp_path) -> None:
    server = make_server()
    db_path = str(tmp_path / "a.db")
    assert run("harvest", server.home + "/", "--db", db_path, "--delay", "0", "--quiet").exit_code == 0
    (tmp_path / "warc").mkdir()
    result = run("export", "-f", "wacz", "--warc", str(tmp_path / "warc"), "--db", db_path, str(tmp_path / "a.wacz"))
    assert result.exit_code == 1
    assert "harvested with --warc" in result.output and "Traceback" not in result.output
    assert "Harvest with --warc DIR first" in result.output
    assert not (tmp_path / "a.wacz").exists()


@pytest.mark.parametrize("case", ["no --warc", "not the folder", "no folder for OUT", "OUT is a folder", "stdout"])
def test_mistakes_are_one_clear_line(harvested, tmp_path, case) -> None:
    db_path, warcs = harvested
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    args, said = {
        "no --warc": ([str(tmp_path / "a.wacz")], "a WACZ export packages the WARC files"),
        "not the folder": (["--warc", str(elsewhere), str(tmp_path / "a.wacz")], "holds no WARC file"),
        "no folder for OUT": (["--warc", str(warcs), str(tmp_path / "missing" / "a.wacz")], "cannot write"),
        "OUT is a folder": (["--warc", str(warcs), str(elsewhere)], "is a folder"),
        "stdout": (["--warc", str(warcs), "-"], "not -"),
    }[case]
    result = run("export", "-f", "wacz", "--db", db_path, *args)
    assert result.exit_code in (1, 2), result.output
    assert said in result.output and "Traceback" not in result.output
    assert list(tmp_path.rglob("*.wacz*")) == []


def test_items_harvested_before_warc_are_left_out_of_the_pages_and_counted(harvested, tmp_path) -> None:
    db_path, warcs = harvested
    db = sqlite3.connect(db_path)
    with db:  # as an item stored by a harvest without --warc, and unchanged since, has it
        db.execute("UPDATE posts SET warc_record_id = NULL WHERE title = 'The compost question'")
    out = tmp_path / "a.wacz"
    result = run("export", "-f", "wacz", "--warc", str(warcs), "--db", db_path, str(out))
    assert result.exit_code == 0, result.output
    assert "1 items are in none of the WARC files" in result.output
    assert "Exported 28 items" in result.output
    with zipfile.ZipFile(out) as package:
        titles = [json.loads(line).get("title") for line in package.read("pages/pages.jsonl").decode().splitlines()]
    assert len(titles) == 29 and "The compost question" not in titles


def test_without_cdxj_indexer_it_says_what_to_install(harvested, tmp_path, monkeypatch) -> None:
    db_path, warcs = harvested
    monkeypatch.setitem(sys.modules, "cdxj_indexer.main", None)  # as if it were not installed
    result = run("export", "-f", "wacz", "--warc", str(warcs), "--db", db_path, str(tmp_path / "a.wacz"))
    assert result.exit_code == 1
    assert "needs the warcio and cdxj-indexer packages" in result.output
    assert "pip install 'wparchive[wacz]'" in result.output and "Traceback" not in result.output


def test_with_pages_the_html_of_each_item_is_captured_and_the_pages_list_points_at_it(make_server, tmp_path) -> None:
    server = make_server()
    db_path, warcs = str(tmp_path / "a.db"), tmp_path / "warc"
    harvest = run("harvest", server.home + "/", "--db", db_path, "--delay", "0", "--warc", str(warcs), "--pages")
    assert harvest.exit_code == 0, harvest.output
    assert "Pages: 29 captured, 0 failed" in harvest.output
    out = tmp_path / "site.wacz"
    result = run("export", "-f", "wacz", "--warc", str(warcs), "--db", db_path, "-q", str(out))
    assert result.exit_code == 0, result.output
    validated = subprocess.run([wacz_command(), "validate", "-f", str(out)], capture_output=True, text=True,
                               timeout=300)
    assert validated.returncode == 0, validated.stdout + validated.stderr

    links = dict(sqlite3.connect(db_path).execute("SELECT key, link FROM posts WHERE deleted_at IS NULL"))
    served = {}
    for path in warcs.glob("*.warc.gz"):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type == "response" and record.http_headers.get_header("Content-Type", "").startswith(
                        "text/html"):
                    body = html.unescape(record.content_stream().read().decode())
                    served[record.rec_headers.get_header("WARC-Target-URI")] = (
                        record.rec_headers.get_header("WARC-Date"), body)
    with zipfile.ZipFile(out) as package:
        pages = [json.loads(line) for line in package.read("pages/pages.jsonl").decode().splitlines()[1:]]
        index = gzip.decompress(package.read("indexes/index.cdx.gz")).decode()
    assert len(pages) == len(links) == 29
    for page in pages:
        assert page["url"] == links[page["id"]]
        when, body = served[page["url"]]
        assert page["ts"] == when
        assert page["title"].split(":")[0] in body  # the page the site served for that item
        assert f'"url": "{page["url"]}", "mime": "text/html"' in index


def test_pages_needs_warc() -> None:
    result = run("harvest", "http://127.0.0.1:9/", "--pages")
    assert result.exit_code == 2
    assert "give --warc DIR too" in result.output


def test_pages_fetches_only_the_sites_own_host(make_server, tmp_path) -> None:
    from wparchive.sample.content import sample_site
    from wparchive.sample.site import Site

    site = sample_site()
    first = next(item for item in site.items if item.type == "post" and item.status == "publish")
    # a link the site may send for an item: to another host (one it could use to make us fetch it)
    site.permalink = lambda item, home: (  # type: ignore[method-assign]
        "http://127.0.0.2:9/elsewhere/" if item.id == first.id else Site.permalink(site, item, home))
    server = make_server(site)
    db_path, warcs = str(tmp_path / "a.db"), tmp_path / "warc"
    result = run("harvest", server.home + "/", "--db", db_path, "--delay", "0", "--warc", str(warcs), "--pages")
    assert result.exit_code == 0, result.output
    assert "Page not captured: http://127.0.0.2:9/elsewhere/: not on the site's host" in result.output
    assert "Pages: 28 captured, 1 failed" in result.output
    assert not any("elsewhere" in path for path in server.requests)


@pytest.mark.parametrize("damage", ["cut short", "no WARC at all"])
def test_a_broken_warc_file_is_one_clear_line(harvested, tmp_path, damage) -> None:
    db_path, warcs = harvested
    (written,) = warcs.glob("*.warc.gz")
    data = written.read_bytes()
    # cut short: as a harvest killed while writing it leaves it
    written.write_bytes(data[:len(data) // 2] if damage == "cut short" else b"<html>not a WARC</html>")
    result = run("export", "-f", "wacz", "--warc", str(warcs), "--db", db_path, str(tmp_path / "a.wacz"))
    assert result.exit_code == 1, result.output
    assert f"{written} is no whole WARC file" in result.output and "Traceback" not in result.output
    assert "Move it out of the --warc folder" in result.output
    assert list(tmp_path.glob("*.wacz*")) == []
