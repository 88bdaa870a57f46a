"""WACZ (Web Archive Collection Zipped, 1.1.1): the WARC files harvests wrote with --warc, packaged
with a CDXJ index and a list of pages carrying each post's text, for replay tools such as
ReplayWeb.page and for web archives that take WACZ.

Optional: needs warcio and cdxj-indexer (pip install 'wparchive[wacz]'), imported only here so
that other exports start without them.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, Iterator

from sqlite_utils.db import Database

from . import __version__
from .db.queries import export_count_sql, export_sql, harvested_addresses_sql
from .errors import ExportError, NothingToExport, WPArchiveError
from .paths import warc_prefix
from .progress import Progress, SilentProgress
from .selection import Selection, select

WACZ_VERSION = "1.1.1"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
# Index lines per gzip block of indexes/index.cdx.gz: a replay tool reads one block per lookup
# (the size ReplayWeb.page's own archives use).
CDX_BLOCK_LINES = 1024
_CHUNK = 1024 * 1024


class WaczUnavailable(WPArchiveError):
    """warcio or cdxj-indexer is not installed."""

    hint = "Install them with: pip install 'wparchive[wacz]'"


@dataclass
class Captures:
    """The responses of the WARC files: each one's URL and time by WARC-Record-ID (API responses,
    which rows name), and the time of the latest HTML page at each URL (captured by --pages)."""

    responses: dict[str, tuple[str, str]] = field(default_factory=dict)
    html_pages: dict[str, str] = field(default_factory=dict)

    def add(self, record: Any) -> None:
        """Note a warcio response record."""
        headers, http = record.rec_headers, record.http_headers
        url, when = str(headers.get_header("WARC-Target-URI")), str(headers.get_header("WARC-Date"))
        self.responses[str(headers.get_header("WARC-Record-ID"))] = (url, when)
        if http is None or http.get_statuscode() != "200":
            return
        if (http.get_header("Content-Type") or "").split(";")[0].strip().lower() == "text/html":
            self.html_pages[url] = max(when, self.html_pages.get(url, when))  # ISO 8601 in UTC: sorts by time


@dataclass
class WaczExport:
    """What a WACZ export wrote: the pages listed, the WARC files packaged, and how many items matched
    the filters but are in none of those files (harvested without --warc), left out of the pages."""

    pages: int = 0
    warcs: list[Path] = field(default_factory=list)
    uncaptured: int = 0


def write_wacz(db: Database, out: Path, warc_dir: Path, *, site: str | None = None, post_type: str | None = None,
               since: str | None = None, progress: Progress | None = None) -> WaczExport:
    """Package the WARC files in warc_dir of the sites that match site as the WACZ file out.

    pages/pages.jsonl lists each live post and page that matches the filters and whose API
    response is in those files, with its title and cleaned text, so that replay tools find it by
    its words; at an address and time the package holds (replay tools open nothing else): its HTML
    page where harvest --pages captured it, else the API response that holds it. indexes/ holds
    a CDXJ index of the responses (cdxj-indexer, compressed in blocks as ReplayWeb.page reads
    them), datapackage.json the SHA-256 and size of every file.
    """
    try:  # used by _read_captures and _write_package: when missing, said before any work
        import cdxj_indexer.main  # noqa: F401
        import warcio.archiveiterator  # noqa: F401
    except ImportError as exc:
        raise WaczUnavailable("a WACZ export needs the warcio and cdxj-indexer packages") from exc
    progress = progress or SilentProgress()
    chosen = select(db, site=site, post_type=post_type, since=since)
    count_sql, params = export_count_sql(site_ids=chosen.site_ids, post_type=post_type, since=since)
    total = db.execute(count_sql, params).fetchone()[0]
    if total == 0:
        raise NothingToExport(f"nothing to export: no live item {chosen.described()}")
    captured_sql, params = export_count_sql(site_ids=chosen.site_ids, post_type=post_type, since=since,
                                            captured_only=True)
    if db.execute(captured_sql, params).fetchone()[0] == 0:
        raise ExportError("no item to export was harvested with --warc: there is no WARC capture to package",
                          hint="Harvest with --warc DIR first (add --full to capture what is already archived), "
                               "then export with the same --warc DIR.")
    warcs = _warc_files(db, warc_dir, chosen)
    captures = _read_captures(warcs)  # all read before any is packaged: a broken one stops the export here
    # Written beside out and renamed at the end: a failed export leaves no half-made package.
    partial = out.with_name(out.name + ".part")
    try:
        result = _write_package(db, partial, warcs, captures, chosen, total, progress)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return result


def _write_package(db: Database, out: Path, warcs: list[Path], captures: Captures, chosen: Selection,
                   total: int, progress: Progress) -> WaczExport:
    """write_wacz's package, at out; total: the items chosen, for the progress bar."""
    from cdxj_indexer.main import CDXJIndexer

    result = WaczExport(warcs=warcs)
    resources: list[dict[str, Any]] = []
    with zipfile.ZipFile(out, "w") as package:
        for path in warcs:  # stored as they are: replay tools read records at their offsets
            with path.open("rb") as source, package.open(zipfile.ZipInfo.from_file(path, f"archive/{path.name}"),
                                                         "w") as target:
                resources.append(_copied(source, target, f"archive/{path.name}"))
        blocks_name = "indexes/index.cdx.gz"
        block_index = io.StringIO()
        with package.open(zipfile.ZipInfo(blocks_name, _now()), "w") as target:
            blocks = _Hashing(target)
            CDXJIndexer(block_index, [str(p) for p in warcs], sort=True, post_append=True, compress=blocks,
                        data_out_name="index.cdx.gz", lines=CDX_BLOCK_LINES).process_all()
        resources.append(blocks.resource(blocks_name))
        resources.append(_written(package, "indexes/index.idx", block_index.getvalue().encode()))
        progress.begin("export", total)
        # Streamed: memory does not grow with the archive (ZIP64, as the text may pass 4 GB).
        with package.open(_text_entry("pages/pages.jsonl"), "w", force_zip64=True) as target:
            pages = _Hashing(target)
            try:
                for line in _page_lines(db, captures, result, chosen, progress):
                    pages.write(line.encode("utf-8", "replace"))  # a lone surrogate UTF-8 cannot hold: "?"
            finally:
                progress.end("export")
        resources.append(pages.resource("pages/pages.jsonl"))
        datapackage = json.dumps({
            "profile": "data-package",
            "title": _title(chosen),
            "resources": resources,
            "wacz_version": WACZ_VERSION,
            "created": _now_iso(),
            "software": f"wparchive {__version__}",
        }, indent=2, ensure_ascii=False).encode("utf-8")
        _written(package, "datapackage.json", datapackage)
        digest = {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(datapackage).hexdigest()}
        _written(package, "datapackage-digest.json", json.dumps(digest, indent=2).encode("utf-8"))
    return result


