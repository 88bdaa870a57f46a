"""Writing every API response to a WARC file, so captures can go to standard web-archive tools.

Optional: needs warcio (pip install 'wparchive[warc]'). Each response is written with the
request that asked for it; the request's Authorization header is never written.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import requests

from . import __version__
from .errors import WPArchiveError

# Headers that describe the bytes on the wire, not the decoded body we hold.
_TRANSFER_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}
_SECRET_HEADERS = {"authorization", "cookie"}


class WarcUnavailable(WPArchiveError):
    """warcio is not installed."""

    hint = "Install it with: pip install 'wparchive[warc]'"


def _new_file(folder: Path, prefix: str) -> tuple[Path, BinaryIO]:
    """A new file of this recorder's own, named PREFIX-YYYYMMDDHHMMSS.warc.gz: two sites of one host
    harvested at once (harvest --jobs) may start in the same second, and the later one takes the
    next free second rather than write into the other's file."""
    moment = datetime.now(timezone.utc)
    while True:
        path = folder / f"{prefix}-{moment:%Y%m%d%H%M%S}.warc.gz"
        try:
            return path, open(path, "xb")
        except FileExistsError:
            moment += timedelta(seconds=1)


class WarcRecorder:
    """Appends request and response records to one gzipped WARC file per harvest."""

    def __init__(self, directory: str | Path, prefix: str = "wparchive") -> None:
        try:
            from warcio.warcwriter import WARCWriter
        except ImportError as exc:
            raise WarcUnavailable("--warc needs the warcio package") from exc
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        self.path, self._file = _new_file(folder, prefix)
        self._writer = WARCWriter(self._file, gzip=True)
        self._writer.write_record(self._writer.create_warcinfo_record(
            self.path.name, {"software": f"wparchive/{__version__}", "format": "WARC File Format 1.1"}))

    def record(self, response: requests.Response) -> str:
        """Write a response and its request; returns the response record's WARC-Record-ID."""
        from warcio.statusandheaders import StatusAndHeaders

        body = response.content
        headers = [(k, v) for k, v in response.headers.items() if k.lower() not in _TRANSFER_HEADERS]
        if "content-encoding" in {k.lower() for k in response.headers}:
            # requests has decoded the body; keep the original header under a name replay tools know
            headers.append(("X-Archive-Orig-Content-Encoding", response.headers["Content-Encoding"]))
        headers.append(("Content-Length", str(len(body))))
        status_line = f"{response.status_code} {response.reason or ''}".strip()
        http_headers = StatusAndHeaders(status_line, headers, protocol="HTTP/1.1")
        response_record = self._writer.create_warc_record(
            response.url, "response", payload=io.BytesIO(body), length=len(body), http_headers=http_headers)
        record_id = str(response_record.rec_headers.get_header("WARC-Record-ID"))
        self._writer.write_record(response_record)
        self._writer.write_record(self._request_record(response.request, record_id))
        self._file.flush()
        return record_id

    def close(self) -> None:
        self._file.close()

    def _request_record(self, request: requests.PreparedRequest, concurrent_to: str) -> Any:
        from warcio.statusandheaders import StatusAndHeaders

        url = request.url or ""
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _SECRET_HEADERS]
        headers.insert(0, ("Host", parts.netloc))
        http_headers = StatusAndHeaders(f"{request.method} {target or '/'} HTTP/1.1", headers, is_http_request=True)
        return self._writer.create_warc_record(
            url, "request", payload=io.BytesIO(b""), length=0, http_headers=http_headers,
            warc_headers_dict={"WARC-Concurrent-To": concurrent_to})
