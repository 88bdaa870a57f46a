"""wparchive rebuild: cleaned columns re-derived from raw_json, offline, keeping provenance and history."""

from __future__ import annotations

from click.testing import CliRunner

from wparchive.cli import cli
from wparchive.harvest import harvest_site

DERIVED = ("title", "content_text", "content_markdown", "excerpt_text", "word_count", "categories", "tags", "author")


def test_rebuild_restores_every_derived_column_without_a_request(server, client, db, db_path) -> None:
    harvest_site(db, client, server.home + "/")
    before = {r["key"]: r for r in db["posts"].rows}
    links_before = list(db["links"].rows)
    # An older, worse cleaner: text and links damaged, a post tombstoned by a later run.
    with db.conn:
        db.execute("UPDATE posts SET content_text = 'stale', content_markdown = '', word_count = 0, categories = '[]'")
        db.execute("DELETE FROM links")
        db.execute("UPDATE posts SET deleted_at = '2026-01-01T00:00:00+00:00', deleted_run_id = 1 WHERE key = '1-1005'")
    server.requests.clear()
    result = CliRunner().invoke(cli, ["rebuild", "--db", db_path], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "posts" in result.stderr
    assert server.requests == []  # offline
    after = {r["key"]: r for r in db["posts"].rows}
    for key, row in before.items():
        for column in DERIVED + ("raw_sha256", "response_url", "fetched_at", "run_id"):
            assert after[key][column] == row[column], (key, column)
    assert after["1-1005"]["deleted_at"] == "2026-01-01T00:00:00+00:00"  # history is not rewritten
    assert sorted(map(str, db["links"].rows)) == sorted(map(str, links_before))
    assert [r["title"] for r in db["posts"].search("beekeeper")] == ["Bees on plot 17"]  # FTS follows


def test_rebuild_of_a_missing_archive_says_so(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["rebuild", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1 and "nothing to rebuild" in result.stderr
