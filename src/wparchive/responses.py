"""Reading what servers really send: JSON behind byte-order marks and PHP notices, broken bodies,
firewall pages, and failures worth a name."""

from __future__ import annotations

import email.utils
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import requests

# PHP prints notices and warnings into the response when display_errors is on, before the JSON.
_PHP_NOISE = re.compile(
    rb"^\s*(?:(?:<br\s*/?>\s*)*(?:<b>)?(?:PHP )?(?:Notice|Warning|Deprecated|Strict Standards|Fatal error)"
    rb"(?:</b>)?:.*?(?:<br\s*/?>|\n)\s*)+", re.I | re.S)
_UTF8_BOM = b"\xef\xbb\xbf"


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
    (U+FFFD). Each forgiveness is named in repairs so the caller can record it. A body that
    breaks off raises NotJSON saying at which byte.
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
        return Decoded(json.loads(text), repairs)
    except json.JSONDecodeError as exc:
        offset = len(text[:exc.pos].encode("utf-8"))
        total = len(text.encode("utf-8"))
        if exc.msg.startswith("Unterminated string") or exc.pos >= len(text.rstrip()) - 1:
            # The parser points at where the last value began; the body ends at its last byte.
            raise NotJSON(f"the JSON breaks off at byte {total} of {total} (in a value that begins at byte "
                          f"{offset}): {exc.msg}", "truncated_json") from exc
        raise NotJSON(f"invalid JSON at byte {offset} of {total}: {exc.msg}", "invalid_json") from exc


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


def describe_network_error(exc: Exception) -> str:
    """A short human reason for a requests exception, instead of urllib3's nested repr."""
    text = str(exc)
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
