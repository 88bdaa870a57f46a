"""wparchive merge: per-site archives, harvested by the real CLI from sample sites, folded into one."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from wparchive.cli import EXIT_FAILED, EXIT_LOCKED, cli
from wparchive.db import archive_lock, open_db
from wparchive.db.merge import merge_archive, open_source
from wparchive.sample.content import sample_site
from wparchive.sample.site import CommentItem, Item, Site, TermItem
from wparchive.serve import build_datasette

from test_progress import _last_state, _on_a_terminal

# Columns holding record keys ("<site id>-<WordPress id>") and run ids, compared by what they name.
KEYS = {"key", "parent", "author", "featured_media", "post", "term", "target", "target_hint", "media", "group_key"}
RUNS = {"run_id", "deleted_run_id", "replaced_by_run_id", "resolved_run_id", "complete_run_id", "pass_run_id"}
# When a harvest happened differs between two harvests of one site; what it found does not.
TIMES = {"fetched_at", "deleted_at", "at", "replaced_at", "started_at", "finished_at", "updated_at", "first_harvested",
         "last_harvested", "requests"}
COMPARED = ("sites", "harvest_runs", "run_collections", "users", "terms", "posts", "media", "comments", "post_terms",
            "links", "images", "embeds", "versions", "changes", "raw_json", "sync_state", "harvest_errors", "files")


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _harvest(server, db: Path) -> str:  # type: ignore[no-untyped-def]
    result = _run("harvest", server.home + "/", "--db", str(db), "--delay", "0", "--workers", "1")
    assert result.exit_code == 0, result.output
    return result.stderr


def _merge(target: Path, *sources: Path, quiet: bool = False):  # type: ignore[no-untyped-def]
    return _run("merge", *map(str, sources), "--db", str(target), *(["-q"] if quiet else []))


def _alpha() -> Site:
    """The bundled sample site (users, media, comments, links), with a post of its own words."""
    site = sample_site()
    site.items.append(Item(9001, "post", "Aardvark burrows", "<p>The aardvark digs at night.</p>",
                           date_gmt="2024-03-01T10:00:00", terms={"category": [next(
                               t.id for t in site.terms if t.taxonomy == "category")]}))
    return site


def _beta() -> Site:
    return Site(name="Beta", items=[Item(i, "post", f"Zebra note {i}", f"<p>Stripes of zebra number {i}.</p>",
                                         date_gmt=f"2024-02-{i:02d}T08:00:00", terms={"category": [1]})
                                    for i in range(1, 13)] + [Item(50, "page", "About", "<p>About the zebras.</p>")],
                terms=[TermItem(1, "category", "Savanna"), TermItem(2, "post_tag", "stripes")],
                comments=[CommentItem(i, i, f"Zebra comment {i}") for i in range(1, 4)])


def _change(site: Site) -> Item:
    """An edit, a deletion, an addition and a new comment, as a site changes between harvests; the item deleted."""
    edited = next(i for i in site.items if i.id == 9001)
    edited.content, edited.modified_gmt = "<p>The aardvark digs at night, and sleeps by day.</p>", "2025-06-01T10:00:00"
    gone = next(i for i in site.items if i.type == "post" and i.id != 9001)
    site.items.remove(gone)
    site.items.append(Item(9002, "post", "Aardvark diet", "<p>Ants and termites, mostly.</p>",
                           date_gmt="2025-06-02T00:00:00"))
    site.comments.append(CommentItem(9100, 9001, "Lovely aardvark"))
    return gone


def _snapshot(path: Path, tables: tuple[str, ...] = COMPARED) -> dict[str, list]:
    """Every compared table's rows, sorted, with sites named by home, runs by their place among the site's
    runs, records by site and WordPress id, and the times of harvesting left out."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    homes = {row["id"]: row["home"] for row in conn.execute("SELECT id, home FROM sites")}
    runs = {row["id"]: (homes.get(row["site_id"]), row["n"]) for row in conn.execute(
        "SELECT id, site_id, row_number() OVER (PARTITION BY site_id ORDER BY started_at, id) AS n FROM harvest_runs")}

    def named(column: str, value):  # type: ignore[no-untyped-def]
        if column in KEYS and isinstance(value, str) and "-" in value and value.split("-")[0].isdigit():
            head, _, rest = value.partition("-")
            return f"{homes[int(head)]}#{rest}"
        if column in RUNS and value is not None:
            return runs[value]
        if column == "site_id":
            return homes.get(value)
        if column == "deleted_at":
            return value is not None
        return value

    snapshot = {}
    for table in tables:
        rows = [tuple((column, named(column, row[column])) for column in row.keys()
                      if column not in TIMES and column != "id") for row in conn.execute(f'SELECT * FROM "{table}"')]
        snapshot[table] = sorted(rows, key=repr)
    conn.close()
    return snapshot


