"""What the README says holds: its commands parse, its URLs answer, its tables, columns, exit codes,
defaults and module layers are the code's, and every measured figure it quotes is in BENCHMARKS.md.

The claims are read out of README.md itself, so a sentence added or changed there is checked too;
each extraction also asserts it found the claims it must, so that a change of wording cannot turn a
check into one that passes on nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import signal
import sqlite3
from pathlib import Path
from typing import Any, Iterator

import click
import pytest
import yaml
from click.testing import CliRunner

import test_crash_safety
import test_search_bounds
from wparchive import cli as cli_module
from wparchive import client as client_module
from wparchive import (duplicates, export, export_choices, meaning, pagination, parallel, responses, search,
                       static_site, web)
from wparchive.cli import cli
from wparchive.db import queries, schema
from wparchive.fallback import MAX_SKIPPED_KEPT
from wparchive.pagination import MAX_BLIND_PAGES
from wparchive.paths import config_dir
from wparchive.sample.content import sample_site
from wparchive.sample.server import WordPressServer
from wparchive.serve import build_datasette
from wparchive.web import READ_BUSY_TIMEOUT_MS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BENCHMARKS = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
# What people wrote, without the --help blocks that cog generates (tests/test_docs.py checks those).
PROSE = re.sub(r"<!-- \[\[\[cog.*?\[\[\[end\]\]\] -->", "", README, flags=re.S)
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
PROSE_TEXT = FENCE.sub("", PROSE)  # the sentences, without shell snippets and example output


def said(phrase: str) -> bool:
    """Whether the README's sentences say phrase, however their lines are wrapped."""
    return " ".join(phrase.split()) in " ".join(PROSE_TEXT.split())


def _default(command: str, option: str) -> Any:
    return next(p.default for p in cli.commands[command].params if p.name == option)


def _parse(name: str, args: list[str], **extra: Any) -> click.Context:
    """Parse a command line as `wparchive NAME ARGS` would, running nothing. The group's context is
    the parent, as when the CLI runs: click caches a command's help option from the first context it
    sees, and one without the group's settings would leave `-h` out of every later --help."""
    parent = click.Context(cli, info_name="wparchive", **cli.context_settings)
    return cli.commands[name].make_context(name, list(args), parent=parent, **extra)


def _option_names(command: str) -> set[str]:
    return {name for p in cli.commands[command].params for name in (*p.opts, *p.secondary_opts)}


# ---------------------------------------------------------------------------------------------
# Commands: every `wparchive ...` line of the README's code blocks parses with the real CLI.

# A line of a snippet, or an example of the generated help (indented six), after a prompt, `&&`,
# `ExecStart=`, environment variables or a path; not the help's sentences that begin with the name.
_COMMAND_LINE = re.compile(r"(?:^(?: {6})?(?:\$ )?|&& |ExecStart=)(?:[A-Z_]+=(?:\"[^\"]*\"|\S+) )*(?:\S*/)?"
                           r"wparchive ([a-z][a-z-]*)(.*)$")


def _command_lines() -> list[tuple[str, list[str]]]:
    found = []
    for block in FENCE.findall(README):  # the generated help's examples too
        for line in block.splitlines():
            match = _COMMAND_LINE.search(line)
            if not match or "--help" in line:
                continue
            rest = re.split(r"\s#|\s\||\s>|\s&&|\s&\s*$", match.group(2) + " ")[0]
            found.append((match.group(1), shlex.split(rest)))
    return found


COMMAND_LINES = _command_lines()


def test_the_readme_shows_commands() -> None:
    shown = {name for name, _ in COMMAND_LINES}
    assert len(COMMAND_LINES) > 25
    assert {"harvest", "serve", "status", "search", "export", "demo", "sample-site"} <= shown, shown


@pytest.mark.parametrize("name, args", COMMAND_LINES, ids=[" ".join([n, *a]) for n, a in COMMAND_LINES])
def test_every_command_line_parses(name: str, args: list[str]) -> None:
    assert name in cli.commands, f"wparchive has no command {name!r}"
    try:
        _parse(name, args)
    except click.BadParameter as exc:
        # An option naming a folder that must exist (`--config ~/archive-config`) is the reader's
        # folder, not this machine's: the line parsed.
        if "does not exist" not in exc.format_message():
            pytest.fail(f"wparchive {name} {shlex.join(args)}: {exc.format_message()}")
    except click.UsageError as exc:
        pytest.fail(f"wparchive {name} {shlex.join(args)}: {exc.format_message()}")


