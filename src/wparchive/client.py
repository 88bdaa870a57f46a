"""HTTP for the harvest: one session, timeouts, retries with backoff, politeness; pagination.py
reads collections page by page through it.

Every server is taken for hostile: credentials go only to the origin they were given for, each
request ends by its deadline however slowly the server sends, and no body grows past its cap.
"""

from __future__ import annotations

import heapq
import logging
import re
import socket
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Protocol
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit

import requests
import requests.adapters
import requests.auth
import urllib3
import urllib3.connection
import urllib3.exceptions

from . import USER_AGENT
from .errors import (
    BadResponseError, Blocked, FetchError, HostUnreachable, RedirectedElsewhere, ResponseTooLarge, error_for_code,
)
from .responses import (
    BodyDecoder, DeadlinePassed, NotJSON, UnsupportedEncoding, decode_json, describe_network_error, firewall_of,
    host_not_there, retry_after_seconds, same_site,
)

log = logging.getLogger("wparchive.client")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_REDIRECTS = 10
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # --max-response-mb: no WordPress page of 100 items comes near it
_READ_SIZE = 64 * 1024
_PREVIEW = 64 * 1024  # what is kept of a body over the cap, for harvest_errors
_WPCOM_ROOT = re.compile(r"/wp/v2/sites/([^/]+)/?$")
_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]  # scheme, host, port: where credentials may go


class Recorder(Protocol):
    """Keeps a copy of every response (a WARC writer); returns the copy's record id."""

    def record(self, response: requests.Response) -> str: ...


_warc_ids: "weakref.WeakKeyDictionary[requests.Response, str]" = weakref.WeakKeyDictionary()


# The body of a streamed response, as chunks read under its deadline (Client.stream hands them on).
_chunks_of: "weakref.WeakKeyDictionary[requests.Response, Iterator[bytes]]" = weakref.WeakKeyDictionary()


def warc_record_id(response: requests.Response) -> str | None:
    """The WARC-Record-ID a response was written under, if a recorder wrote it."""
    return _warc_ids.get(response)