def _warc_files(db: Database, warc_dir: Path, chosen: Selection) -> list[Path]:
    """The WARC files in warc_dir of the harvests of the sites chosen, oldest first."""
    if not warc_dir.is_dir():
        raise ExportError(f"{warc_dir} is not a folder",
                          hint="Give --warc the folder that harvest --warc wrote WARC files to.")
    sql, params = harvested_addresses_sql(site_ids=chosen.site_ids)
    prefixes = {warc_prefix(address) for (address,) in db.execute(sql, params)}
    # PREFIX-YYYYMMDDHHMMSS.warc.gz exactly: wparchive-example-*.warc.gz would take example-shop.org's too
    files = sorted({path for prefix in prefixes for path in warc_dir.glob(f"{prefix}-{'[0-9]' * 14}.warc.gz")
                    if path.is_file()}, key=lambda path: (path.name[-len("YYYYMMDDHHMMSS.warc.gz"):], path.name))
    if not files:
        which = "of site " + ", ".join(str(s["id"]) for s in chosen.sites) + " " if chosen.site_ids else ""
        raise ExportError(f"{warc_dir} holds no WARC file of a harvest {which}in this archive",
                          hint="Harvest with --warc DIR first (add --full to capture what is already archived), "
                               "then export with the same --warc DIR.")
    return files