# Commands named in sentences (`wparchive export --format csv`, `serve -i`) are fragments: their
# arguments may be left out, but every option they name must be the command's, with a valid value.
_FRAGMENT = re.compile(r"`(?:wparchive )?(harvest|serve|status|search|export|rebuild|demo|sample-site)"
                       r"((?: -{1,2}[a-z][a-z-]*(?: [A-Za-z0-9_.-]+)?)+)`")
FRAGMENTS = [(m.group(1), m.group(2).split()) for m in _FRAGMENT.finditer(PROSE_TEXT)]


def test_the_sentences_name_commands_with_options() -> None:
    assert ("serve", ["-i"]) in FRAGMENTS and ("serve", ["--media-dir", "DIR"]) in FRAGMENTS, FRAGMENTS


@pytest.mark.parametrize("name, args", FRAGMENTS, ids=[" ".join([n, *a]) for n, a in FRAGMENTS])
def test_every_command_named_in_a_sentence_has_its_options(name: str, args: list[str]) -> None:
    unknown = [arg for arg in args if arg.startswith("-") and arg not in _option_names(name)]
    assert not unknown, f"wparchive {name} has no option {unknown}"
    _parse(name, args, resilient_parsing=True)


# Options named alone in sentences (`--timeout`, `--wpcom`): each belongs to a command of wparchive,
# but for those of the other tools whose command lines the README shows.
OTHER_TOOLS_OPTIONS = {
    "-e": "pip install -e .",
    "-m": "datasette -m (metadata)", "--setting": "datasette --setting",
    "--activate": "wp plugin install --activate", "--authors": "wp import --authors=create",
    "-u": "journalctl -u", "--source": "jekyll build --source",
}


def test_every_option_named_is_one_of_wparchive() -> None:
    spans = re.findall(r"`([^`\n]+)`", PROSE_TEXT) + FENCE.findall(PROSE)
    named = set(re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)", "\n".join(spans)))
    ours = set().union(*(_option_names(name) for name in cli.commands))
    assert len(named & ours) > 30  # the extraction finds what it should
    assert named - ours == set(OTHER_TOOLS_OPTIONS), "options named in the README that no command has"


def test_quiet_is_on_the_commands_the_readme_names() -> None:
    sentence = re.search(r"`-q` on ((?:`\w+`(?:, | and )?)+) leaves only errors", PROSE)
    assert sentence, "the sentence on -q moved: update this test"
    named = set(re.findall(r"`(\w+)`", sentence.group(1)))
    assert named == {name for name in cli.commands if "-q" in _option_names(name)}


def test_make_targets_and_variables_exist() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, re.M))
    variables = dict(re.findall(r"^(\w+) \?= (\S+)", makefile, re.M))
    for line in re.findall(r"`(make [^`]+)`", PROSE) + re.findall(r"^make [^\n]+", PROSE, re.M):
        words = line.split()[1:]
        assert words and words[0] in targets, line
        assert all(word.split("=")[0] in variables for word in words[1:] if "=" in word), line
    # make demo's ports are the demo's own defaults, and the address the README gives
    assert variables["PORT"] == str(_default("demo", "port")) == str(_default("serve", "port"))
    assert variables["SITE_PORT"] == str(_default("demo", "site_port"))
    assert said(f"http://127.0.0.1:{_default('serve', 'port')}/")
    assert said("into `demo.db`") and _default("demo", "db_path") == "demo.db"
    assert said("(`--db`, `archive.db` by default)") and _default("search", "db_path") == ["archive.db"]


# ---------------------------------------------------------------------------------------------
# Exit codes.

def test_exit_codes_are_the_cli_s() -> None:
    sentence = re.search(r"Exit codes, the same for every command: (.*?)\.\s", PROSE, re.S)
    assert sentence, "the sentence on exit codes moved: update this test"
    stated = {meaning: int(code) for code, meaning in re.findall(
        r"`(\d+)` (done|failed|a mistake|partial|another harvest|interrupted)", sentence.group(1))}
    assert stated == {"done": cli_module.EXIT_OK, "failed": cli_module.EXIT_FAILED,
                      "a mistake": click.UsageError.exit_code, "partial": cli_module.EXIT_PARTIAL,
                      "another harvest": cli_module.EXIT_LOCKED, "interrupted": cli_module.EXIT_INTERRUPTED}
    assert said("exits 130, 143 or 129 (128 + the signal)")
    assert (cli_module.EXIT_INTERRUPTED, cli_module.EXIT_TERMINATED) == (128 + signal.SIGINT, 128 + signal.SIGTERM)
    assert 128 + signal.SIGHUP == 129
    assert PROSE.count("(exit code 75)") >= 2 and said("exit code 2") and said("(exit 2)")