def _content_hash(path: Path) -> str:
    conn = sqlite3.connect(path)
    digest = hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
    conn.close()
    return digest


def _settled_hash(path: Path) -> str:
    """The SHA-256 of an archive's file once what its WAL holds is in it (as the last connection to close
    leaves it): the harvests of these tests ran in this process, and their connections close when collected."""
    gc.collect()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _count(path: Path, sql: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def test_merged_archive_equals_harvesting_both_sites_into_one(make_server, tmp_path) -> None:
    alpha, beta = _alpha(), _beta()
    server_a, server_b = make_server(alpha), make_server(beta)
    direct, file_a, file_b = tmp_path / "direct.db", tmp_path / "a.db", tmp_path / "b.db"
    for server, per_site in ((server_a, file_a), (server_b, file_b)):
        _harvest(server, per_site)
        _harvest(server, direct)
    _change(alpha)
    _harvest(server_a, file_a)
    _harvest(server_a, direct)
    sources = {file_a: _settled_hash(file_a), file_b: _settled_hash(file_b)}

    merged = tmp_path / "merged.db"
    result = _merge(merged, file_a, file_b)
    assert result.exit_code == 0, result.output
    assert f"{file_a}: 1 site (1 new); items " in result.stderr, result.stderr
    assert "runs 2, versions 3," in result.stderr  # the terms' counts changed too
    assert f"{file_b}: 1 site (1 new); items " in result.stderr
    assert f"Merged 2 of 2 archives into {merged}" in result.stderr

    expected, got = _snapshot(direct), _snapshot(merged)
    for table in COMPARED:
        assert got[table] == expected[table], table
    # what the comparison stands on: both sites, the run after the changes, its version and tombstone
    assert _count(merged, "SELECT count(DISTINCT site_id) FROM posts") == 2
    assert _count(merged, "SELECT count(*) FROM harvest_runs") == 3
    assert _count(merged, "SELECT count(*) FROM versions WHERE \"table\" = 'posts'") == 1
    assert _count(merged, "SELECT count(*) FROM posts WHERE deleted_at IS NOT NULL") == 1
    assert _count(merged, "SELECT count(*) FROM posts WHERE title = 'Aardvark diet'") == 1
    assert {path: _file_hash(path) for path in sources} == sources  # the sources are never changed


def test_merging_again_changes_nothing(make_server, tmp_path) -> None:
    server_a, server_b = make_server(_alpha()), make_server(_beta())
    file_a, file_b, merged = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "merged.db"
    _harvest(server_a, file_a)
    _harvest(server_b, file_b)
    assert _merge(merged, file_a, file_b).exit_code == 0
    before = _content_hash(merged)
    again = _merge(merged, file_a, file_b)
    assert again.exit_code == 0
    assert f"{file_a}: 1 site (0 new); items 0 new, 0 updated, 0 deleted, 0 revived; runs 0, versions 0, errors 0" \
        in again.stderr
    assert _content_hash(merged) == before
    # a site harvested straight into the archive is the same site as the one merged in, and its sync
    # state came along: the harvest is incremental, and finds nothing new
    assert f"{server_a.home}/: run 3 ok: nothing changed" in _harvest(server_a, merged)
    assert _count(merged, "SELECT count(*) FROM sites") == 2
    assert _count(merged, "SELECT count(*) FROM harvest_runs") == 3


def test_a_newer_harvest_brings_in_only_what_is_new(make_server, tmp_path) -> None:
    alpha = _alpha()
    server = make_server(alpha)
    file_a, merged = tmp_path / "a.db", tmp_path / "merged.db"
    _harvest(server, file_a)
    assert _merge(merged, file_a).exit_code == 0
    assert _count(merged, "SELECT count(*) FROM harvest_runs") == 1
    gone = _change(alpha)
    _harvest(server, file_a)
    result = _merge(merged, file_a)
    assert result.exit_code == 0
    # the edited post, the deleted one, the new post and the new comment; the run that found them
    assert "items 2 new, 3 updated, 1 deleted, 0 revived; runs 1, versions 3, errors 0" in result.stderr
    assert _snapshot(merged) == _snapshot(file_a)
    text = _count(merged, "SELECT content_text FROM posts WHERE title = 'Aardvark burrows'")
    assert text == "The aardvark digs at night, and sleeps by day."
    old = _count(merged, "SELECT json FROM versions WHERE \"table\" = 'posts'")
    assert json.loads(old)["content"]["rendered"].startswith("<p>The aardvark digs at night.</p>")
    before = _content_hash(merged)
    assert _merge(merged, file_a).exit_code == 0
    assert _content_hash(merged) == before
    alpha.items.append(gone)  # served again: revived, in the per-site file and then in the archive
    _harvest(server, file_a)
    revived = _merge(merged, file_a)
    assert "updated, 0 deleted, 1 revived; runs 1," in revived.stderr, revived.stderr
    assert _count(merged, "SELECT count(*) FROM posts WHERE deleted_at IS NOT NULL") == 0
    assert _snapshot(merged) == _snapshot(file_a)


def test_an_interrupted_merge_leaves_the_archive_as_it_was(make_server, tmp_path, interrupt_after) -> None:
    file_a, file_b, merged = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "merged.db"
    _harvest(make_server(_alpha()), file_a)
    _harvest(make_server(_beta()), file_b)
    assert _merge(merged, file_a).exit_code == 0
    before = _content_hash(merged)
    db = open_db(str(merged))
    source = open_source(str(file_b))
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C after the first batch of file_b's records
        merge_archive(db, source, label="b", progress=interrupt_after("b", 1))
    source.close()
    db.close()
    assert _content_hash(merged) == before
    assert _merge(merged, file_b).exit_code == 0
    assert _count(merged, "SELECT count(*) FROM sites") == 2


def test_search_and_serve_find_posts_of_both_sites(make_server, tmp_path) -> None:
    server_a, server_b = make_server(_alpha()), make_server(_beta())
    file_a, file_b, merged = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "merged.db"
    _harvest(server_a, file_a)
    _harvest(server_b, file_b)
    assert _merge(merged, file_a, file_b, quiet=True).stderr == ""
    for word, home in (("aardvark", server_a.home), ("zebra", server_b.home)):
        found = json.loads(_run("search", word, "--db", str(merged), "--format", "json").stdout)
        assert found and all(row["link"].startswith(home + "/") for row in found), found
    both = _run("search", "aardvark OR zebra", "--advanced", "--db", str(merged), "--format", "json")
    assert len({row["site_id"] for row in json.loads(both.stdout)}) == 2

    async def pages() -> tuple[int, str]:
        ds = build_datasette(str(merged))
        home = await ds.client.get("/")
        search = await ds.client.get("/merged/posts?_search=zebra")
        return home.status_code, search.text

    status, search = asyncio.run(pages())
    assert status == 200 and "Zebra note" in search


def test_a_bad_file_is_one_line_and_the_others_merge(make_server, tmp_path) -> None:
    file_a = tmp_path / "a.db"
    _harvest(make_server(_alpha()), file_a)
    text = tmp_path / "notes.db"
    text.write_text("not an archive\n" * 100)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE things (x)").connection.commit()
    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(newer)
    conn.executescript("CREATE TABLE sites (id); CREATE TABLE harvest_runs (id); PRAGMA user_version = 99;")
    conn.close()
    merged = tmp_path / "merged.db"
    result = _merge(merged, text, other, file_a, newer, tmp_path / "missing.db")
    assert result.exit_code == EXIT_FAILED
    # every line but the summaries of what was merged: one for each file that was not
    errors = [line for line in result.stderr.splitlines() if not line.startswith((f"{file_a}: ", "Merged "))]
    assert errors == [f"Error: {text} is not a SQLite database: not merged",
                      f"Error: {other} is not a wparchive archive (it has no harvest_runs table): not merged",
                      f"Error: {newer} was written by a newer wparchive (schema 99): not merged; a wparchive as "
                      "new merges it",
                      f"Error: {tmp_path / 'missing.db'} does not exist"]
    assert "Traceback" not in result.output
    assert f"Merged 1 of 5 archives into {merged}" in result.stderr
    assert _count(merged, "SELECT count(*) FROM harvest_runs") == 1
    nothing = _merge(tmp_path / "new.db", text)
    assert nothing.exit_code == EXIT_FAILED and not (tmp_path / "new.db").exists()  # no empty archive left


def test_the_archive_itself_is_left_out_and_a_harvest_holds_it_off(make_server, tmp_path) -> None:
    folder = tmp_path / "sites"
    folder.mkdir()
    _harvest(make_server(_beta()), folder / "b.db")
    merged = folder / "all.db"
    first = _merge(merged, folder / "b.db")
    assert first.exit_code == 0
    again = _merge(merged, *sorted(folder.glob("*.db")))  # sites/*.db names the archive too
    assert again.exit_code == 0 and f"Note: {merged} is the archive merged into: left as it is" in again.stderr
    with archive_lock(str(merged)):  # as a harvest holds it
        locked = _merge(merged, folder / "b.db")
    assert locked.exit_code == EXIT_LOCKED
    assert "is being harvested by another process" in locked.stderr


def test_vectors_of_the_archive_model_come_along_and_others_are_said(make_server, tmp_path) -> None:
    file_a, file_b, merged = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "merged.db"
    _harvest(make_server(_alpha()), file_a)
    _harvest(make_server(_beta()), file_b)
    assert _run("embed", "--db", str(file_a), "-q").exit_code == 0
    conn = sqlite3.connect(file_b)  # vectors of another model than file_a's
    conn.execute("INSERT INTO embeddings (key, model, dims, vector, text_sha256, generation) "
                 "SELECT key, 'other-model', 2, x'00000000', 'x', 1 FROM posts")
    conn.commit()
    conn.close()
    result = _merge(merged, file_a, file_b)
    assert result.exit_code == 0
    vectors = _count(file_a, "SELECT count(*) FROM embeddings")
    assert vectors and f"vectors {vectors} →" in result.stderr
    beta_posts = _count(file_b, "SELECT count(*) FROM posts")
    assert f"Note: {file_b}: {beta_posts} vectors of the model other-model left out" in result.stderr
    assert _count(merged, "SELECT count(DISTINCT model) FROM embeddings") == 1
    assert "Note: run 'wparchive embed" in result.stderr
    # embed then finds related posts across both sites, embedding only the posts without a vector
    embedded = _run("embed", "--db", str(merged))
    assert f"Embedded {beta_posts} posts and pages ({vectors} unchanged)" in embedded.stderr
    assert _count(merged, "SELECT count(*) FROM related") > 0


def test_downloaded_media_files_are_copied_into_the_archive_media_folder(make_server, tmp_path) -> None:
    file_a, merged = tmp_path / "a.db", tmp_path / "merged.db"
    result = _run("harvest", make_server(_alpha()).home + "/", "--db", str(file_a), "--delay", "0", "--media")
    assert result.exit_code == 0, result.output
    downloaded = sorted(p.relative_to(tmp_path / "a-media") for p in (tmp_path / "a-media").rglob("*") if p.is_file())
    assert downloaded
    merging = _merge(merged, file_a)
    assert f"files {len(downloaded)} ({len(downloaded)} copied)" in merging.stderr
    folder = tmp_path / "merged-media"
    assert sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file()) == downloaded
    assert all((folder / p).read_bytes() == (tmp_path / "a-media" / p).read_bytes() for p in downloaded)
    paths = {row[0] for row in sqlite3.connect(merged).execute("SELECT path FROM files WHERE sha256 IS NOT NULL")}
    assert paths == {p.as_posix() for p in downloaded}
    # a file lost from the archive's folder comes back with the next merge; the others are left alone
    (folder / downloaded[0]).unlink()
    again = _merge(merged, file_a)
    assert "files 0 (1 copied)" in again.stderr and (folder / downloaded[0]).is_file()


