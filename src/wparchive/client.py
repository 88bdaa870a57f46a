"""HTTP for the harvest: one session, timeouts, retries with backoff, politeness, pagination."""

from __future__ import annotations

import email.utils
import json
import logging
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
import requests.auth

from . import USER_AGENT
from .errors import BadResponseError, FetchError, InvalidPageNumber, error_for_code

log = logging.getLogger("wparchive.client")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
PER_PAGE_MAX = 100  # WordPress core refuses more with rest_invalid_param


@dataclass
class Page:
    """One page of a collection as the server sent it."""

    url: str
    number: int
    items: list[dict[str, Any]]
    total: int | None
    total_pages: int | None
    fetched_at: str
    warc_record_id: str | None = None


class Recorder(Protocol):
    """Keeps a copy of every response (a WARC writer); returns the copy's record id."""

    def record(self, response: requests.Response) -> str: ...


_warc_ids: "weakref.WeakKeyDictionary[requests.Response, str]" = weakref.WeakKeyDictionary()


def warc_record_id(response: requests.Response) -> str | None:
    """The WARC-Record-ID a response was written under, if a recorder wrote it."""
    return _warc_ids.get(response)


@dataclass
class Client:
    """A polite REST client: every request has a timeout, failures are retried with backoff."""

    timeout: float = 30.0
    retries: int = 5
    backoff: float = 1.0
    max_backoff: float = 120.0
    delay: float = 0.5
    user_agent: str = USER_AGENT
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session)
    # (user, application password); never shown in a repr, a log line or the archive
    auth: tuple[str, str] | None = field(default=None, repr=False)
    recorder: Recorder | None = None  # writes every response to a WARC file, when asked
    requests_made: int = 0
    _last_request_at: float = 0.0

    def __post_init__(self) -> None:
        self.session.headers["User-Agent"] = self.user_agent
        self.session.headers["Accept"] = "application/json, text/html;q=0.9, */*;q=0.5"
        if self.auth is not None:
            # requests drops it on a redirect to another host, so it never leaves the site
            self.session.auth = requests.auth.HTTPBasicAuth(*self.auth)

    def drop_auth(self) -> None:
        """Continue anonymously."""
        self.auth = None
        self.session.auth = None

    def stream(self, url: str) -> tuple[requests.Response, Iterator[bytes]]:
        """GET a file without reading it into memory: the final response and its body in chunks."""
        response = self.get(url, stream=True)
        return response, response.iter_content(chunk_size=1 << 16)

    def get(self, url: str, params: dict[str, Any] | None = None, *, stream: bool = False) -> requests.Response:
        """GET with retries on connection errors, 429 and 5xx; returns any final response."""
        url = with_params(url, params or {})
        attempt = 0
        while True:
            self._be_polite()
            log.debug("GET %s", url)
            self.requests_made += 1
            try:
                response = self.session.get(url, timeout=self.timeout, stream=stream)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt >= self.retries:
                    raise FetchError(
                        f"{describe_network_error(exc)} (after {attempt + 1} attempts)", url=url,
                        reason=type(exc).__name__,
                    ) from exc
                wait = self._backoff(attempt)
            else:
                if self.recorder is not None and not stream:
                    _warc_ids[response] = self.recorder.record(response)
                if response.status_code not in RETRY_STATUSES or attempt >= self.retries:
                    return response
                response.close()
                asked = retry_after_seconds(response.headers.get("Retry-After"))
                wait = min(self._backoff(attempt) if asked is None else asked, self.max_backoff)
                log.info("%s answered %s; retrying in %.1fs", url, response.status_code, wait)
            attempt += 1
            self.sleep(wait)

    def get_json(self, url: str, params: dict[str, Any] | None = None) -> tuple[requests.Response, Any]:
        """GET and decode JSON; WordPress error objects become the exception for their code."""
        response = self.get(url, params)
        body = response.content
        try:
            data = json.loads(body)
        except ValueError as exc:
            if response.status_code >= 400:
                raise FetchError(
                    f"HTTP {response.status_code} from {response.url}", url=response.url,
                    status=response.status_code, body=body,
                ) from exc
            raise BadResponseError(
                f"not JSON ({exc}) from {response.url}", url=response.url,
                status=response.status_code, body=body, reason="invalid_json",
            ) from exc
        if response.status_code >= 400:
            code = data.get("code", "") if isinstance(data, dict) else ""
            message = data.get("message", "") if isinstance(data, dict) else ""
            cls = error_for_code(code, response.status_code)
            raise cls(
                f"HTTP {response.status_code} {code or ''} from {response.url}: {message}".strip(),
                url=response.url, status=response.status_code, code=code, body=body,
            )
        return response, data

    def paginate(
        self, url: str, params: dict[str, Any] | None = None, *, per_page: int = PER_PAGE_MAX, start_page: int = 1,
        on_failed_page: Callable[[int, FetchError], None] | None = None,
    ) -> Iterator[Page]:
        """Yield the pages of a collection until WordPress says it is done.

        Post types answer 400 rest_post_invalid_page_number past the end, terms, users and
        comments answer 200 []: both end the iteration quietly. With on_failed_page, a page
        that fails once the number of pages is known is reported there and skipped; the
        first page's failure always raises, as nothing is known without it.
        """
        number = start_page
        known_pages: int | None = None
        while True:
            query = {**(params or {}), "per_page": per_page, "page": number}
            try:
                response, data = self.get_json(url, query)
                if not isinstance(data, list):
                    raise BadResponseError(
                        f"expected a JSON list from {response.url}, got {type(data).__name__}",
                        url=response.url, status=response.status_code, body=response.content,
                        reason="not_a_list",
                    )
            except InvalidPageNumber:
                return
            except FetchError as exc:
                if on_failed_page is None or known_pages is None:
                    raise
                on_failed_page(number, exc)
                if number >= known_pages:
                    return
                number += 1
                continue
            total_pages = header_int(response, "X-WP-TotalPages")
            known_pages = total_pages
            yield Page(
                url=response.url,
                number=number,
                items=data,
                total=header_int(response, "X-WP-Total"),
                total_pages=total_pages,
                fetched_at=utc_now(),
                warc_record_id=warc_record_id(response),
            )
            # A short page is not the end when WordPress says there are more pages: it counts
            # comments before hiding those on unreadable posts, so pages can come up short.
            if total_pages is not None:
                if number >= total_pages:
                    return
            elif not data or len(data) < per_page:
                return
            number += 1

    def _be_polite(self) -> None:
        if self.delay > 0 and self._last_request_at:
            remaining = self._last_request_at + self.delay - time.monotonic()
            if remaining > 0:
                self.sleep(remaining)
        self._last_request_at = time.monotonic()

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff * (2**attempt), self.max_backoff)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header, in either of its forms (seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def describe_network_error(exc: Exception) -> str:
    """A short human reason for a requests exception, instead of urllib3's nested repr."""
    text = str(exc)
    if isinstance(exc, requests.Timeout):
        return "timed out"
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "host name not found"),
        ("Failed to resolve", "host name not found"),
        ("nodename nor servname", "host name not found"),
        ("Connection reset", "connection reset by the server"),
        ("RemoteDisconnected", "the server closed the connection"),
        ("SSLError", "TLS/SSL error"),
    ):
        if needle in text:
            return reason
    return type(exc).__name__


def header_int(response: requests.Response, name: str) -> int | None:
    """An integer header, or None when absent or garbled."""
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None


def with_params(url: str, params: dict[str, Any]) -> str:
    """The URL with params merged into its query string (keeps ?rest_route= intact)."""
    if not params:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, str(v)) for k, v in params.items()]
    return urlunsplit(parts._replace(query=urlencode(query, safe="/,")))


def route_url(api_root: str, route: str) -> str:
    """The URL of a REST route under an API root, in pretty (/wp-json/) or plain (?rest_route=) form."""
    parts = urlsplit(api_root)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if "rest_route" in query:
        return with_params(api_root, {"rest_route": "/" + route.lstrip("/")})
    return api_root.rstrip("/") + "/" + route.lstrip("/")


def utc_now() -> str:
    """The current UTC time as ISO 8601 with seconds."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