@dataclass
class Client:
    """A polite REST client: every request has a timeout, failures are retried with backoff.

    And a wary one: each request ends by its deadline (timeout, in all), no body is read past
    max_response_bytes, and the credentials go only to auth_origin.
    """

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
    # The one origin the credentials are sent to; until bind_credentials names it, to none.
    auth_origin: Origin | None = None
    # The most a response body may hold once decompressed; a larger one raises ResponseTooLarge.
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    recorder: Recorder | None = None  # writes every response to a WARC file, when asked
    # Pages fetched at once while paginating. 1, one request after another, is the polite default;
    # more only for servers that allow it. delay then spaces the requests of each connection.
    concurrency: int = 1
    requests_made: int = 0
    # Set by another thread to stop this client's harvest (harvest --jobs, on Ctrl-C): its next request,
    # or the wait before it, raises KeyboardInterrupt as Ctrl-C would in the main thread.
    stop: threading.Event | None = None
    # What was forgiven in bodies (URL, what, the raw bytes), for the harvest to record.
    repairs: list[tuple[str, str, bytes]] = field(default_factory=list)
    _last_request_at: float = 0.0
    _hold_until: float = 0.0  # a Retry-After holds every connection, not only the one told
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        # Every connection comes from pools the deadline watchdog can see.
        adapter = _WatchedAdapter(pool_maxsize=max(self.concurrency, requests.adapters.DEFAULT_POOLSIZE))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = self.user_agent
        self.session.headers["Accept"] = "application/json, text/html;q=0.9, */*;q=0.5"
        self.session.headers["Accept-Encoding"] = BodyDecoder.ACCEPTED  # what _body can inflate in bounded steps
        # No session.auth: requests would send it after any redirect to the same host name, whatever
        # the port or scheme. Each request is signed, or not, by signs().

    def bind_credentials(self, url: str) -> None:
        """Send the credentials to url's origin (scheme, host and port) and nowhere else from now on."""
        if self.auth is not None:
            self.auth_origin = origin_of(url)

    def signs(self, url: str) -> bool:
        """Whether a request to url carries the credentials: only on their origin, or its https form."""
        return self.auth is not None and within_origin(self.auth_origin, url)

    def drop_auth(self) -> None:
        """Continue anonymously."""
        self.auth = None
        self.auth_origin = None

    def stream(self, url: str) -> tuple[requests.Response, Iterator[bytes]]:
        """GET a file without reading it into memory: the final response and its decoded body in chunks.

        The chunks end by the request's deadline like any body, but have no size cap of their own
        (the caller counts them); a failure while reading them raises FetchError.
        """
        response = self._get(url, None, stream=True)
        chunks = _chunks_of.pop(response, None)
        return response, iter((response.content,)) if chunks is None else chunks  # an error page is read whole

    def get(self, url: str, params: dict[str, Any] | None = None) -> requests.Response:
        """GET with retries on network failures, 429 and 5xx; returns any final response, its body read.

        Redirects are followed within the site (http to https, www or not); a redirect to
        another host or a loop raises instead, so a harvest never wanders off silently. The
        whole request, from connecting to the body's last byte, ends by its deadline (timeout);
        a body larger than max_response_bytes once decompressed raises ResponseTooLarge.
        """
        return self._get(url, params, stream=False)

    def _get(self, url: str, params: dict[str, Any] | None, *, stream: bool) -> requests.Response:
        url = with_params(url, params or {})
        attempt = 0
        while True:
            if self.stop is not None and self.stop.is_set():
                raise KeyboardInterrupt
            self._be_polite()
            log.debug("GET %s", url)
            try:
                response = self._follow_redirects(url, stream)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as exc:
                not_there = host_not_there(exc)
                if not_there is not None:  # a host that is down stays down for the seconds retries would wait
                    origin = origin_of(url)
                    raise HostUnreachable(f"{not_there} ({show_origin(origin) if origin else url})", url=url,
                                          reason=type(exc).__name__) from None
                # the next request, a retry or the next page, must not go out on the connection that broke
                self._drop_idle_connections()
                if attempt >= self.retries:
                    raise FetchError(
                        f"{describe_network_error(exc)} (after {attempt + 1} attempts)", url=url,
                        reason=type(exc).__name__,
                    ) from exc
                wait = self._backoff(attempt)
                log.info("%s failed (%s); retrying in %.1fs", url, describe_network_error(exc), wait)
            else:
                if self.recorder is not None and not stream:
                    with self._lock:
                        _warc_ids[response] = self.recorder.record(response)
                firewall = firewall_of(response)
                if firewall == "Cloudflare challenge":
                    _chunks_of.pop(response, None)  # a streamed body is not read for it
                    response.close()
                    raise Blocked(f"{response.url} answered with a {firewall} (HTTP {response.status_code})",
                                  url=response.url, status=response.status_code, body=_read_already(response),
                                  reason=firewall)
                if response.status_code not in RETRY_STATUSES or attempt >= self.retries:
                    if firewall and response.status_code >= 400:
                        raise Blocked(f"{firewall} refused {response.url} (HTTP {response.status_code})",
                                      url=response.url, status=response.status_code, body=_read_already(response),
                                      reason=firewall)
                    return response
                response.close()
                asked = retry_after_seconds(response.headers.get("Retry-After"))
                wait = min(self._backoff(attempt) if asked is None else asked, self.max_backoff)
                if asked is not None and self.concurrency > 1:
                    with self._lock:
                        self._hold_until = max(self._hold_until, time.monotonic() + wait)
                log.info("%s answered %s; retrying in %.1fs", url, response.status_code, wait)
            attempt += 1
            self._pause(wait)

    def _drop_idle_connections(self) -> None:
        """Close the kept-alive connections. After a broken transfer the server may be closing the
        one it came on (urllib3 pools it again once the announced length is read, even when the
        body could not be decoded), and a retry sent on it would fail without an answer."""
        for adapter in self.session.adapters.values():
            if isinstance(adapter, requests.adapters.HTTPAdapter):
                adapter.poolmanager.clear()

    def _follow_redirects(self, url: str, stream: bool) -> requests.Response:
        seen = {url}
        for _ in range(MAX_REDIRECTS + 1):
            with self._lock:
                self.requests_made += 1
            response = self._send(url, stream)
            if not (response.is_redirect and response.headers.get("Location")):
                return response
            response.close()
            try:
                target = urljoin(url, response.headers["Location"])
                hostname = urlsplit(target).hostname or ""
            except ValueError:
                raise FetchError(f"{url} redirects to an address that is not one: {response.headers['Location']!r}",
                                 url=url, status=response.status_code, reason="bad_redirect") from None
            if not same_site(urlsplit(url).hostname or "", hostname):
                raise RedirectedElsewhere(
                    f"{url} redirects to another host: {target}", url=url, status=response.status_code,
                    reason="redirect_to_other_host", target=target)
            if target in seen:
                raise FetchError(f"redirect loop at {url} (back to {target})", url=url, status=response.status_code,
                                 reason="redirect_loop")
            seen.add(target)
            log.info("%s redirects to %s", url, target)
            url = target
        raise FetchError(f"more than {MAX_REDIRECTS} redirects from {url}", url=url, reason="too_many_redirects")

    def _send(self, url: str, stream: bool) -> requests.Response:
        """One request, signed only for the credentials' origin, under a deadline; its body read
        here, or (stream) handed on in chunks that keep the deadline."""
        auth = requests.auth.HTTPBasicAuth(*self.auth) if self.auth is not None and self.signs(url) else None
        watch = _WATCHDOG.start(self.timeout)
        _watching.watch = watch
        try:
            try:
                response = self.session.get(url, timeout=self.timeout, stream=True, allow_redirects=False, auth=auth)
            finally:
                _watching.watch = None
            if response.is_redirect and response.headers.get("Location"):
                return response  # its body is of no use; closed by the caller
            try:
                decoder = BodyDecoder(response.headers.get("Content-Encoding", ""))
            except UnsupportedEncoding as exc:
                response.close()
                raise BadResponseError(f"{exc} from {response.url}", url=response.url, status=response.status_code,
                                       reason="unsupported_encoding") from None
            if stream and response.status_code < 400:
                # The chunks keep the same deadline once they are read (and only then: a response
                # closed unread leaves nothing watched behind).
                _chunks_of[response] = self._chunks(response, decoder, watch.deadline, watch.connections)
                return response
            response._content = self._read_capped(response, decoder, watch)
            response._content_consumed = True  # type: ignore[attr-defined]  # as requests marks a body it has read
            return response
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            if watch.expired:
                raise DeadlinePassed(self._late()) from exc
            if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema,
                                requests.exceptions.MissingSchema, requests.exceptions.InvalidHeader,
                                urllib3.exceptions.LocationParseError)):
                raise FetchError(f"cannot request {url}: {exc}", url=url, reason="invalid_url") from None
            raise
        finally:
            _WATCHDOG.stop(watch)

    def _late(self) -> str:
        return f"timed out: no whole answer within {self.timeout:g} s (--timeout)"

    def _read_capped(self, response: requests.Response, decoder: BodyDecoder, watch: _Watch) -> bytes:
        """The whole decoded body, or ResponseTooLarge as soon as it passes max_response_bytes."""
        limit = self.max_response_bytes
        declared = response.headers.get("Content-Length", "")
        if not decoder.compressed and declared.isdigit() and int(declared) > limit:
            response.close()
            raise self._too_large(response, f"it announces {int(declared):,} bytes", b"")
        body = bytearray()
        try:
            for piece in _decoded(response, decoder, watch):
                body += piece
                if len(body) > limit:
                    raise self._too_large(response, "it is larger once decompressed" if decoder.compressed else
                                          "it is larger", bytes(body[:_PREVIEW]))
        except BaseException:
            response.close()
            raise
        return bytes(body)

    def _too_large(self, response: requests.Response, why: str, preview: bytes) -> ResponseTooLarge:
        limit_mb = self.max_response_bytes / (1024 * 1024)
        return ResponseTooLarge(
            f"the answer from {response.url} is over the {limit_mb:g} MB limit ({why}); not read further",
            url=response.url, status=response.status_code, body=preview, reason="response_too_large")

    def _chunks(self, response: requests.Response, decoder: BodyDecoder, deadline: float,
                connections: list[Any]) -> Iterator[bytes]:
        watch = _WATCHDOG.start(deadline - time.monotonic())
        watch.connections = connections  # those the request used, and their sockets
        try:
            yield from _decoded(response, decoder, watch)
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            reason = self._late() if isinstance(exc, DeadlinePassed) else describe_network_error(exc)
            raise FetchError(f"{reason} while reading {response.url}", url=response.url,
                             status=response.status_code, reason=type(exc).__name__) from None
        finally:
            _WATCHDOG.stop(watch)
            response.close()

    def get_json(self, url: str, params: dict[str, Any] | None = None) -> tuple[requests.Response, Any]:
        """GET and decode JSON leniently; WordPress error objects become the exception for their code."""
        response = self.get(url, params)
        body = response.content
        try:
            decoded = decode_json(body)
        except NotJSON as exc:
            if response.status_code >= 400:
                raise FetchError(
                    f"HTTP {response.status_code} from {response.url}", url=response.url,
                    status=response.status_code, body=body, reason=f"http_{response.status_code}",
                ) from exc
            raise BadResponseError(f"{exc} from {response.url}", url=response.url, status=response.status_code,
                                   body=body, reason=exc.reason) from exc
        for repair in decoded.repairs:
            log.warning("%s: %s", response.url, repair)
            self.repairs.append((response.url, repair, body))
        data = decoded.data
        if response.status_code >= 400:
            code = data.get("code", "") if isinstance(data, dict) else ""
            message = data.get("message", "") if isinstance(data, dict) else ""
            cls = error_for_code(code, response.status_code)
            raise cls(
                f"HTTP {response.status_code} {code or ''} from {response.url}: {message}".strip(),
                url=response.url, status=response.status_code, code=code, body=body,
            )
        return response, data

    def _be_polite(self) -> None:
        """Wait for this request's turn: delay apart on each connection, and never during a
        Retry-After the server asked for."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._hold_until)
            if self.delay > 0 and self._last_request_at:
                start = max(start, self._last_request_at + self.delay / self.concurrency)
            self._last_request_at = start
        if start > now:
            self._pause(start - now)

    def _pause(self, seconds: float) -> None:
        """Wait, unless a stop is asked meanwhile: then KeyboardInterrupt at once."""
        if self.stop is None:
            self.sleep(seconds)
        elif self.stop.wait(seconds):
            raise KeyboardInterrupt

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff * (2**attempt), self.max_backoff)


def _read_already(response: requests.Response) -> bytes:
    """The body if it has been read (a streamed one has not): for an error to keep."""
    return response.content if getattr(response, "_content_consumed", False) else b""


def _decoded(response: requests.Response, decoder: BodyDecoder, watch: _Watch) -> Iterator[bytes]:
    """A body as it arrives, decoded, raising as requests would for a broken transfer, and
    DeadlinePassed once the watchdog has ended it."""
    try:
        for raw in response.raw.stream(_READ_SIZE, decode_content=False):
            if watch.expired:
                break
            yield from decoder.decode(raw)
    except urllib3.exceptions.ReadTimeoutError as exc:
        raise requests.exceptions.ReadTimeout(exc) from exc
    except urllib3.exceptions.SSLError as exc:
        raise requests.exceptions.SSLError(exc) from exc
    except (urllib3.exceptions.ProtocolError, urllib3.exceptions.DecodeError) as exc:
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except requests.RequestException:
        raise  # the decoder's own (an OSError too)
    except OSError as exc:
        raise requests.exceptions.ConnectionError(exc) from exc
    # A body whose end is the connection's end looks whole when the watchdog has cut it
    if watch.expired:
        raise DeadlinePassed("the deadline passed")


class _Watch:
    """One request's deadline, and the connections it used, for the watchdog to cut."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.connections: list[Any] = []
        self.expired = False

    def cut(self) -> None:
        """Shut the connections: a read blocked in the kernel returns at once."""
        for connection in self.connections:
            sock = getattr(connection, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed


class _Watchdog:
    """Ends requests that outlast their deadline. requests' timeout is per read, so a server that
    sends a byte every few seconds would never trip it; shutting the socket from this thread does."""

    TICK = 0.2  # how often an expired request that is still running is cut again

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watches: list[tuple[float, int, _Watch]] = []  # a heap by deadline
        self._expired: set[_Watch] = set()
        self._thread: threading.Thread | None = None

    def start(self, seconds: float) -> _Watch:
        """A deadline seconds from now, watched until stop."""
        watch = _Watch(time.monotonic() + seconds)
        with self._cond:
            heapq.heappush(self._watches, (watch.deadline, id(watch), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="wparchive-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()
        return watch

    def stop(self, watch: _Watch) -> None:
        """Stop watching: the request is over."""
        with self._cond:
            self._expired.discard(watch)
            watch.deadline = -1.0  # left in the heap, skipped when it comes up

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._watches and self._watches[0][0] <= now:
                    deadline, _, watch = heapq.heappop(self._watches)
                    if watch.deadline == deadline:  # not stopped
                        watch.expired = True
                        self._expired.add(watch)
                # An expired request may still be connecting: cut again until it stops.
                for watch in self._expired:
                    watch.cut()
                wake = [self._watches[0][0] - now] if self._watches else []
                if self._expired:
                    wake.append(self.TICK)
                self._cond.wait(timeout=max(0.0, min(wake)) if wake else None)


_WATCHDOG = _Watchdog()
_watching = threading.local()  # the watch of the request this thread is making


def _watched(connection: Any) -> None:
    """Tell the watch of this thread's request about a connection, and its socket once it has one:
    http.client lets go of a connection's socket while the body is still read from it."""
    watch = getattr(_watching, "watch", None)
    if watch is not None:
        watch.connections.append(connection)
        if getattr(connection, "sock", None) is not None:
            watch.connections.append(_Socket(connection.sock))


class _Socket:
    """A socket held for the watchdog, in the shape of a connection."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock


class _WatchedConnecting:
    """For urllib3's connection classes: a connection shows its socket to the watchdog once connected."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]  # urllib3's, beside which this is mixed in
        _watched(self)


class _WatchedLending:
    """For urllib3's pools: a connection lent again (kept alive) is watched by the request that takes it."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        connection = super()._get_conn(timeout)  # type: ignore[misc]
        _watched(connection)
        return connection


class _WatchedHTTPConnection(_WatchedConnecting, urllib3.connection.HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnecting, urllib3.connection.HTTPSConnection):
    pass


class _WatchedPool(_WatchedLending, urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(_WatchedLending, urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter, with connection pools that tell the watchdog which connection a request uses."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools are their own; they keep per-read timeouts
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


def origin_of(url: str) -> Origin | None:
    """(scheme, host, port) of a URL, the default port filled in; None when it has no usable one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def within_origin(origin: Origin | None, url: str) -> bool:
    """Whether url is on origin: the same scheme, host and port, or the https form of an http origin."""
    target = origin_of(url)
    if origin is None or target is None:
        return False
    # http://host/ to https://host/ (the default ports) is the same site, only safer
    scheme, host, port = origin
    return target == origin or (scheme, port, target) == ("http", 80, ("https", host, 443))


def show_origin(origin: Origin) -> str:
    """An origin as people write it: https://example.org, http://127.0.0.1:8080."""
    scheme, host, port = origin
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + ("" if _DEFAULT_PORTS.get(scheme) == port else f":{port}")


def url_problem(url: str) -> str | None:
    """What makes url unusable as a site's address (said without the URL), or None when it is usable.

    A user:password@ before the host is not looked at: split_credentials takes it out.
    """
    url = split_credentials(url)[0]
    if any(c <= " " or c == "\x7f" for c in url):
        return "it holds a space or a control character"
    try:
        parts = urlsplit(url)
    except ValueError:  # urlsplit checks only what is in [brackets]
        return "its host is not a valid IPv6 address in [brackets]"
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        return "must start with http:// or https://"
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return "its port must be a number from 1 to 65535"
    if not parts.hostname:
        return "it names no host"
    return None


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """The URL without a user:password@ before its host, and that (user, password), percent-decoded.

    Works on malformed URLs too (a bad port, a broken IPv6 address), so that no message about
    them can show the password.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url, None
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority = rest[:end]
    userinfo, at, host = authority.rpartition("@")
    if not at:
        return url, None
    user, _, password = userinfo.partition(":")
    return f"{scheme}://{host}{rest[end:]}", (unquote(user), unquote(password))


def with_params(url: str, params: dict[str, Any]) -> str:
    """The URL with params merged into its query string (keeps ?rest_route= intact)."""
    if not params:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query += [(k, str(v)) for k, v in params.items()]
    return urlunsplit(parts._replace(query=urlencode(query, safe="/,")))


def route_url(api_root: str, route: str) -> str:
    """The URL of a REST route under an API root: pretty (/wp-json/), plain (?rest_route=), or
    WordPress.com's (/wp/v2/sites/<site>/, where the site comes after the namespace)."""
    parts = urlsplit(api_root)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if "rest_route" in query:
        return with_params(api_root, {"rest_route": "/" + route.lstrip("/")})
    wpcom = _WPCOM_ROOT.search(api_root)
    if wpcom:
        base, site = api_root[:wpcom.start()], wpcom.group(1)
        segments = route.strip("/").split("/")
        if len(segments) >= 2:
            rest = "/".join(segments[2:])
            return f"{base}/{segments[0]}/{segments[1]}/sites/{site}/{rest}".rstrip("/")
        return api_root
    return api_root.rstrip("/") + "/" + route.lstrip("/")