def test_only_files_named_as_media_names_them_and_inside_the_folder_are_copied(make_server, tmp_path) -> None:
    file_a, merged = tmp_path / "a.db", tmp_path / "merged.db"
    _harvest(make_server(_beta()), file_a)
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the archive")
    link = f"ab/{'ab' * 32}.png"
    (tmp_path / "a-media" / "ab").mkdir(parents=True)
    (tmp_path / "a-media" / link).symlink_to(secret)  # a file of the folder that leads out of it
    conn = sqlite3.connect(file_a)
    conn.executemany("INSERT INTO files (url, sha256, path) VALUES (?, 'ab', ?)",
                     [("http://127.0.0.1/a.png", link), ("http://127.0.0.1/b.png", "../secret.txt")])
    conn.commit()
    conn.close()
    result = _merge(merged, file_a)
    assert result.exit_code == 0 and "files 2 (0 copied)" in result.stderr
    assert not (tmp_path / "merged-media").exists()


def test_each_file_has_a_bar_on_a_terminal_and_quiet_prints_nothing(make_server, tmp_path) -> None:
    file_a, file_b, merged = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "merged.db"
    _harvest(make_server(_alpha()), file_a)
    _harvest(make_server(_beta()), file_b)
    records = {path: sum(_count(path, f"SELECT count(*) FROM {table}")
                         for table in ("users", "terms", "posts", "media", "comments")) for path in (file_a, file_b)}
    states = _on_a_terminal("merge", str(file_a), str(file_b), "--db", str(merged))
    for path, total in records.items():
        assert re.search(f"{total}/{total}  100%(  [\\d.,]+/s)?$", _last_state(states, str(path))), states
    assert states[-1] == f"Merged 2 of 2 archives into {merged}"
    quiet = _merge(tmp_path / "quiet.db", file_a, file_b, quiet=True)
    assert quiet.exit_code == 0 and quiet.output == ""