# ---------------------------------------------------------------------------------------------
# The archive as served: an archive harvested from the sample site through the CLI.

@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Iterator[str]:  # type: ignore[no-untyped-def]
    server = WordPressServer(sample_site()).start()
    try:
        path = str(tmp_path_factory.mktemp("readme") / "archive.db")
        result = CliRunner().invoke(cli, ["harvest", server.home + "/", "--db", path, "--media", "--delay", "0", "-q"])
        assert result.exit_code == 0, result.output
        yield path
    finally:
        server.stop()


def _relations(path: str) -> dict[str, set[str]]:
    conn = sqlite3.connect(path)
    try:
        names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
        return {name: {row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')} for name in names}
    finally:
        conn.close()


def _archive_table_rows() -> list[tuple[list[str], str]]:
    section = PROSE.split("### The archive", 1)[1].split("\n\n", 2)[1]
    rows = re.findall(r"^\| (`[^|]+`) \| ([^\n]+) \|$", section, re.M)
    return [(re.findall(r"`(\w+)`", names), description) for names, description in rows]


def test_tables_views_and_columns_the_readme_names_exist(archive) -> None:
    relations = _relations(archive)
    rows = _archive_table_rows()
    tables = [name for names, _ in rows for name in names]
    assert len(tables) > 15 and {"posts", "sync_state", "sweep_seen"} <= set(tables)
    assert not set(tables) - set(relations), "tables the README lists that the archive lacks"
    views = re.search(r"^Views: (.*)\.$", PROSE, re.M)
    assert views
    assert set(re.findall(r"`(\w+)`", views.group(1))) <= set(relations) - set(tables)

    posts_row = next(description for names, description in rows if names == ["posts"])
    posts_columns = re.findall(r"`(\w+)`", posts_row)
    assert len(posts_columns) >= 8 and not set(posts_columns) - relations["posts"]

    dotted = {(table, column) for table, column in re.findall(r"`(\w+)\.(\w+)`", PROSE)
              if column not in ("toml", "yml", "json", "py", "db", "md", "xml", "html", "csv")}
    assert len(dotted) >= 4
    for table, column in dotted:
        if table in relations:
            assert column in relations[table], f"{table}.{column}"

    records = ("posts", "comments", "terms", "users", "media")
    claims = {
        "Every record carries `response_url`, `fetched_at`, `run_id` and `raw_sha256`":
            {t: {"response_url", "fetched_at", "run_id", "raw_sha256", "warc_record_id"} for t in records},
        "get `deleted_at` and `deleted_run_id`": {t: {"deleted_at", "deleted_run_id"} for t in records},
        "Every table of records has `incomplete`": {t: {"incomplete"} for t in records},
        "Each post also gets `headings`": {"posts": {"headings", "word_count", "reading_minutes", "language",
                                                     "pages", "shortcodes", "source"}},
        "the `kind` column of `sync_state` and `run_collections`": {"sync_state": {"kind"},
                                                                      "run_collections": {"kind"}},
        "show each site's runs: new, updated, removed, errors": {"run_summary": {"new", "updated", "removed",
                                                                                 "errors", "status"}},
    }
    for sentence, columns in claims.items():
        assert said(sentence), sentence
        for table, names in columns.items():
            assert names <= relations[table], (sentence, table, names - relations[table])


def _get(db_path: str, paths: list[str]) -> dict[str, Any]:
    async def fetch() -> dict[str, Any]:
        ds = build_datasette(db_path)
        await ds.invoke_startup()
        return {path: await ds.client.get(path, follow_redirects=True) for path in paths}
    return asyncio.run(fetch())


def _readme_paths(archive: str) -> list[str]:
    """Every address of the archive the README gives, with its placeholders filled in."""
    conn = sqlite3.connect(archive)
    media_path = conn.execute("SELECT path FROM files WHERE sha256 IS NOT NULL").fetchone()[0]
    conn.close()
    fill = {"…": "compost", "TABLE": "posts", "KEY": "1-1002", "QUERY": "compost"}
    paths = set()
    for found in re.findall(r"(?<![\w/.~-])(/(?:-/wparchive|archive)/[^\s`)\"']*)", PROSE):
        if found == "/-/wparchive/":  # where the plugin's pages are, not a page
            continue
        if found.startswith("/-/wparchive/media/"):
            found = "/-/wparchive/media/" + media_path
        for placeholder, value in fill.items():
            found = found.replace(placeholder, value)
        paths.add(found)
    canned = re.search(r"\*\*Canned queries\*\*: (.*?)\.\n", PROSE, re.S)
    views = re.search(r"^Views: (.*)\.$", PROSE, re.M)
    assert canned and views
    metadata = yaml.safe_load((config_dir() / "metadata.yml").read_text(encoding="utf-8"))
    named = {query.split("?")[0] for query in re.findall(r"`([^`]+)`", canned.group(1))}
    assert named == set(metadata["databases"]["archive"]["queries"]), "the canned queries the README lists"
    for query in re.findall(r"`([^`]+)`", canned.group(1)) + re.findall(r"`(\w+)`", views.group(1)):
        paths.add("/archive/" + query.replace("…", "1-1002" if "key=" in query else "https://example.org/"))
    paths.update(f"/archive/{name}" for names, _ in _archive_table_rows() for name in names)
    # arguments the README gives beside an address rather than in it
    search_args = re.search(r"The same search as data: .*?\(the page's 20 hits.*?; (.*?) as on\s+the page", PROSE, re.S)
    assert search_args
    arguments = "&".join(re.findall(r"`(\w+=[^`]+)`", search_args.group(1)))
    assert arguments.count("=") == 6, arguments
    paths.add("/-/wparchive/search.json?q=compost&" + arguments)
    for phrase, path in {"`to=2023` keeps all of 2023": "/-/wparchive/search?q=compost&from=2023&to=2023",
                         "(`sort=relevance`, `newest` or `oldest`)": "/-/wparchive/search?q=compost&sort=oldest",
                         "(also `.json`, and `.jsonl` for JSON lines)": "/-/wparchive/results.jsonl?q=compost",
                         "(`?_facet_terms=tags` asks for one)": "/archive/posts?_facet_terms=tags",
                         "(`?bom=1` adds the byte order mark": "/-/wparchive/stream/posts.csv?bom=1"}.items():
        assert said(phrase), phrase
        paths.add(path)
    return sorted(paths)


def test_every_address_the_readme_gives_answers(archive) -> None:
    paths = _readme_paths(archive)
    for expected in ("/-/wparchive/search?q=compost", "/-/wparchive/post/1-1002", "/-/wparchive/stream/posts.csv",
                     "/-/wparchive/results.csv?q=compost&type=page", "/archive/posts.csv?_stream=on&_size=max",
                     "/archive/linking_posts?url=https://example.org/", "/archive/run_summary"):
        assert expected in paths, expected
    answers = _get(archive, paths)
    failed = {path: answer.status_code for path, answer in answers.items() if answer.status_code != 200}
    assert not failed, failed


def test_the_plugin_s_pages_are_where_the_readme_says() -> None:
    assert said("The plugin's own pages, but for the home page, are all under `/-/wparchive/`")
    patterns = [pattern for pattern, _ in web.register_routes()]
    assert r"^/(?P<format>)$" in patterns and len(patterns) > 5
    assert all(pattern.startswith("^" + web.ROUTE_PREFIX) for pattern in patterns if pattern != r"^/(?P<format>)$")


def test_the_search_data_is_as_the_readme_says(archive) -> None:
    answers = _get(archive, ["/-/wparchive/search.json?q=compost", "/-/wparchive/search.json?q=NEAR(compost&advanced=1",
                             "/-/wparchive/results.csv?q=compost", "/archive/posts"])
    data = answers["/-/wparchive/search.json?q=compost"].json()
    assert {"rows", "total", "facets"} <= set(data) and data["page_size"] == 20
    assert said("the page's 20 hits, the total and the facets")
    assert set(data["facets"]) == {"site", "type", "year", "author", "category", "tag"}
    assert said("facets on site, type, year, author, category and tag")
    assert "[[" in data["rows"][0]["snippet"] and "<mark>" in data["rows"][0]["snippet_html"]
    malformed = answers["/-/wparchive/search.json?q=NEAR(compost&advanced=1"]
    assert malformed.status_code == 400 and set(malformed.json()) == {"error"}
    assert said("a malformed search is a 400 with `{\"error\": …}`")
    assert "[[" in answers["/-/wparchive/results.csv?q=compost"].text
    readable = answers["/archive/posts"]  # /archive/posts leads to the readable columns
    assert [arg for arg in readable.url.query.decode().split("&") if arg.startswith("_col=")] == [
        "_col=title", "_col=date_gmt", "_col=type", "_col=author", "_col=categories", "_col=tags", "_col=word_count"]
    assert said("title (a link to the post's page), date, type, author, categories and tags")


def test_the_search_page_s_links_download_its_search(archive) -> None:
    assert said("The page's *CSV* and *JSON* links download every result of the search it shows, with its filters "
                "and in its order")
    page = _get(archive, ["/-/wparchive/search?q=compost&type=post&sort=newest"])
    links = re.findall(r'href="([^"]*/results\.[a-z]+\?[^"]*)"[^>]*>(CSV|JSON)<', page.popitem()[1].text)
    assert sorted(links) == [("/-/wparchive/results.csv?q=compost&amp;type=post&amp;sort=newest", "CSV"),
                             ("/-/wparchive/results.json?q=compost&amp;type=post&amp;sort=newest", "JSON")]


def test_the_command_line_search_writes_what_the_page_downloads(archive) -> None:
    assert said("`--format csv`, `json` or `jsonl` writes the rows a download from the page has, with the same columns")
    result = CliRunner().invoke(cli, ["search", "--db", archive, "--format", "csv", "compost"])
    assert result.exit_code == 0, result.output
    download = _get(archive, ["/-/wparchive/results.csv?q=compost"])["/-/wparchive/results.csv?q=compost"].text
    assert result.stdout.splitlines()[0] == download.splitlines()[0]
    assert len(result.stdout.strip().splitlines()) == len(download.strip().splitlines()) > 1


def test_the_markdown_export_is_laid_out_as_the_readme_says(archive, tmp_path) -> None:
    out = tmp_path / "site"
    result = CliRunner().invoke(cli, ["export", "--format", "markdown", "--db", archive, str(out)])
    assert result.exit_code == 0, result.output
    assert said("posts in `_posts/YYYY-MM-DD-slug.md`, pages in `pages/`")
    posts = sorted((out / "_posts").iterdir())
    assert posts and all(re.fullmatch(r"\d{4}-\d{2}-\d{2}-[\w-]+\.md", post.name) for post in posts)
    assert sorted((out / "pages").glob("*.md"))
    named = ["config.toml", "_config.yml", "_layouts/default.html", "_redirects", "_nginx-redirects.conf",
             "_apache-redirects.conf"]
    for name in named:
        assert said(f"`{name}`") and (out / name).is_file(), name
    assert any((out / "images").iterdir())  # what --media downloaded, copied into images/
    front = (out / "_posts" / posts[0].name).read_text(encoding="utf-8").split("---\n")[1]
    keys = set(re.findall(r"^(\w+):", front, re.M))
    # title, date with the site's UTC offset, slug, original URL, categories, tags, author, WordPress id
    assert {"title", "date", "slug", "url_original", "categories", "tags", "author", "wordpress_id"} <= keys
    assert re.search(r'^date: "\d{4}-\d{2}-\d{2}T[\d:]{8}[+-]\d{2}:\d{2}"$', front, re.M)
    assert said("(title, date with the site's UTC offset, slug, original URL, categories, tags, author, WordPress id)")

    bare = tmp_path / "bare"
    result = CliRunner().invoke(cli, ["export", "--format", "markdown", "--no-layouts", "--db", archive, str(bare)])
    assert result.exit_code == 0, result.output
    assert said("`--no-layouts` leaves these out")
    left_out = ["config.toml", "_config.yml", "_layouts", "layouts", "index.html"]
    assert all((out / name).exists() and not (bare / name).exists() for name in left_out)
    assert sorted(path.name for path in (bare / "_posts").iterdir()) == [post.name for post in posts]


# ---------------------------------------------------------------------------------------------
# Figures: a measured one comes from BENCHMARKS.md; the others are settings, each the code's.

SETTINGS = {
    # phrase of the README: the value the code has, written as the README writes it
    f"`--timeout` ({_default('harvest', 'timeout'):g} s)": "harvest --timeout's default",
    f"`--max-response-mb` ({_default('harvest', 'max_response_mb')} MB;": "harvest --max-response-mb's default",
    f"{responses.PIECE // 1024} KB at a time": "responses.PIECE, what a compressed body inflates in one step",
    f"(with its first {client_module._PREVIEW // 1024} KB)": "client._PREVIEW, what is kept of a body over the cap",
    f"costs at most {pagination.MAX_NARROWING_REQUESTS} requests": "pagination.MAX_NARROWING_REQUESTS",
    f"waits up to {schema.BUSY_TIMEOUT_MS // 1000} s for a lock": "db.schema.BUSY_TIMEOUT_MS",
    f"Datasette's connections {READ_BUSY_TIMEOUT_MS // 1000} s;": "web.READ_BUSY_TIMEOUT_MS",
    f"a {test_search_bounds.BIG // 1_000_000} MB post": "the hostile post of tests/test_search_bounds.py",
    f"`--max-mb` ({export_choices.WXR_MAX_MB} MB,": "export --max-mb's default",
    (f"`sql_time_limit_ms` ({json.loads((config_dir() / 'settings.json').read_text())['sql_time_limit_ms'] // 1000} s"
     " in `config/settings.json`)"): "the bundled Datasette settings",
    f"about {round(duplicates.THRESHOLD * 100)} % or more of": "duplicates.THRESHOLD, how alike near-duplicates are",
    f"up to {meaning.KEPT_INDEX_BYTES // 1024**3} GB of them together": "meaning.KEPT_INDEX_BYTES",
    # a setting of the past, not a measurement: tests/test_concurrent_serving.py reads for twice as long
    "twice the 5 s a harvest used to wait": "the busy timeout before BUSY_TIMEOUT_MS",
}

_FIGURE = re.compile(r"(?<![\w.,–-])(\d[\d,]*(?:\.\d+)?(?:–\d[\d,]*(?:\.\d+)?)?)\s?"
                     r"(ms|s|MB|KB|GB|%|×|posts a second|requests)(?!\w)")
_RATIO = re.compile(r"(?<![\w.,–-])(0\.\d+(?:–0?\.\d+)?)(?![\w.])")
_UNIT_IN_BENCHMARKS = {"posts a second": ("/s", " posts/s"), "%": (" %", "%"), "×": ("×",), "s": (" s",),
                       "ms": (" ms",), "MB": (" MB",), "KB": (" KB",), "GB": (" GB",), "requests": (" requests",)}
_UNIT_IN_HEADERS = {"posts a second": "posts/s", "ms": "ms", "MB": "MB", "s": "s", "requests": "requests"}


def _table_cells() -> list[tuple[str, str]]:
    """(column header, cell) of every table of BENCHMARKS.md."""
    cells = []
    for table in re.findall(r"((?:^\|[^\n]*\|\n)+)", BENCHMARKS, re.M):
        lines = table.splitlines()
        header = [cell.strip() for cell in lines[0].strip("|").split("|")]
        for line in lines[2:]:
            cells += zip(header, (cell.strip() for cell in line.strip("|").split("|")), strict=True)
    return cells


def _in_benchmarks(number: str, unit: str | None) -> bool:
    standalone = rf"(?<![\d.,–]){re.escape(number)}(?![\d–]|[.,]\d)"
    if unit is None:
        return re.search(standalone, BENCHMARKS) is not None
    if any(re.search(standalone + re.escape(form), BENCHMARKS) for form in _UNIT_IN_BENCHMARKS[unit]):
        return True
    header_unit = _UNIT_IN_HEADERS.get(unit)
    return header_unit is not None and any(
        re.search(rf"\b{re.escape(header_unit)}\b", header) and re.match(standalone, cell)
        for header, cell in _table_cells())


def _measured_figures() -> list[tuple[str, str | None, str]]:
    """(number, unit, context) of every figure in the README's sentences that no setting explains."""
    settings_spans = [range(m.start(), m.end()) for phrase in SETTINGS
                      for m in re.finditer(r"\s+".join(map(re.escape, phrase.split())), PROSE_TEXT)]
    figures = []
    for pattern in (_FIGURE, _RATIO):
        for match in pattern.finditer(PROSE_TEXT):
            if any(match.start() in span for span in settings_spans):
                continue
            unit = match.group(2) if pattern is _FIGURE else None
            figures.append((match.group(1), unit, PROSE_TEXT[max(0, match.start() - 50):match.end() + 20]))
    return figures


def test_every_setting_quoted_is_the_code_s() -> None:
    missing = [f"{phrase!r} ({source})" for phrase, source in SETTINGS.items() if not said(phrase)]
    assert not missing, "the README quotes these settings otherwise than the code has them: " + "; ".join(missing)


def test_every_measured_figure_is_from_benchmarks() -> None:
    figures = _measured_figures()
    assert len(figures) >= 10 and ("234", "MB") in {(n, u) for n, u, _ in figures}
    missing = [f"{number} {unit or ''} in {context!r}" for number, unit, context in figures
               if not _in_benchmarks(number, unit)]
    assert not missing, "figures not in BENCHMARKS.md:\n" + "\n".join(missing)


def test_the_figure_check_would_catch_a_figure_of_its_own() -> None:
    assert not _in_benchmarks("230–300", "posts a second") and not _in_benchmarks("0.71", None)
    assert _in_benchmarks("277", "posts a second") and _in_benchmarks("77", "MB")
    assert not _in_benchmarks("78", "MB") and not _in_benchmarks("16", "s")


def _spelled(number: int) -> str:
    return f"{number:,}"


def test_every_limit_stated_is_the_code_s() -> None:
    """Limits the README states in words and numbers, each as the code sets it."""
    words = {5: "five", 10: "ten", 1000: "a thousand"}
    phrases = [
        f"(the first {_spelled(MAX_SKIPPED_KEPT)} of a run one by one)",
        f"at most {MAX_BLIND_PAGES} empty or failed pages in a row",
        f"and so do {MAX_BLIND_PAGES} failed pages in a row",
        f"nested deeper than {responses.MAX_JSON_DEPTH} levels",
        f"streamed {words[search.CHUNK]} rows at a time",
        f"the page's {search.PAGE_SIZE} hits",
        f"each counted among the first {_spelled(queries.FACET_SAMPLE)} results",
        f"The best {queries.SEARCH_QUERY_ROWS} hits",
        f"first {_spelled(queries.SNIPPET_SOURCE_CHARS)} characters of each text (in chunks of {_spelled(queries.SNIPPET_CHUNK_CHARS)})",
        f"Titles are cut at {_spelled(queries.TITLE_CHARS)} characters",
        f"at most {static_site.NAME_BYTES} bytes",
        f"at most {export.TERM_BYTES} bytes",
        f"a post keeps its first {export.MAX_CATEGORIES} categories",
        f"the last {words[queries.STATUS_PARAMS['runs']]} runs and the {words[queries.STATUS_PARAMS['errors']]} newest open errors",
        f"`--concurrency N` fetches N pages at once ({_default('harvest', 'concurrency')} by default)",
        f"(`--workers`, default {_show_default('harvest', 'workers')})",
        f"large collections ({parallel.POOL_THRESHOLD} items or more) are cleaned on every core",
    ]
    missing = [phrase for phrase in phrases if not said(phrase)]
    assert not missing, "limits the README states otherwise than the code sets them: " + repr(missing)
    assert _default("harvest", "workers") is cli_module._every_core


def _show_default(command: str, option: str) -> Any:
    return next(p.show_default for p in cli.commands[command].params if p.name == option)


# ---------------------------------------------------------------------------------------------
# Counts the README gives of its own tests, and the layers it draws.

def test_counts_of_tests_are_the_tests() -> None:
    assert said("kills harvests with SIGKILL at nine points") and len(test_crash_safety.KILL_POINTS) == 9


def test_the_module_diagram_is_the_import_contract() -> None:
    diagram = PROSE.split("Data walks one way: each line of `src/wparchive/`", 1)[1]
    block = FENCE.search(diagram)
    assert block
    layers: list[set[str]] = []
    for line in block.group(1).splitlines():
        names = {re.sub(r"(\.py|/)$", "", word) for word in re.findall(r"\b[\w]+(?:\.py|/)", line.split("  " * 5)[0])}
        if line.startswith("  "):
            layers[-1] |= names
        else:
            layers.append(names)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    contract = re.search(r'type = "layers"\nlayers = \[(.*?)\]', pyproject, re.S)
    assert contract
    expected = [{name.strip().removeprefix("wparchive.") for name in layer.split("|")}
                for layer in re.findall(r'"([^"]+)"', contract.group(1))]
    assert layers == expected
