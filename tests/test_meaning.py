"""Finding by meaning: `wparchive embed` computes vectors offline and incrementally, and search by
meaning (or words and meaning fused) finds what the words miss, on the command line, the search
page and its JSON, through a real `wparchive serve`.

The model is wordllama's, shipped inside its wheel; these tests skip when it is not installed.
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import lxml.html
import pytest
import requests

from test_search_bounds import _config, serve_archive
from wparchive.db import ensure_db_shape, open_db

pytest.importorskip("wordllama", reason="finding by meaning needs the optional wordllama package (wparchive[meaning])")

# One post per subject, none of them with the words "car" or "mechanic".
POSTS = [
    ("1-1", "post", "Automobile repair",
     "How to repair an automobile: engines, brakes, gearboxes and oil changes at the garage."),
    ("1-2", "post", "Sourdough", "Baking bread with a sourdough starter, flour and water."),
    ("1-3", "post", "Tomatoes", "Growing tomatoes in the garden: seeds, compost and watering."),
    ("1-4", "page", "Servicing your vehicle", "When to take the van in for new tyres, a brake check and an engine tune."),
    ("1-5", "post", "Bicycle repair", "Mend a puncture, true a wheel, repair the chain of a bicycle."),
]
SRC = Path(__file__).resolve().parents[1] / "src"

# Put first on the path of a command, this makes every connection fail as on a machine with no
# network: a model that fetched anything would fail with it.
NO_NETWORK = '''
import socket
def _unreachable(*args, **kwargs):
    raise OSError(101, "Network is unreachable (wparchive's tests)")
socket.socket.connect = _unreachable
socket.socket.connect_ex = _unreachable
socket.create_connection = _unreachable
'''


def _make_archive(path: Path) -> str:
    db = open_db(str(path))
    with db.conn:
        db.execute("INSERT INTO sites (id, home, name) VALUES (1, 'https://example.org', 'Example')")
        db.conn.executemany("INSERT INTO posts (key, site_id, wp_id, type, title, date_gmt, content_text) "
                            "VALUES (?, 1, ?, ?, ?, ?, ?)",
                            [(key, n, kind, title, f"2024-0{n}-01", text)
                             for n, (key, kind, title, text) in enumerate(POSTS, start=1)])
    ensure_db_shape(db)
    db.conn.close()
    return str(path)


def _wparchive(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wparchive", *args], capture_output=True, text=True, timeout=300,
                          env=env)


def _keys(db: str, query: str, *options: str) -> list[str]:
    result = _wparchive("search", "--db", db, "--format", "csv", *options, query)
    assert result.returncode == 0, result.stderr
    return [row["key"] for row in csv.DictReader(io.StringIO(result.stdout))]


def _vectors(db: str) -> dict[str, tuple[str, int]]:
    conn = sqlite3.connect(db)
    try:
        return {key: (model, generation) for key, model, generation
                in conn.execute("SELECT key, model, generation FROM embeddings")}
    finally:
        conn.close()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> str:
    db = _make_archive(tmp_path_factory.mktemp("meaning") / "archive.db")
    result = _wparchive("embed", "--db", db)
    assert result.returncode == 0, result.stderr
    return db


def test_the_model_loads_and_embeds_with_the_network_unreachable(tmp_path: Path) -> None:
    db = _make_archive(tmp_path / "archive.db")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_NETWORK, encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    dead = "http://127.0.0.1:9"  # the discard port: nothing answers there
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(SRC), os.environ.get("PYTHONPATH", "")]),
           "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "HTTP_PROXY": dead, "HTTPS_PROXY": dead,
           "http_proxy": dead, "https_proxy": dead}
    env.pop("HF_HOME", None)
    blocked = subprocess.run([sys.executable, "-c", "import socket; socket.create_connection(('127.0.0.1', 9))"],
                             env=env, capture_output=True, text=True, timeout=60)
    assert "Network is unreachable" in blocked.stderr  # the block is in force in these commands

    embedded = _wparchive("embed", "--db", db, env=env)
    assert embedded.returncode == 0, embedded.stderr
    assert f"Embedded {len(POSTS)} posts and pages (0 unchanged);" in embedded.stderr
    found = _wparchive("search", "--db", db, "--mode", "meaning", "--format", "csv", "car mechanic", env=env)
    assert found.returncode == 0, found.stderr
    assert [row["key"] for row in csv.DictReader(io.StringIO(found.stdout))][0] == "1-1"
    assert list(home.iterdir()) == []  # no cache written: the model came from its package


def test_embed_is_incremental_and_a_new_model_embeds_everything_again(tmp_path: Path) -> None:
    db = _make_archive(tmp_path / "archive.db")
    first = _wparchive("embed", "--db", db)
    assert "Embedded 5 posts and pages (0 unchanged);" in first.stderr, first.stderr
    vectors = _vectors(db)
    assert sorted(vectors) == [key for key, *_ in POSTS]
    (model, generation), = set(vectors.values())
    assert model.startswith("wordllama-") and model.endswith("/l2_supercat-256")

    again = _wparchive("embed", "--db", db)
    assert "Embedded 0 posts and pages (5 unchanged) in" in again.stderr, again.stderr
    assert _vectors(db) == vectors

    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE posts SET content_text = 'Pruning apple trees in winter.' WHERE key = '1-3'")
        conn.execute("UPDATE posts SET deleted_at = '2026-01-01' WHERE key = '1-2'")  # the site no longer has it
    changed = _wparchive("embed", "--db", db)
    assert "Embedded 1 posts and pages (3 unchanged);" in changed.stderr, changed.stderr
    after = _vectors(db)
    assert sorted(after) == ["1-1", "1-3", "1-4", "1-5"]
    assert after["1-3"][1] > generation and after["1-1"] == vectors["1-1"]
    assert _keys(db, "fruit orchard", "--mode", "meaning")[:1] == ["1-3"]

    with conn:  # vectors of another model (an earlier wordllama, say): every post is embedded again
        conn.execute("UPDATE embeddings SET model = 'wordllama-0.1/l2_supercat-256'")
    conn.close()
    other = _wparchive("embed", "--db", db)
    assert "Embedded 4 posts and pages (0 unchanged);" in other.stderr, other.stderr
    assert {model for model, _ in _vectors(db).values()} == {model}


def test_meaning_finds_a_post_by_words_it_does_not_have(embedded: str) -> None:
    assert _keys(embedded, "car mechanic", "--mode", "words") == []
    by_meaning = _keys(embedded, "car mechanic", "--mode", "meaning")
    assert by_meaning[0] == "1-1" and set(by_meaning) <= {"1-1", "1-4", "1-5"}
    assert "1-2" not in by_meaning and "1-3" not in by_meaning  # bread and tomatoes are not near
    assert _keys(embedded, "car mechanic")[0] == "1-1"  # hybrid, the default, finds it too


def test_hybrid_holds_the_hits_of_both_and_ranks_first_what_both_find(embedded: str) -> None:
    words = _keys(embedded, "wheel", "--mode", "words")
    meaning = _keys(embedded, "wheel", "--mode", "meaning")
    hybrid = _keys(embedded, "wheel")
    assert words == ["1-5"]
    assert set(hybrid) == set(words) | set(meaning) and len(hybrid) == len(set(hybrid))
    assert set(meaning) - set(words)  # meaning adds what the words miss (the vehicle's tyres)
    assert hybrid[0] in set(words) & set(meaning)


def test_meaning_keeps_the_filters_and_orders(embedded: str) -> None:
    assert _keys(embedded, "car mechanic", "--mode", "meaning", "--type", "page") == ["1-4"]
    dated = _keys(embedded, "car mechanic", "--mode", "meaning", "--sort", "newest")
    assert dated == sorted(dated, key=lambda key: int(key.split("-")[1]), reverse=True)
    assert _keys(embedded, "car mechanic", "--mode", "meaning", "--limit", "1") == ["1-1"]


def test_meaning_in_an_archive_without_vectors_is_one_line_and_hybrid_is_words(tmp_path: Path) -> None:
    db = _make_archive(tmp_path / "archive.db")
    result = _wparchive("search", "--db", db, "--mode", "meaning", "car mechanic")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") <= 2 and "wparchive embed" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert _keys(db, "repair") == _keys(db, "repair", "--mode", "words")
    assert sorted(_keys(db, "repair")) == ["1-1", "1-5"]


def test_embed_without_the_model_package_says_what_to_install(tmp_path: Path) -> None:
    db = _make_archive(tmp_path / "archive.db")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['wordllama'] = None\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(SRC), os.environ.get("PYTHONPATH", "")])}
    result = _wparchive("embed", "--db", db, env=env)
    assert result.returncode == 1, result.stderr
    assert "wordllama" in result.stderr and "wparchive[meaning]" in result.stderr
    assert "Traceback" not in result.stderr


def test_harvest_embed_harvests_then_embeds_what_it_stored(make_server, tmp_path: Path) -> None:
    site = make_server()
    db = str(tmp_path / "archive.db")
    result = _wparchive("harvest", site.home + "/", "--db", db, "--delay", "0", "--embed")
    assert result.returncode == 0, result.stderr
    assert "Embedded" in result.stderr
    conn = sqlite3.connect(db)
    try:
        live = {key for (key,) in conn.execute("SELECT key FROM posts WHERE deleted_at IS NULL AND incomplete IS NULL")}
        assert live and set(_vectors(db)) == live
    finally:
        conn.close()


def test_harvest_embed_without_the_model_package_stops_before_fetching(make_server, tmp_path: Path) -> None:
    site = make_server()
    blocked = tmp_path / "site"
    blocked.mkdir()
    (blocked / "sitecustomize.py").write_text("import sys\nsys.modules['wordllama'] = None\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocked), str(SRC), os.environ.get("PYTHONPATH", "")])}
    db = tmp_path / "archive.db"
    result = _wparchive("harvest", site.home + "/", "--db", str(db), "--delay", "0", "--embed", env=env)
    assert result.returncode == 1, result.stderr
    assert "wparchive[meaning]" in result.stderr and "Traceback" not in result.stderr
    assert not db.exists() and site.requests == []  # nothing fetched, nothing written


@pytest.fixture(scope="module")
def served(embedded: str) -> Iterator[str]:
    with serve_archive(embedded) as address:
        yield address


def test_the_page_and_its_json_search_by_the_mode_asked(served: str) -> None:
    page = requests.get(f"{served}/-/wparchive/search", params={"q": "car mechanic", "mode": "meaning"}, timeout=60)
    assert page.status_code == 200
    tree = lxml.html.fromstring(page.text)
    assert tree.xpath("//select[@name='mode']/option[@selected]/@value") == ["meaning"]
    titles = [" ".join(a.text_content().split()) for a in tree.xpath("//a[@class='result-title']")]
    assert titles and titles[0] == "Automobile repair"

    words = requests.get(f"{served}/-/wparchive/search.json", params={"q": "car mechanic", "mode": "words"},
                         timeout=60).json()
    assert words["mode"] == "words" and words["rows"] == []
    meaning = requests.get(f"{served}/-/wparchive/search.json", params={"q": "car mechanic", "mode": "meaning"},
                           timeout=60).json()
    assert meaning["mode"] == "meaning" and meaning["rows"][0]["key"] == "1-1"
    hybrid = requests.get(f"{served}/-/wparchive/search.json", params={"q": "car mechanic"}, timeout=60).json()
    assert hybrid["mode"] == "hybrid" and hybrid["rows"][0]["key"] == "1-1"

    download = requests.get(f"{served}/-/wparchive/results.csv", params={"q": "car mechanic", "mode": "meaning"},
                            timeout=60)
    assert [row["key"] for row in csv.DictReader(io.StringIO(download.text))] == [
        row["key"] for row in meaning["rows"]]
    wrong = requests.get(f"{served}/-/wparchive/search.json", params={"q": "car", "mode": "vibes"}, timeout=60)
    assert wrong.status_code == 400 and "hybrid, words, meaning" in wrong.json()["error"]


def test_a_running_server_searches_the_vectors_an_embed_adds_while_it_serves(tmp_path: Path) -> None:
    db = _make_archive(tmp_path / "archive.db")
    assert _wparchive("embed", "--db", db).returncode == 0

    def by_meaning(address: str) -> list[str]:
        answer = requests.get(f"{address}/-/wparchive/search.json", params={"q": "lorry haulage", "mode": "meaning"},
                              timeout=60)
        assert answer.status_code == 200, answer.text
        return [row["key"] for row in answer.json()["rows"]]

    with serve_archive(db) as address:
        assert "1-6" not in by_meaning(address)  # the server has read the vectors by now
        conn = sqlite3.connect(db)
        with conn:
            conn.execute("INSERT INTO posts (key, site_id, wp_id, type, title, date_gmt, content_text) VALUES "
                         "('1-6', 1, 6, 'post', 'Trucking', '2024-06-01', "
                         "'Our lorries carry freight by road: haulage, trucks and their drivers.')")
        conn.close()
        assert "1-6" not in by_meaning(address)  # a post without a vector is not found by meaning
        result = _wparchive("embed", "--db", db)
        assert result.returncode == 0, result.stderr
        assert by_meaning(address)[0] == "1-6"


# A second site: a post on the subject of 1-1 in other words, and one on bread.
OTHER_SITE = [("2-1", "Garage work", "Our garage fixes cars: engine repair, brake repair and oil changes for every automobile."),
              ("2-2", "Rye bread", "Baking rye bread with a sourdough starter.")]


def _related(db: str) -> dict[str, list[str]]:
    conn = sqlite3.connect(db)
    try:
        found: dict[str, list[str]] = {}
        for key, related in conn.execute("SELECT key, related FROM related ORDER BY key, rank"):
            found.setdefault(key, []).append(related)
        return found
    finally:
        conn.close()


def test_related_posts_of_both_sites_are_on_the_reader_page(tmp_path: Path) -> None:
    db = _make_archive(tmp_path / "archive.db")
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("INSERT INTO sites (id, home, name) VALUES (2, 'https://other.example', 'Other Garage')")
        conn.executemany("INSERT INTO posts (key, site_id, wp_id, type, title, content_text) VALUES (?, 2, ?, 'post', ?, ?)",
                         [(key, n, title, text) for n, (key, title, text) in enumerate(OTHER_SITE, start=1)])
    result = _wparchive("embed", "--db", db)
    assert result.returncode == 0, result.stderr
    related = _related(db)
    assert related["1-1"][0] == "2-1" and "1-4" in related["1-1"]  # the other site's garage, this site's van
    assert related["1-2"] == ["2-2"]  # bread with bread, nothing else
    assert "1-3" not in related  # tomatoes are like nothing here
    assert all(key not in others for key, others in related.items())

    with serve_archive(db) as address:
        page = requests.get(f"{address}/-/wparchive/post/1-1", timeout=60)
        assert page.status_code == 200
        items = lxml.html.fromstring(page.text).xpath("//ul[@class='wparchive-related']/li")
        shown = [(" ".join(li.xpath("string(a)").split()), " ".join(li.xpath("string(span)").split())) for li in items]
        assert shown[0] == ("Garage work", "Other Garage")
        assert ("Servicing your vehicle", "this site · 2024-04-01") in shown
        assert "Sourdough" not in page.text
        tomatoes = requests.get(f"{address}/-/wparchive/post/1-3", timeout=60)
        assert tomatoes.status_code == 200 and "wparchive-related" not in tomatoes.text

    with conn:  # the other site's garage post is gone: it is nobody's related post any more
        conn.execute("UPDATE posts SET deleted_at = '2026-01-01' WHERE key = '2-1'")
    conn.close()
    again = _wparchive("embed", "--db", db)
    assert "Embedded 0 posts and pages (6 unchanged);" in again.stderr, again.stderr
    assert all("2-1" not in others for others in _related(db).values()) and "2-1" not in _related(db)


LONG = ("Sow tomato seeds indoors in March, six weeks before the last frost, in small pots of seed compost on "
        "a warm windowsill. Prick them out into bigger pots when the first true leaves show, keep them moist "
        "but never soggy, and plant them out in May against a sunny wall, staked, with a mulch of compost.")


def test_near_duplicates_are_grouped_across_sites_and_listed_by_a_canned_query(tmp_path: Path) -> None:
    db = _make_archive(tmp_path / "archive.db")
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("INSERT INTO sites (id, home, name) VALUES (2, 'https://copy.example', 'Copycat')")
        conn.execute("UPDATE posts SET content_text = ? WHERE key = '1-3'", [LONG])
        conn.executemany("INSERT INTO posts (key, site_id, wp_id, type, title, content_text, date_gmt) "
                         "VALUES (?, 2, ?, 'post', ?, ?, '2025-01-01')",
                         [("2-1", 1, "Tomatoes", LONG.replace("windowsill", "sill", 1)),  # copied, one word changed
                          ("2-2", 2, "Tomatoes", LONG[:len(LONG) // 3])])  # a third of it: not a duplicate
    conn.close()
    result = _wparchive("embed", "--db", db)
    assert result.returncode == 0, result.stderr
    assert "2 posts in groups of near-duplicates" in result.stderr, result.stderr

    with serve_archive(db) as address:
        answer = requests.get(f"{address}/archive/near_duplicates.json", params={"_shape": "array"}, timeout=60)
        assert answer.status_code == 200, answer.text
        rows = answer.json()
    assert [(row["group_key"], row["key"], row["site"]) for row in rows] == [
        ("1-3", "1-3", "Example"), ("1-3", "2-1", "Copycat")]
    assert rows[0]["similarity"] == 1.0 and 0.8 <= rows[1]["similarity"] < 1.0


def test_a_server_of_many_archives_keeps_the_vectors_of_each_it_searched(tmp_path: Path, monkeypatch) -> None:
    """Six archives with vectors, served together: a search by meaning reads each one's vectors once,
    and the next finds them kept. Within a bound on their bytes, the least recently searched go first."""
    import asyncio
    import shutil
    from collections import OrderedDict

    from wparchive import meaning
    from wparchive.db.queries import VECTORS_SQL
    from wparchive.serve import build_datasette

    first = _make_archive(tmp_path / "a.db")
    assert _wparchive("embed", "--db", first).returncode == 0
    names = ["a", "b", "c", "d", "e", "f"]
    for name in names[1:]:
        shutil.copy(first, tmp_path / f"{name}.db")
    # with Datasette's trace of each query run, asked for with _trace=1
    ds = build_datasette([str(tmp_path / f"{name}.db") for name in names], config=_config(tmp_path, trace_debug=True))

    async def read_vectors(*searches: str) -> list[list[str]]:
        """For each search (of every archive, or of the one named), the archives whose vectors it read."""
        await ds.invoke_startup()
        read = []
        for database in searches:
            answer = await ds.client.get("/-/wparchive/search.json", params={
                "q": "car mechanic", "mode": "meaning", "_trace": "1", **({"database": database} if database else {})},
                headers={"cache-control": "no-cache"})
            assert answer.status_code == 200, answer.text
            read.append([trace["database"] for trace in answer.json()["_trace"]["traces"] if trace["sql"] == VECTORS_SQL])
        return read

    monkeypatch.setattr(meaning, "_indexes", OrderedDict())  # none kept yet
    assert asyncio.run(read_vectors("", "")) == [names, []]
    one = meaning._size(next(iter(meaning._indexes.values())))
    monkeypatch.setattr(meaning, "_indexes", OrderedDict())  # none kept yet
    monkeypatch.setattr(meaning, "KEPT_INDEX_BYTES", 2 * one)  # room for two
    assert asyncio.run(read_vectors("a", "b", "a", "c", "a", "b")) == [["a"], ["b"], [], ["c"], [], ["b"]]
