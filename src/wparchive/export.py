"""Exports: CSV, JSON and JSONL streamed row by row, Markdown files with YAML front matter
that Hugo and Jekyll take as content and build as a site (see static_site), WXR for
WordPress (see wxr), and WACZ for web-archive replay tools (see wacz)."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import unicodedata
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator, cast

import yaml
from sqlite_utils.db import Database

from .db.queries import LINK_TARGETS_SQL, export_count_sql, export_places_sql, export_sql
from .errors import ExportError, NothingToExport, archive_error
from .export_choices import WXR_MAX_MB
from .progress import Progress, SilentProgress
from .selection import select
from .spreadsheet import BOM, spreadsheet_safe
from .wacz import WaczExport, write_wacz
from .wxr import WxrExport, write_wxr
from .static_site import (NAME_CHARS, Placed, SitePlan, address_of, copy_media, fit, inside, safe_name,
                          write_redirect_maps, write_site_files)

# Big and rarely wanted in a spreadsheet: left out of CSV unless asked for.
_JSON_COLUMNS = frozenset({"categories", "tags", "headings", "shortcodes"})
TERM_BYTES = 100  # a category or tag name: a folder of Jekyll's and Hugo's, after they add to it
MAX_CATEGORIES = 20  # Jekyll nests a post in a folder per category: 20 keep its path within PATH_MAX


def export_archive(db: Database, out: Path | IO[str], fmt: str, *, site: str | None = None,
                   post_type: str | None = None, since: str | None = None, media_dir: Path | None = None,
                   layouts: bool = True, bom: bool = False, warc_dir: Path | None = None,
                   progress: Progress | None = None) -> int:
    """Write the live posts and pages that match the filters to out in a format of
    export_choices.FORMATS; returns how many.

    out is a folder for markdown, and a file or an open stream (stdout) for the others. The
    filters are checked first (see selection.select), and an export they leave empty is
    NothingToExport, with nothing written. progress hears of one task, "export", sized by a
    count of the rows beforehand. layouts: with markdown, also the files that make the folder a
    site Hugo and Jekyll build as it is (see write_markdown). bom: CSV starts with a byte order
    mark, by which spreadsheets know it is UTF-8. warc_dir: with wacz, the folder of the WARC
    files to package.
    """
    progress = progress or SilentProgress()
    if fmt == "wxr":  # its own options, and what it wrote: see export_wxr
        if not isinstance(out, Path):
            raise ExportError("a WXR export is written to a file (or files), not to a stream")
        return export_wxr(db, out, site=site, post_type=post_type, since=since, progress=progress).items
    if fmt == "wacz":  # what it wrote: see export_wacz
        if not isinstance(out, Path):
            raise ExportError("a WACZ export is written to a file, not to a stream")
        return export_wacz(db, out, warc_dir, site=site, post_type=post_type, since=since, progress=progress).pages
    with _errors_said(out), ExitStack() as stack:
        chosen = select(db, site=site, post_type=post_type, since=since)
        filters: dict[str, Any] = {"site_ids": chosen.site_ids, "post_type": post_type, "since": since}
        count_sql, params = export_count_sql(**filters)
        total = db.execute(count_sql, params).fetchone()[0]
        if not total:
            raise NothingToExport(f"nothing to export: no live item {chosen.described()}")
        stream = _open_output(out, fmt, stack, bom=bom)
        progress.begin("export", total)
        stack.callback(progress.end, "export")
        rows = _reported(export_rows(db, **filters), progress)
        if stream is None:
            places_sql, params = export_places_sql(**filters)
            places = _records(db.execute(places_sql, params))
            return write_markdown(rows, cast(Path, out), db=db, media_dir=media_dir, places=places, layouts=layouts)
        count = WRITERS[fmt](rows, stream)
        stream.flush()  # a closed pipe shows here, not at exit
        return count


def export_wxr(db: Database, out: Path, *, site: str | None = None, post_type: str | None = None,
               since: str | None = None, include_deleted: bool = False, max_mb: float = WXR_MAX_MB,
               media_url: str | None = None, progress: Progress | None = None) -> WxrExport:
    """Write one site of the archive as WXR files for the WordPress Importer (see wxr.write_wxr)."""
    with _errors_said(out):
        if out.is_dir():
            raise ExportError(f"a WXR export is a file, and {out} is a folder")
        return write_wxr(db, out, site=site, post_type=post_type, since=since, include_deleted=include_deleted,
                         max_mb=max_mb, media_url=media_url, progress=progress)


def export_wacz(db: Database, out: Path, warc_dir: Path | None, *, site: str | None = None,
                post_type: str | None = None, since: str | None = None,
                progress: Progress | None = None) -> WaczExport:
    """Package the WARC files harvests wrote to warc_dir as a WACZ file (see wacz.write_wacz)."""
    with _errors_said(out):
        if out.is_dir():
            raise ExportError(f"a WACZ export is a file, and {out} is a folder")
        if warc_dir is None:
            raise ExportError("a WACZ export packages the WARC files of harvests run with --warc DIR",
                              hint="Name that folder: wparchive export --format wacz --warc DIR OUT.wacz")
        return write_wacz(db, out, warc_dir, site=site, post_type=post_type, since=since, progress=progress)


@contextmanager
def _errors_said(out: Path | IO[str]) -> Iterator[None]:
    """What goes wrong writing an export, as one line that names the output."""
    try:
        yield
    except BrokenPipeError:
        # `wparchive export - | head`: the reader had what it wanted
        raise ExportError(f"{_name(out)} was closed before the export ended", hint="") from None
    except OSError as exc:
        raise ExportError(f"cannot write {_name(out)}: {exc.strerror or exc}") from None
    except sqlite3.DatabaseError as exc:
        raise archive_error(exc, "the archive") from exc


def _open_output(out: Path | IO[str], fmt: str, stack: ExitStack, *, bom: bool = False) -> IO[str] | None:
    """The stream to write, opened (a CSV's starting with a byte order mark if bom); for markdown
    None, its folder made instead."""
    if fmt == "markdown":
        if not isinstance(out, Path) or out.is_file():
            raise ExportError(f"markdown export fills a folder, and {_name(out)} is not one")
        out.mkdir(parents=True, exist_ok=True)
        return None
    stream = stack.enter_context(out.open("w", encoding="utf-8")) if isinstance(out, Path) else out
    if bom and fmt == "csv":
        stream.write(BOM)
    return stream


def export_rows(db: Database, *, site_ids: list[int] | None = None, post_type: str | None = None,
                since: str | None = None, batch: int = 500) -> Iterator[dict[str, Any]]:
    """Live posts and pages as dicts, streamed: memory does not grow with the archive (site_ids:
    only these sites', as selection.select chose them)."""
    sql, params = export_sql(site_ids=site_ids, post_type=post_type, since=since)
    for record in _records(db.execute(sql, params), batch):
        for name in _JSON_COLUMNS & record.keys():
            record[name] = json.loads(record[name]) if record[name] else []
        yield record


def _records(cursor: sqlite3.Cursor, batch: int = 500) -> Iterator[dict[str, Any]]:
    """The rows of a query as dicts by column name, fetched a batch at a time."""
    columns = [d[0] for d in cursor.description]
    while rows := cursor.fetchmany(batch):
        for row in rows:
            yield dict(zip(columns, row, strict=True))


def write_jsonl(rows: Iterator[dict[str, Any]], out: IO[str]) -> int:
    """One JSON object per line."""
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_json(rows: Iterator[dict[str, Any]], out: IO[str]) -> int:
    """A JSON array, written one element at a time."""
    out.write("[")
    count = 0
    for row in rows:
        out.write(("\n" if count == 0 else ",\n") + json.dumps(row, ensure_ascii=False))
        count += 1
    out.write("\n]\n")
    return count


def write_csv(rows: Iterator[dict[str, Any]], out: IO[str]) -> int:
    """CSV with a header from the first row; lists become JSON text. Text a spreadsheet would run
    as a formula is neutralised (see spreadsheet.spreadsheet_safe)."""
    writer: csv.DictWriter[str] | None = None
    count = 0
    for row in rows:
        count += 1
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(row), extrasaction="ignore")
            writer.writeheader()
        writer.writerow({k: spreadsheet_safe(json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v)
                         for k, v in row.items()})
    return count


def write_markdown(rows: Iterable[dict[str, Any]], folder: Path, *, db: Database | None = None,
                   media_dir: Path | None = None, places: Iterable[dict[str, Any]] | None = None,
                   layouts: bool = True) -> int:
    """One Markdown file per item with YAML front matter, laid out as Jekyll wants it (posts in
    _posts/ named YYYY-MM-DD-slug.md, other types in a folder of their own), which Hugo also
    takes as content. Media downloaded with --media are copied to images/ and referenced there.

    Each item is built at the path of its permalink where it can be (see SitePlan): its front
    matter says so (url for Hugo, permalink for Jekyll), with its other old paths (aliases,
    redirect_from); every old path and query form is also in the redirect maps beside it. Links
    in content to archived items of the export lead to their new URL. layouts adds the files that
    make the folder a site `hugo` and `jekyll build` build as it is (see write_site_files).

    places are the rows with their key, site_id, wp_id, type, slug, date, link and site_home,
    in order, to plan URLs from before any file is written; without them rows are read whole first.

    Every name is made of sanitised values (see safe_name) and every path is checked to stay in
    folder. Names are unique (an item whose name is taken gets its WordPress id added) and stable:
    the same archive exports to the same names, replacing the files an earlier export wrote."""
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    media = copy_media(db, media_dir, folder) if db is not None and media_dir is not None else {}
    if places is None:
        rows = places = list(rows)
    plan = SitePlan.of_archive(db, places, media) if db is not None else SitePlan(places, media=media)
    count = 0
    for row in rows:
        placed = plan.place(row)
        path = inside(root, folder / placed.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Where the links table says the item's links point: the archive's own word on it.
        targets = {address_of(href): key for href, key in db.execute(LINK_TARGETS_SQL, [row.get("key")])} \
            if db is not None else {}
        body = with_destinations(row.get("content_markdown") or "", partial(plan.destination, targets=targets))
        text = f"---\n{front_matter(row, placed=placed)}---\n\n{inert_for_site_builders(body)}\n"
        path.write_text(_encodable(text), encoding="utf-8")
        count += 1
    write_redirect_maps(folder, plan)
    if layouts:
        write_site_files(folder, plan)
    return count


WRITERS: dict[str, Callable[[Iterator[dict[str, Any]], IO[str]], int]] = {
    "csv": write_csv, "json": write_json, "jsonl": write_jsonl,
}


def front_matter(row: dict[str, Any], *, slug: str | None = None, placed: Placed | None = None) -> str:
    """The YAML front matter of an item: title, dates with the site's offset, slug (the one in its
    file name), original URL, categories, tags, author, WordPress id; and render_with_liquid:
    false, so that Jekyll (4 and later) runs no Liquid in content that came from the site. Where
    placed, the URL the item is built at (url for Hugo, permalink for Jekyll) and the old paths
    that lead to it (aliases for Hugo, redirect_from for Jekyll's jekyll-redirect-from).

    Jekyll and Hugo make folders of the type, categories and tags: those are made safe as names
    (see _terms), and only the first MAX_CATEGORIES categories are kept, as Jekyll puts them all
    in each post's path."""
    offset = _offset(row.get("site_gmt_offset"))
    data = {
        "title": row.get("title") or "",
        "date": _with_offset(row.get("date"), offset),
        "lastmod": _with_offset(row.get("modified"), offset),
        "slug": slug or (placed.slug if placed else None) or safe_name(str(row.get("slug") or ""),
                                                                       fallback=f"item-{row.get('wp_id')}"),
        "url_original": row.get("link"),
        "type": safe_name(str(row.get("type") or ""), fallback="item", max_bytes=100),
        "categories": _terms(row.get("categories"))[:MAX_CATEGORIES],
        "tags": _terms(row.get("tags")),
        "author": row.get("author_label"),
        "wordpress_id": row.get("wp_id"),
        "site": row.get("site_home"),
    }
    if row.get("excerpt_text"):
        data["summary"] = row["excerpt_text"]
    if placed is not None:
        data["url"] = data["permalink"] = placed.url
        if placed.aliases:
            data["aliases"] = data["redirect_from"] = placed.aliases
    data["render_with_liquid"] = False
    return yaml.dump(data, Dumper=_FrontMatterDumper, allow_unicode=True, sort_keys=False, width=10_000)


class _FrontMatterDumper(yaml.SafeDumper):
    """YAML whose strings every reader takes back as the same strings (Jekyll's YAML 1.1, Hugo's
    1.2): one line each, quoted wherever a reader could see something else in them."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    value = _encodable(value)
    # A title over several lines could hold "---"; "1e3" is a number to YAML 1.2, a string to 1.1.
    multiline = any(c in value for c in "\n\r\x85\u2028\u2029")
    style = '"' if multiline or _NUMBER_LIKE.match(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_NUMBER_LIKE = re.compile(r"[-+.]?[0-9]|0[ox]|[-+]?\.?(?:inf|nan)\b", re.I)
_FrontMatterDumper.add_representer(str, _represent_text)


def _terms(values: Any) -> list[str]:
    """Category or tag names as Jekyll and Hugo can make a folder of each: no "/", "\\" or control
    characters (a name "../../index" would be written over another page), no leading or trailing
    dots or spaces, at most TERM_BYTES of UTF-8, each once."""
    names: list[str] = []
    for value in values if isinstance(values, list) else []:
        name = _PATH_BREAK.sub("-", _encodable(unicodedata.normalize("NFC", str(value)[:NAME_CHARS])))
        name = fit(name.strip(" ."), TERM_BYTES).strip(" .")
        if name and name not in names:
            names.append(name)
    return names


_PATH_BREAK = re.compile(r"[/\\\x00-\x1f\x7f]+")


def inert_for_site_builders(markdown: str) -> str:
    """Markdown that Jekyll and Hugo build without running anything in it: Hugo shortcodes as
    Hugo's own escape (see _escape_shortcodes), and what an earlier cleaner left live outside
    code (see _escape_stray_markup)."""
    return _escape_shortcodes(_escape_stray_markup(markdown))


def _escape_stray_markup(markdown: str) -> str:
    """Markdown as cleaned before text was escaped (an archive not rebuilt since) made safe outside
    code, as far as it can be told from code there: a "<" that would open HTML, "{:" (kramdown's
    attribute lists), and links and link definitions to schemes other than http, https and mailto
    are escaped. Markdown cleaned now has none of these outside code, and passes unchanged."""
    if not (_STRAY_TAG.search(markdown) or "{:" in markdown or _UNSAFE_DESTINATION.search(markdown)
            or _UNSAFE_DEFINITION.search(markdown)):
        return markdown  # nothing to escape, in code or out of it (most Markdown)
    out: list[str] = []
    lines = markdown.split("\n")
    for index, (line, fenced) in enumerate(zip(lines, _fenced(lines), strict=True)):
        if fenced:
            out.append(line)
            continue
        # A definition's address may be on the next line.
        definition = _UNSAFE_DEFINITION.match("\n".join(lines[index:index + 2]))
        if definition is not None and definition.end("start") < len(line):
            line = line[:definition.end("start")] + "&#58;" + line[definition.end("start") + 1:]
        out.append("".join(part if is_code else _escape_text_markup(part) for is_code, part in _code_spans(line)))
    return "\n".join(out)


def _fenced(lines: list[str]) -> Iterator[bool]:
    """For each line, whether it belongs to a fenced code block (its fences included)."""
    fence: str | None = None  # the prefix and backticks that close the code block we are in
    for line in lines:
        if fence is not None:
            if line.rstrip(" \t") == fence:
                fence = None
            yield True
            continue
        opening = _CODE_FENCE.match(line)
        if opening is not None:
            fence = opening.group("prefix") + opening.group("ticks")
        yield opening is not None


def with_destinations(markdown: str, destination: Callable[[str], str | None]) -> str:
    """markdown with each link's and image's address outside code, and each autolink, replaced by
    what destination gives for it (an autolink becomes a link that shows the old address); an
    address destination gives None for stays as it is."""
    if "](" not in markdown and "<http" not in markdown:
        return markdown

    def inline(match: re.Match[str]) -> str:
        new = destination(match.group(2))
        return match.group(0) if new is None else f"{match.group(1)}{new}"

    def autolink(match: re.Match[str]) -> str:
        new = destination(match.group(1))
        return match.group(0) if new is None else f"[{match.group(1)}]({new})"

    lines = markdown.split("\n")
    for index, (line, fenced) in enumerate(zip(lines, _fenced(lines), strict=True)):
        if not fenced:
            lines[index] = "".join(part if is_code else _AUTOLINK.sub(autolink, _DESTINATION.sub(inline, part))
                                   for is_code, part in _code_spans(line))
    return "\n".join(lines)


# An inline link's or image's address, as the cleaner writes them: absolute, without spaces,
# maybe followed by a title.
_DESTINATION = re.compile(r"(\]\()([^\s()<>]+)(?=[\s)])")
_AUTOLINK = re.compile(r"<(https?://[^\s<>]+)>")


def _code_spans(line: str) -> Iterator[tuple[bool, str]]:
    """A line as (is code, text) parts: code spans are backtick runs closed by a run as long."""
    position = 0
    while (opening := _TICKS.search(line, position)) is not None:
        run = opening.group(0)
        closing = next((m for m in _TICKS.finditer(line, opening.end()) if m.group(0) == run), None)
        if closing is None:
            break
        yield False, line[position:opening.start()]
        yield True, line[opening.start():closing.end()]
        position = closing.end()
    yield False, line[position:]


def _escape_text_markup(text: str) -> str:
    text = _UNSAFE_DESTINATION.sub(r"]&#40;\1", text)
    return _STRAY_TAG.sub("&lt;", text.replace("{:", "&#123;:"))


_CODE_FENCE = re.compile(r"^(?P<prefix>[ >]*)(?P<ticks>`{3,})[^`]*$")
_TICKS = re.compile(r"(?<!\\)`+")
# "<" that opens a tag, a comment or a declaration; autolinks to http, https and mailto stay.
_STRAY_TAG = re.compile(r"<(?=[A-Za-z/!?])(?!(?:https?|mailto):[^\s<>`]*>)")
# An address after "](" or "]:" that may stay a link: http, https, mailto, a data: image, or
# relative (nothing before its first "/", "?", "#" or its end that could be read as a scheme).
_SAFE_OR_RELATIVE = (r"(?:https?:|mailto:|data:image/(?:png|gif|jpeg|webp)[;,]|[/#?.]"
                     r"|[^\s:/?#()<>&\\%]*(?:[/?#)]|$))")
_UNSAFE_DESTINATION = re.compile(r"\]\(((?:\s|<)*+)(?!" + _SAFE_OR_RELATIVE + ")", re.I)
# A link definition ("[x]: address") starts a line, maybe inside a quote or a list item.
# ("[^1]: …" is a footnote's note, not an address: Markdown from the cleaner ends with them.)
_UNSAFE_DEFINITION = re.compile(r"^(?P<start>(?:\s|>|[*+-]\s|\d{1,9}[.)]\s)*\[(?!\^)[^\]]*\])"
                                r":(?P<space>(?:\s|<)*+)(?!" + _SAFE_OR_RELATIVE + ")", re.I | re.M)


def _escape_shortcodes(markdown: str) -> str:
    """Every Hugo shortcode, {{< >}} and {{% %}}, as Hugo's own escape, {{</* */>}}, which it
    shows as written. (Text from the site has its braces escaped when it is cleaned; this is for
    its code, which Hugo reads too.)"""
    out: list[str] = []
    position = 0
    while (opening := _SHORTCODE_OPENING.search(markdown, position)) is not None:
        kind = opening.group(1)
        closing = ">}}" if kind == "<" else "%}}"
        end = markdown.find(closing, opening.end())
        out.append(markdown[position:opening.start()])
        if end < 0:
            # Never closed, Hugo fails the build on it; a word joiner keeps it from being one.
            out.append("{{\u2060" + kind)
            position = opening.end()
            continue
        out.append("{{" + kind + "/*" + markdown[opening.end():end] + "*/" + closing)
        position = end + len(closing)
    out.append(markdown[position:])
    return "".join(out)


_SHORTCODE_OPENING = re.compile(r"\{\{([<%])")


def _encodable(text: str) -> str:
    """text with what UTF-8 cannot hold (lone surrogates) and NUL, which site builders refuse,
    replaced by U+FFFD."""
    return _UNWRITABLE.sub("\ufffd", text)


_UNWRITABLE = re.compile("[\ud800-\udfff\x00]")


def _offset(gmt_offset: Any) -> timedelta:
    try:
        offset = timedelta(hours=float(gmt_offset or 0))
    except (TypeError, ValueError, OverflowError):
        return timedelta(0)
    return offset if abs(offset) < timedelta(hours=24) else timedelta(0)


def _with_offset(local: str | None, offset: timedelta) -> str | None:
    """A site-local time as ISO 8601 with the site's UTC offset: 2023-03-08T19:30:00+01:00."""
    if not local:
        return None
    try:
        when = datetime.fromisoformat(local).replace(tzinfo=timezone(offset))
    except (TypeError, ValueError):  # not a time (or an offset beyond a day): left out, not passed on
        return None
    return when.isoformat()


def _name(out: Path | IO[str]) -> str:
    return str(out) if isinstance(out, Path) else str(getattr(out, "name", "the output"))


def _reported(rows: Iterator[dict[str, Any]], progress: Progress, every: int = 100) -> Iterator[dict[str, Any]]:
    """The rows, each counted once written; told in steps, as a bar redrawn per row costs more than the row."""
    done = 0
    for row in rows:
        yield row
        done += 1
        if done == every:
            progress.advance(done)
            done = 0
    if done:
        progress.advance(done)
