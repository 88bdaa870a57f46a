"""Reading what servers really send: JSON behind byte-order marks and PHP notices, broken bodies,
firewall pages, and failures worth a name."""

from __future__ import annotations

import email.utils
import json
import math
import re
import socket
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import requests
import urllib3.exceptions

# PHP prints notices and warnings into the response when display_errors is on, before the JSON.
_PHP_NOISE = re.compile(
    rb"^\s*(?:(?:<br\s*/?>\s*)*(?:<b>)?(?:PHP )?(?:Notice|Warning|Deprecated|Strict Standards|Fatal error)"
    rb"(?:</b>)?:.*?(?:<br\s*/?>|\n)\s*)+", re.I | re.S)
_UTF8_BOM = b"\xef\xbb\xbf"

# Deeper JSON is cut off where it passes this depth: WordPress nests a few levels, and Python's
# parser, SQLite's JSON functions (1,000) and json.dumps give up on deeper input in their own ways.
MAX_JSON_DEPTH = 200
_INT64 = (-(2**63), 2**63 - 1)  # what SQLite stores as an integer
_SURROGATE = re.compile("[\ud800-\udfff]")
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
PIECE = 64 * 1024  # the most a compressed body inflates in one step


@dataclass
class Decoded:
    """JSON decoded from a body, and what had to be forgiven to get it."""

    data: Any
    repairs: list[str]