def _page_lines(db: Database, captures: Captures, result: WaczExport, chosen: Selection,
                progress: Progress) -> Iterator[str]:
    """pages.jsonl line by line: its header, then each item whose API response was captured;
    progress told of the rows read a batch at a time."""
    yield json.dumps(PAGES_HEADER) + "\n"
    sql, params = export_sql(site_ids=chosen.site_ids, post_type=chosen.post_type, since=chosen.since)
    cursor = db.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    while rows := cursor.fetchmany(500):
        for values in rows:
            row = dict(zip(columns, values, strict=True))
            capture = captures.responses.get(row.get("warc_record_id") or "")
            if capture is None:
                result.uncaptured += 1
                continue
            url, when = capture
            if row.get("link") in captures.html_pages:  # its HTML page, as the site served it
                url, when = row["link"], captures.html_pages[row["link"]]
            yield json.dumps({"id": row["key"], "url": url, "ts": when, "title": row.get("title") or "",
                              "text": row.get("content_text") or ""}, ensure_ascii=False) + "\n"
            result.pages += 1
        progress.advance(len(rows))
    if result.pages == 0:
        raise ExportError("the WARC files that hold the items' captures are not in the --warc folder",
                          hint="Give --warc the folder that harvest --warc wrote them to.")


def _read_captures(warcs: list[Path]) -> Captures:
    """The responses of the WARC files; ExportError for one cut short or that is no WARC file."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    captures = Captures()
    for path in warcs:
        try:
            _read_whole(path)  # warcio stops quietly where a file is cut short; WACZ readers do not
            with path.open("rb") as stream:
                for record in ArchiveIterator(stream):
                    if record.rec_type == "response":
                        captures.add(record)
        except (ArchiveLoadFailed, EOFError, gzip.BadGzipFile, ValueError, zlib.error) as exc:
            raise ExportError(f"{path} is no whole WARC file: {exc}",
                              hint="Move it out of the --warc folder (a harvest killed while writing it can "
                                   "leave its last record cut short), then export again.") from None
    return captures


def _read_whole(path: Path) -> None:
    """Decompress a gzipped file to its end: EOFError where it is cut short, OSError where it is no gzip."""
    with gzip.open(path, "rb") as stream:
        while stream.read(_CHUNK):
            pass


def _title(chosen: Selection) -> str:
    names = sorted({str(s["name"]) for s in chosen.sites if s["name"]})
    return f"{', '.join(names) or 'WordPress'}: archived with wparchive"


class _Hashing:
    """A binary stream that counts and hashes what is written through it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._sha256 = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self._sha256.update(data)
        self.bytes += len(data)
        return self._stream.write(data)

    def resource(self, path: str) -> dict[str, Any]:
        """The datapackage.json entry of what was written, stored at path."""
        return {"name": Path(path).name.lower(), "path": path, "hash": "sha256:" + self._sha256.hexdigest(),
                "bytes": self.bytes}


def _copied(source: IO[bytes], target: IO[bytes], path: str) -> dict[str, Any]:
    hashing = _Hashing(target)
    shutil.copyfileobj(source, hashing, _CHUNK)
    return hashing.resource(path)


def _written(package: zipfile.ZipFile, path: str, data: bytes) -> dict[str, Any]:
    with package.open(_text_entry(path), "w") as target:
        return _copied(io.BytesIO(data), target, path)


def _text_entry(path: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(path, _now())
    info.compress_type = zipfile.ZIP_DEFLATED  # text: the spec lets it be compressed, unlike WARCs
    return info


def _now() -> tuple[int, int, int, int, int, int]:
    now = datetime.now(timezone.utc)
    return (now.year, now.month, now.day, now.hour, now.minute, now.second)


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