class _HarvestMeanwhile:
    """A Progress that, as the merge reads the first batch of records, has the source change under it
    as a harvest would: a post added, another one tombstoned, committed at once."""

    def __init__(self, path: Path) -> None:
        self.path, self.done = path, False

    def begin(self, task: str, total: int | None) -> None:
        pass

    def advance(self, count: int) -> None:
        if not self.done:
            self.done = True
            conn = sqlite3.connect(self.path)
            conn.execute("INSERT INTO posts (key, site_id, wp_id, type, title) VALUES ('1-777777', 1, 777777, "
                         "'post', 'Written meanwhile')")
            conn.execute("UPDATE posts SET deleted_at = '2030-01-01T00:00:00+00:00' WHERE wp_id = 9001")
            conn.commit()
            conn.close()

    def end(self, task: str) -> None:
        pass

    def note(self, message: str) -> None:
        pass


def test_a_source_is_read_as_one_snapshot_while_a_harvest_writes_it(make_server, tmp_path) -> None:
    file_a, merged = tmp_path / "a.db", tmp_path / "merged.db"
    _harvest(make_server(_alpha()), file_a)
    before = _count(file_a, "SELECT count(*) FROM posts")
    db = open_db(str(merged))
    source = open_source(str(file_a))
    meanwhile = _HarvestMeanwhile(file_a)
    merge_archive(db, source, label="a", progress=meanwhile)
    source.close()
    db.close()
    assert meanwhile.done
    assert _count(merged, "SELECT count(*) FROM posts") == before
    assert _count(merged, "SELECT count(*) FROM posts WHERE title = 'Written meanwhile' OR deleted_at IS NOT NULL") == 0