class NotJSON(ValueError):
    """The body is not JSON, even leniently read; says where it broke."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def decode_json(body: bytes) -> Decoded:
    """JSON from a response body, forgiving what WordPress sites commonly add or break.

    A byte-order mark and PHP notices before the JSON are skipped; invalid UTF-8 is replaced
    (U+FFFD). Values SQLite or Python cannot hold are replaced: integers beyond 64 bits, NaN and
    Infinity by null, lone surrogates and NUL characters in strings by U+FFFD,
    anything nested deeper than MAX_JSON_DEPTH by null. Each forgiveness is named in repairs so
    the caller can record it. A body that breaks off raises NotJSON saying at which byte.
    """
    repairs = []
    if body.startswith(_UTF8_BOM):
        body = body[len(_UTF8_BOM):]
        repairs.append("byte-order mark before the JSON")
    noise = _PHP_NOISE.match(body)
    if noise and noise.end() < len(body):
        body = body[noise.end():]
        repairs.append("PHP notice before the JSON")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = body.decode("utf-8", errors="replace")
        repairs.append(f"invalid UTF-8 at byte {exc.start}, replaced")
    stripped = text.lstrip()
    if not stripped:
        raise NotJSON("empty body", "empty_body")
    if stripped[0] not in "[{":
        kind = "an HTML page" if stripped[:1] == "<" else "not JSON"
        raise NotJSON(f"{kind} instead of JSON", "html_instead_of_json" if stripped[:1] == "<" else "invalid_json")
    try:
        # strict=False: a raw control character in a string is no reason to lose the page
        data = json.loads(text, strict=False, parse_int=_parse_int, parse_float=_parse_float,
                          parse_constant=_parse_constant)
    except RecursionError:
        # Python's parser recurses once per level and gives up near 1,000: nothing of it can be read
        raise NotJSON(f"the JSON is nested too deeply to read (far more than {MAX_JSON_DEPTH} levels)",
                      "json_too_deep") from None
    except json.JSONDecodeError as exc:
        offset = len(text[:exc.pos].encode("utf-8"))
        total = len(text.encode("utf-8"))
        if exc.msg.startswith("Unterminated string") or exc.pos >= len(text.rstrip()) - 1:
            # The parser points at where the last value began; the body ends at its last byte.
            raise NotJSON(f"the JSON breaks off at byte {total} of {total} (in a value that begins at byte "
                          f"{offset}): {exc.msg}", "truncated_json") from exc
        raise NotJSON(f"invalid JSON at byte {offset} of {total}: {exc.msg}", "invalid_json") from exc
    # Strings can only hold a NUL or a lone surrogate if the text has one, or an escape that makes one.
    taming = _Taming(check_strings="\\u" in text or "\x00" in text)
    data = taming.value(data, 1)
    return Decoded(data, repairs + taming.repairs())


class _Unstorable:
    """Stands, while parsing, for a number decode_json replaces by null; kind names what it was."""

    def __init__(self, kind: str) -> None:
        self.kind = kind


# Integers beyond 64 bits become null, not their digits: the models would read digits back into the
# same integer (an id above all) and SQLite refuses it; the body that held it is kept with the repair.
_BIG_INT = _Unstorable("big_int")
_NON_FINITE = _Unstorable("non_finite")  # NaN, Infinity, or a number too large for a float


def _parse_int(text: str) -> int | _Unstorable:
    # A JSON integer has no leading zeros: more than 20 characters is beyond 64 bits, and int()
    # would refuse more than 4,300 digits with a ValueError of its own.
    if len(text) <= 20:
        value = int(text)
        if _INT64[0] <= value <= _INT64[1]:
            return value
    return _BIG_INT


def _parse_float(text: str) -> float | _Unstorable:
    value = float(text)
    return value if math.isfinite(value) else _NON_FINITE


def _parse_constant(text: str) -> _Unstorable:
    return _NON_FINITE


class _Taming:
    """Replaces the values decode_json does not let through, counting each kind and where it first was."""

    _WHAT = {
        "big_int": "integer beyond 64 bits, replaced by null",
        "non_finite": "NaN or Infinity, replaced by null",
        "surrogate": "lone surrogate in a string, replaced by U+FFFD",
        "nul": "NUL character in a string, replaced by U+FFFD",
        "too_deep": f"JSON nested deeper than {MAX_JSON_DEPTH} levels, cut off there (null)",
    }

    def __init__(self, check_strings: bool) -> None:
        self.check_strings = check_strings
        self.counts: dict[str, int] = {}
        self.first: dict[str, str] = {}
        self.path: list[str | int] = []

    def value(self, value: Any, depth: int) -> Any:
        """The value with what cannot be stored replaced; depth is its own depth if it is a container."""
        if isinstance(value, str):
            return self._string(value) if self.check_strings else value
        if isinstance(value, _Unstorable):
            self._found(value.kind)
            return None
        if isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                self._found("too_deep")
                return None
            if isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, (str, dict, list, _Unstorable)):
                        self.path.append(index)
                        value[index] = self.value(item, depth + 1)
                        self.path.pop()
                return value
            renamed = False
            for key, item in value.items():
                self.path.append(key)
                if self.check_strings and _BAD_CHARACTER.search(key):
                    renamed = True
                if isinstance(item, (str, dict, list, _Unstorable)):
                    value[key] = self.value(item, depth + 1)
                self.path.pop()
            if renamed:
                return {self._string(key): item for key, item in value.items()}
            return value
        return value

    def _string(self, text: str) -> str:
        if "\x00" in text:
            self._found("nul", text.count("\x00"))
            text = text.replace("\x00", "\ufffd")
        if not text.isascii() and _SURROGATE.search(text):
            self._found("surrogate", len(_SURROGATE.findall(text)))
            text = _SURROGATE.sub("\ufffd", text)
        return text

    def _found(self, kind: str, count: int = 1) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + count
        self.first.setdefault(kind, _json_path(self.path))

    def repairs(self) -> list[str]:
        """One line per kind of value replaced: what, how many, and where the first one was."""
        return [f"{self._WHAT[kind]}, at {self.first[kind]}" if count == 1 else
                f"{self._WHAT[kind]}, {count} times, the first at {self.first[kind]}" for kind, count in self.counts.items()]


def _json_path(path: list[str | int]) -> str:
    """A short JSONPath for messages; the server chose the keys, so they are quoted and cut short."""
    text = "$" + "".join(f"[{part}]" if isinstance(part, int) else
                         (f".{part}" if part.isidentifier() and part.isascii() and len(part) <= 40
                          else "[" + json.dumps(part[:40])[:60] + "]") for part in path[:12])
    return text + (" …" if len(path) > 12 else "")


def firewall_of(response: requests.Response) -> str | None:
    """The name of the firewall or challenge that answered instead of WordPress, if one did."""
    headers = {k.lower(): v for k, v in response.headers.items()}
    if headers.get("cf-mitigated") == "challenge":
        return "Cloudflare challenge"
    if response.status_code not in (403, 406, 429, 503):
        return None
    head = response.content[:20000].lower()
    for marker, name in ((b"wordfence", "Wordfence"), (b"sucuri", "Sucuri firewall"),
                         (b"cf-browser-verification", "Cloudflare challenge"), (b"mod_security", "ModSecurity"),
                         (b"imunify360", "Imunify360"), (b"blocked by", "a firewall")):
        if marker in head:
            return name
    if headers.get("server", "").lower() == "cloudflare" and response.status_code == 403:
        return "Cloudflare"
    return None


class DeadlinePassed(requests.exceptions.Timeout):
    """A request outlasted its deadline: the server answered, but too slowly to finish in time."""


def describe_network_error(exc: Exception) -> str:
    """A short human reason for a requests exception, instead of urllib3's nested repr."""
    text = str(exc)
    if isinstance(exc, DeadlinePassed):
        return text
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return "the compressed body is broken"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError) or "IncompleteRead" in text:
        return "the response ended before its announced length"
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "host name not found"),
        ("Failed to resolve", "host name not found"),
        ("nodename nor servname", "host name not found"),
        ("Connection reset", "connection reset by the server"),
        ("RemoteDisconnected", "the server closed the connection"),
        ("Connection aborted", "the server closed the connection"),
        ("SSLError", "TLS/SSL error"),
        ("CERTIFICATE_VERIFY_FAILED", "the TLS certificate is not trusted"),
        ("WRONG_VERSION_NUMBER", "no TLS on that port"),
    ):
        if needle in text:
            return reason
    return type(exc).__name__


