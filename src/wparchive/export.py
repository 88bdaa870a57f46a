"""Exports: CSV, JSON and JSONL streamed row by row, and Markdown files with YAML front matter
that Hugo and Jekyll take as content."""

from __future__ import annotations

import csv
import json
import re
import shutil
import sqlite3
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, Callable, Iterator, cast

import yaml
from sqlite_utils.db import Database

from .db.queries import MEDIA_FILES_SQL, export_count_sql, export_sql
from .errors import ExportError, archive_error
from .progress import Progress, SilentProgress

FORMATS = ("csv", "json", "jsonl", "markdown")
# Big and rarely wanted in a spreadsheet: left out of CSV unless asked for.
_JSON_COLUMNS = frozenset({"categories", "tags", "headings", "shortcodes"})
_UNSAFE_NAME = re.compile(r"[^\w.-]+")


def export_archive(db: Database, out: Path | IO[str], fmt: str, *, site: str | None = None,
                   post_type: str | None = None, since: str | None = None, media_dir: Path | None = None,
                   progress: Progress | None = None) -> int:
    """Write the live posts and pages that match the filters to out in a format of FORMATS; returns how many.

    out is a folder for markdown, and a file or an open stream (stdout) for the others. progress
    hears of one task, "export", sized by a count of the rows beforehand.
    """
    progress = progress or SilentProgress()
    try:
        with ExitStack() as stack:
            stream = _open_output(out, fmt, stack)  # first: a wrong path is said before any work is done
            count_sql, params = export_count_sql(site=site, post_type=post_type, since=since)
            progress.begin("export", db.execute(count_sql, params).fetchone()[0])
            stack.callback(progress.end, "export")
            rows = _reported(export_rows(db, site=site, post_type=post_type, since=since), progress)
            if stream is None:
                return write_markdown(rows, cast(Path, out), db=db, media_dir=media_dir)
            count = _WRITERS[fmt](rows, stream)
            stream.flush()  # a closed pipe shows here, not at exit
            return count
    except BrokenPipeError:
        # `wparchive export - | head`: the reader had what it wanted
        raise ExportError(f"{_name(out)} was closed before the export ended", hint="") from None
    except OSError as exc:
        raise ExportError(f"cannot write {_name(out)}: {exc.strerror or exc}") from None
    except sqlite3.DatabaseError as exc:
        raise archive_error(exc, "the archive") from exc


def _open_output(out: Path | IO[str], fmt: str, stack: ExitStack) -> IO[str] | None:
    """The stream to write, opened; for markdown None, its folder made instead."""
    if fmt == "markdown":
        if not isinstance(out, Path) or out.is_file():
            raise ExportError(f"markdown export fills a folder, and {_name(out)} is not one")
        out.mkdir(parents=True, exist_ok=True)
        return None
    return stack.enter_context(out.open("w", encoding="utf-8")) if isinstance(out, Path) else out


def export_rows(db: Database, *, site: str | None = None, post_type: str | None = None,
                since: str | None = None, batch: int = 500) -> Iterator[dict[str, Any]]:
    """Live posts and pages as dicts, streamed: memory does not grow with the archive."""
    sql, params = export_sql(site=site, post_type=post_type, since=since)
    cursor = db.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    while rows := cursor.fetchmany(batch):
        for row in rows:
            record = dict(zip(columns, row, strict=True))
            for name in _JSON_COLUMNS & record.keys():
                record[name] = json.loads(record[name]) if record[name] else []
            yield record


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
    """CSV with a header from the first row; lists become JSON text."""
    writer: csv.DictWriter[str] | None = None
    count = 0
    for row in rows:
        count += 1
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(row), extrasaction="ignore")
            writer.writeheader()
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v for k, v in row.items()})
    return count


def write_markdown(rows: Iterator[dict[str, Any]], folder: Path, *, db: Database | None = None,
                   media_dir: Path | None = None) -> int:
    """One Markdown file per item with YAML front matter, laid out as Jekyll wants it (posts in
    _posts/ named YYYY-MM-DD-slug.md, other types in a folder of their own), which Hugo also
    takes as content. Images downloaded with --media are copied to images/ and referenced there."""
    folder.mkdir(parents=True, exist_ok=True)
    local_images = _copy_images(db, media_dir, folder) if db is not None and media_dir is not None else {}
    used: set[Path] = set()
    count = 0
    for row in rows:
        path = folder / _relative_path(row)
        if path in used or path.exists():
            path = path.with_name(f"{path.stem}-{row['wp_id']}{path.suffix}")
        used.add(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        body = row.get("content_markdown") or ""
        for url, local in local_images.items():
            body = body.replace(url, local)
        path.write_text(f"---\n{front_matter(row)}---\n\n{body}\n", encoding="utf-8")
        count += 1
    return count


_WRITERS: dict[str, Callable[[Iterator[dict[str, Any]], IO[str]], int]] = {
    "csv": write_csv, "json": write_json, "jsonl": write_jsonl,
}


def front_matter(row: dict[str, Any]) -> str:
    """The YAML front matter of an item: title, dates with the site's offset, slug, original URL,
    categories, tags, author, WordPress id."""
    offset = _offset(row.get("site_gmt_offset"))
    data = {
        "title": row.get("title") or "",
        "date": _with_offset(row.get("date"), offset),
        "lastmod": _with_offset(row.get("modified"), offset),
        "slug": row.get("slug") or str(row.get("wp_id")),
        "url_original": row.get("link"),
        "type": row.get("type"),
        "categories": row.get("categories") or [],
        "tags": row.get("tags") or [],
        "author": row.get("author_label"),
        "wordpress_id": row.get("wp_id"),
        "site": row.get("site_home"),
    }
    if row.get("excerpt_text"):
        data["summary"] = row["excerpt_text"]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000)


def _relative_path(row: dict[str, Any]) -> Path:
    slug = _UNSAFE_NAME.sub("-", row.get("slug") or "").strip("-.") or f"item-{row['wp_id']}"
    if row.get("type") == "post":
        day = (row.get("date") or "1970-01-01")[:10]
        return Path("_posts") / f"{day}-{slug}.md"
    kind = _UNSAFE_NAME.sub("-", row.get("type") or "items").strip("-.") or "items"
    return Path(f"{kind}s" if not kind.endswith("s") else kind) / f"{slug}.md"


def _offset(gmt_offset: Any) -> timedelta:
    try:
        return timedelta(hours=float(gmt_offset or 0))
    except (TypeError, ValueError):
        return timedelta(0)


def _with_offset(local: str | None, offset: timedelta) -> str | None:
    """A site-local time as ISO 8601 with the site's UTC offset: 2023-03-08T19:30:00+01:00."""
    if not local:
        return None
    try:
        when = datetime.fromisoformat(local)
    except ValueError:
        return local
    return when.replace(tzinfo=timezone(offset)).isoformat()


def _copy_images(db: Database, media_dir: Path, folder: Path) -> dict[str, str]:
    """Copy downloaded images into the export; returns original URL → path in the export."""
    local: dict[str, str] = {}
    for url, path in db.execute(MEDIA_FILES_SQL):
        source = media_dir / path
        if not source.exists():
            continue
        target = folder / "images" / Path(path).name
        target.parent.mkdir(exist_ok=True)
        if not target.exists():
            shutil.copyfile(source, target)
        local[url] = f"/images/{target.name}"
    return local


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