def test_an_archive_of_an_older_schema_merges(make_server, tmp_path) -> None:
    file_a, merged = tmp_path / "a.db", tmp_path / "merged.db"
    _harvest(make_server(_beta()), file_a)
    conn = sqlite3.connect(file_a)  # as wparchive wrote it before records could be kept incomplete (schema 2)
    indexes = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '%incomplete%'")
    for (name,) in indexes.fetchall():
        conn.execute(f'DROP INDEX "{name}"')
    for table in ("users", "terms", "posts", "media", "comments"):
        conn.execute(f'ALTER TABLE "{table}" DROP COLUMN incomplete')
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    result = _merge(merged, file_a)
    assert result.exit_code == 0, result.output
    assert _count(merged, "SELECT count(*) FROM posts WHERE incomplete IS NULL") == _count(
        file_a, "SELECT count(*) FROM posts") == 13
    assert _count(file_a, "PRAGMA user_version") == 2  # the source is left as it was


def test_an_interrupted_harvest_continues_from_the_merged_archive_as_from_its_file(
        make_server, client, tmp_path, interrupt_after) -> None:
    from wparchive.harvest import harvest_site

    server = make_server(Site(items=[Item(i, "post", f"Post {i}", f"<p>word{i}</p>") for i in range(1, 251)]))
    file_a, merged = tmp_path / "a.db", tmp_path / "merged.db"
    with pytest.raises(KeyboardInterrupt):  # after its first page of posts: a full pass half done
        harvest_site(open_db(str(file_a)), client, server.home + "/", progress=interrupt_after("post", 1))
    assert _count(file_a, "SELECT count(*) FROM sweep_seen") == 100
    assert _merge(merged, file_a).exit_code == 0
    for table in ("sync_state", "sweep_seen", "harvest_runs"):
        assert _snapshot(merged, (table,)) == _snapshot(file_a, (table,)), table
    requests = []
    for archive in (merged, file_a):  # the same requests, from where the pass stopped
        server.requests.clear()
        assert "post 150 new" in _harvest(server, archive)
        requests.append(list(server.requests))
    assert requests[0] == requests[1]
    assert _snapshot(merged) == _snapshot(file_a)


def test_the_archives_of_queue_workers_merge_into_what_one_harvest_makes(make_server, tmp_path) -> None:
    pytest.importorskip("huey", reason="the job queue needs huey: pip install 'wparchive[queue]'")
    import subprocess

    from test_queue import wparchive, worker_command, write_sites

    servers = [make_server(_alpha()), make_server(_beta())]
    urls = [server.home + "/" for server in servers]
    config, queue, out = write_sites(tmp_path / "config", urls), str(tmp_path / "jobs.sqlite"), tmp_path / "out"
    assert wparchive("enqueue", "--queue", queue, "--config", str(config)).returncode == 0
    worked = subprocess.run(worker_command(queue, out, config, "--burst", "--quiet", "--workers", "1"),
                            capture_output=True, text=True, timeout=300)
    assert (worked.returncode, worked.stderr) == (0, "")
    archives = sorted(out.glob("*.db"))
    assert len(archives) == 2
    direct, merged = tmp_path / "direct.db", tmp_path / "merged.db"
    for server in servers:
        _harvest(server, direct)
    assert _merge(merged, *archives).exit_code == 0
    assert _snapshot(merged) == _snapshot(direct)