def host_not_there(exc: BaseException) -> str | None:
    """Why no connection could even be opened, when retrying cannot help: "connection refused"
    (nothing listens on that port) or "host name not found"; None for what may pass (a timeout, a
    reset, a body cut short)."""
    seen: set[int] = set()
    causes: list[object] = [exc]
    while causes:
        cause = causes.pop()
        if not isinstance(cause, BaseException) or id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, (socket.gaierror, urllib3.exceptions.NameResolutionError)):
            return "host name not found"
        # requests wraps urllib3's MaxRetryError, whose reason wraps the socket's own error
        causes += [cause.__cause__, cause.__context__, getattr(cause, "reason", None), *cause.args]
    return None


class UnsupportedEncoding(ValueError):
    """The body is compressed in a way that was not asked for (Accept-Encoding: gzip, deflate)."""


class BodyDecoder:
    """Undoes a body's Content-Encoding (gzip, deflate, or several stacked) a bounded piece at a
    time: a few kilobytes of compressed zeros never inflate into gigabytes before they are counted."""

    ACCEPTED = "gzip, deflate"  # what the client asks for, and all it decodes

    def __init__(self, content_encoding: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        unknown = [c for c in codings if c not in ("gzip", "x-gzip", "deflate")]
        if unknown:
            raise UnsupportedEncoding(f"the body is compressed as {', '.join(unknown)}, which was not asked for")
        # The last coding applied is the first to undo.
        self._stages = [_Inflater(gzip=c != "deflate") for c in reversed(codings)]
        self.compressed = bool(self._stages)

    def decode(self, data: bytes) -> Iterator[bytes]:
        """The decoded bytes of the next part of the body, in pieces of at most PIECE bytes."""
        return self._through(0, data)

    def _through(self, stage: int, data: bytes) -> Iterator[bytes]:
        if stage == len(self._stages):
            if data:
                yield data
            return
        for piece in self._stages[stage].feed(data):
            yield from self._through(stage + 1, piece)


class _Inflater:
    """One gzip or deflate layer, inflated at most PIECE bytes at a time (zlib's max_length)."""

    def __init__(self, gzip: bool) -> None:
        self.gzip = gzip
        self._obj: Any = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
        self._head = b""  # deflate: its first two bytes say whether the zlib wrapper is there
        self._members = 0  # gzip members already ended
        self._ended = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Inflate data, yielding pieces; zlib keeps what it has not used yet in unconsumed_tail."""
        if self._obj is None:
            self._head += data
            if len(self._head) < 2:
                return
            # "deflate" often comes without its zlib wrapper, as raw deflate; browsers take both
            cmf, flg = self._head[0], self._head[1]
            wrapped = cmf & 0x0F == 8 and (cmf * 256 + flg) % 31 == 0
            self._obj = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
            data, self._head = self._head, b""
        pending = data
        while pending and not self._ended:
            try:
                out = self._obj.decompress(pending, PIECE)
            except zlib.error as exc:
                if self._members:
                    self._ended = True  # bytes after the last whole gzip member: ignored, as browsers do
                    return
                raise requests.exceptions.ContentDecodingError(f"the compressed body is broken: {exc}") from None
            if out:
                yield out
            if self._obj.eof:
                pending = self._obj.unused_data
                if self.gzip and pending:
                    self._members += 1  # another gzip member follows
                    self._obj = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    continue
                self._ended = True  # anything after the end of a deflate stream is ignored
                return
            pending = self._obj.unconsumed_tail
            while not pending and len(out) == PIECE:
                # the output filled up: zlib may hold more for the input it has already taken
                out = self._obj.decompress(b"", PIECE)
                if out:
                    yield out
                pending = self._obj.unconsumed_tail


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


def same_site(host_a: str, host_b: str) -> bool:
    """Whether two host names are one site (example.org and www.example.org are)."""
    def bare(host: str) -> str:
        host = host.lower()
        return host[4:] if host.startswith("www.") else host
    return bare(host_a) == bare(host_b)
