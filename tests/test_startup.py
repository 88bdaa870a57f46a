"""Starting fast: serve and export load neither the harvester nor the cleaner, a small harvest no process pool."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

# What a harvest needs and reading an archive does not: the network, HTML cleaning, validation.
# (BeautifulSoup is loaded only when a site without its REST API is read from its pages; the
# import-linter contracts keep it out of reading the archive.)
HARVEST_ONLY = ["lxml", "html_to_markdown", "pydantic", "requests", "wparchive.clean", "wparchive.records",
                "wparchive.harvest", "wparchive.sync", "wparchive.client"]

# Runs in a fresh interpreter: what this test process imported must not count.
PROGRAM = """
import json, sys
from wparchive.cli import cli
import wparchive.serve

wparchive.serve.run_server = lambda ds, listening: listening.close()  # all serve does, but serving
for args in json.loads(sys.argv[1]):
    code = cli.main(args, prog_name="wparchive", standalone_mode=False)
    assert code in (None, 0), (args, code)
loaded = [name for name in json.loads(sys.argv[2]) if name in sys.modules]
import wparchive.harvest  # the check itself: these names are what a harvest loads
print(json.dumps({"loaded": loaded, "missing_after_harvest": [n for n in json.loads(sys.argv[2])
                                                              if n not in sys.modules]}))
"""


def test_serve_and_export_load_neither_the_harvester_nor_the_cleaner(server, client, db, db_path, tmp_path) -> None:
    from wparchive.harvest import harvest_site

    harvest_site(db, client, server.home + "/")
    commands = [
        ["--help"], ["export", "--help"], ["serve", "--help"],
        ["export", str(tmp_path / "a.jsonl"), "--db", db_path, "-q"],
        ["export", "--format", "csv", str(tmp_path / "a.csv"), "--db", db_path, "-q"],
        ["export", "--format", "markdown", str(tmp_path / "md"), "--db", db_path, "-q"],
        ["serve", "--db", db_path, "--port", "0"],
    ]
    run = subprocess.run([sys.executable, "-c", PROGRAM, json.dumps(commands), json.dumps(HARVEST_ONLY)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["loaded"] == []
    assert report["missing_after_harvest"] == []  # so an empty "loaded" means something
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 29  # the commands did run
    assert f"Serving {db_path}" in run.stderr


def test_the_concurrency_limit_is_the_same_on_the_command_line_and_in_sites_toml(tmp_path) -> None:
    from click.testing import CliRunner

    from wparchive.cli import cli
    from wparchive.config import load_sites
    from wparchive.errors import ConfigError

    refused = CliRunner().invoke(cli, ["harvest", "http://127.0.0.1:9/", "--concurrency", "17"])
    assert refused.exit_code == 2 and "1<=x<=16" in refused.output
    sites = tmp_path / "sites.toml"
    sites.write_text('[[site]]\nurl = "http://127.0.0.1:9/"\nconcurrency = 17\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="concurrency"):
        load_sites(sites)
    sites.write_text('[[site]]\nurl = "http://127.0.0.1:9/"\nconcurrency = 16\n', encoding="utf-8")
    assert load_sites(sites)[0].concurrency == 16


# What a first harvest of a small site with its REST API does not load: the process pool, started
# only for a collection large enough to repay it, the reading of a site without its API (its feed,
# sitemaps and pages), and the exporters, whose choices the command line knows without them.
NOT_FOR_A_SMALL_HARVEST = ["multiprocessing", "concurrent.futures.process", "wparchive.fallback", "bs4",
                           "wparchive.export", "wparchive.wxr", "wparchive.static_site", "yaml"]

HARVEST_PROGRAM = """
import json, sys
from wparchive.cli import cli

names = json.loads(sys.argv[1])
try:
    cli.main(sys.argv[2:], prog_name="wparchive", standalone_mode=False)
except SystemExit as exit:
    assert exit.code in (None, 0), exit.code
print(json.dumps([name for name in names if name in sys.modules]))
import importlib
for name in names:  # the check itself: each is a module, so that an empty list means something
    importlib.import_module(name)
"""


def test_a_small_harvest_loads_no_process_pool_no_reading_of_sites_without_api_and_no_exporter(server,
                                                                                               tmp_path) -> None:
    db_path = str(tmp_path / "archive.db")
    run = subprocess.run([sys.executable, "-c", HARVEST_PROGRAM, json.dumps(NOT_FOR_A_SMALL_HARVEST), "harvest",
                          server.home + "/", "--db", db_path, "--delay", "0", "-q", "--workers", "2"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == []
    cleaned = sqlite3.connect(db_path).execute("SELECT count(*) FROM posts WHERE language = 'en'").fetchone()[0]
    assert cleaned > 0  # the harvest did clean, with the language model
