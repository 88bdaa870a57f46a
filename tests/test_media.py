"""--media: attachments and in-content images, content-addressed, originals preferred."""

from __future__ import annotations

import hashlib
from pathlib import Path

import sqlite_utils
from click.testing import CliRunner

from wparchive.cli import cli
from wparchive.harvest import harvest_site
from wparchive.media import candidate_urls, download_media
from wparchive.sample.site import Item, Site, tiny_png


def test_cdn_parameters_and_size_suffixes_are_taken_off() -> None:
    assert candidate_urls("https://i0.wp.com/example.org/a.jpg?w=1024&ssl=1") == [
        "https://i0.wp.com/example.org/a.jpg", "https://i0.wp.com/example.org/a.jpg?w=1024&ssl=1"]
    assert candidate_urls("https://example.org/up/plot-300x200.jpg") == [
        "https://example.org/up/plot.jpg", "https://example.org/up/plot-300x200.jpg"]
    assert candidate_urls("https://example.org/up/plot.jpg?v=2") == ["https://example.org/up/plot.jpg?v=2"]


def _site() -> Site:
    same = tiny_png("shared")
    return Site(
        items=[
            Item(1, "post", "Pictures", '<p><img src="/wp-content/uploads/photo-300x200.jpg" alt="a">'
                 '<img src="/wp-content/uploads/only-small-150x150.png" alt="b">'
                 '<img src="/wp-content/uploads/again.png?w=640" alt="c">'
                 '<img src="/wp-content/uploads/missing.png" alt="d">'
                 '<img src="/wp-content/uploads/huge.bin" alt="e"></p>'),
            Item(2, "attachment", "Photo", file="photo.jpg", mime_type="image/jpeg"),
        ],
        files={
            "/wp-content/uploads/photo.jpg": same,
            "/wp-content/uploads/only-small-150x150.png": tiny_png("small"),
            "/wp-content/uploads/again.png": same,
            "/wp-content/uploads/huge.bin": b"x" * 5000,
        },
    )


def test_downloads_are_content_addressed_and_failures_recorded(make_server, client, db, tmp_path) -> None:
    server = make_server(_site())
    result = harvest_site(db, client, server.home + "/")
    counts = download_media(db, client, result.site_id, tmp_path / "media", run_id=result.run_id, max_bytes=4000)
    assert (counts.downloaded, counts.failed) == (4, 2)  # four URLs; two files on disk
    files = {row["url"].rsplit("/", 1)[1]: row for row in db["files"].rows}
    assert files["photo-300x200.jpg"]["fetched_url"].endswith("/photo.jpg")  # the original, not the thumbnail
    assert files["only-small-150x150.png"]["fetched_url"].endswith("-150x150.png")  # no original: as found
    assert files["again.png?w=640"]["fetched_url"].endswith("/again.png")
    shared = hashlib.sha256(tiny_png("shared")).hexdigest()
    assert files["photo.jpg"]["sha256"] == files["photo-300x200.jpg"]["sha256"] == shared
    stored = tmp_path / "media" / files["photo.jpg"]["path"]
    assert stored.name == f"{shared}.png" and hashlib.sha256(stored.read_bytes()).hexdigest() == shared
    assert len([p for p in (tmp_path / "media").rglob("*") if p.is_file()]) == 2  # same bytes, one file
    assert files["missing.png"]["error"] == "HTTP 404" and files["missing.png"]["sha256"] is None
    assert "too large" in files["huge.bin"]["error"]
    assert files["photo.jpg"]["content_type"] == "image/png" and files["photo.jpg"]["size"] == len(tiny_png("shared"))
    assert not list((tmp_path / "media").glob(".partial-*"))
    server.requests.clear()
    again = download_media(db, client, result.site_id, tmp_path / "media", max_bytes=4000)
    assert again.already == 4 and again.failed == 2  # failures are tried again, successes are not
    assert not any("photo" in path for path in server.requests)


def test_the_cli_downloads_media_when_asked(make_server, tmp_path) -> None:
    server = make_server()
    db_path = str(tmp_path / "garden.db")
    result = CliRunner().invoke(cli, ["harvest", server.home + "/", "--db", db_path, "--delay", "0", "--media"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Media: 4 downloaded" in result.stderr
    folder = Path(tmp_path / "garden-media")
    assert len([p for p in folder.rglob("*") if p.is_file()]) == 4
    db = sqlite_utils.Database(db_path)
    assert db.execute("SELECT count(*) FROM files WHERE sha256 IS NOT NULL").fetchone()[0] == 4
