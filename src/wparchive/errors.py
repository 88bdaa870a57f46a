"""Exceptions raised by the library; the CLI turns them into one-line messages with a hint.

Each carries what the user is told (its message), what they can do about it (hint), and the
exit code the command line ends with, so one handler at the CLI's edge serves every command.
"""

from __future__ import annotations

import os


class WPArchiveError(Exception):
    """Base class of every error wparchive raises on purpose: a message, a hint and an exit code."""

    hint: str = ""
    exit_code: int = 1  # failed; the message says why and what to do

    def __init__(self, message: str = "", *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class DiscoveryError(WPArchiveError):
    """No WordPress REST API could be found from the URL given."""

    hint = (
        "Check the URL in a browser; if the site is WordPress, its REST API may be "
        "disabled or blocked (try the API root directly, e.g. https://example.org/wp-json/)."
    )


class RestDisabled(DiscoveryError):
    """The site is WordPress, but its REST API refuses anonymous visitors."""

    hint = ("A plugin or the host has switched the REST API off for visitors. wparchive reads the site's "
            "feed, sitemaps and pages instead; with an application password (--auth-env) it can use the API.")

    def __init__(self, message: str, *, site_url: str = "") -> None:
        super().__init__(message)
        self.site_url = site_url


class BadSiteUrl(WPArchiveError):
    """What was given as a site is not a web address."""

    hint = "Give the address of any page of the site, such as https://example.org/ (or example.org)."


class SiteUnreachable(DiscoveryError):
    """The site did not answer at all."""

    hint = "Check the address and the network; the site may be down. Try again later."


class FetchError(WPArchiveError):
    """A request failed for good: after retries, or in a way retrying cannot mend."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        body: bytes = b"",
        reason: str = "",
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.body = body
        self.reason = reason or message


class HostUnreachable(FetchError):
    """No connection could be opened at all (refused, or no such host name): retrying would only wait."""

    hint = "Check the address (host name and port) and that the site is up, then run again."


class Blocked(FetchError):
    """A firewall or a bot challenge answered instead of WordPress."""

    hint = ("wparchive cannot pass browser challenges. Ask the site's owner to allow its User-Agent, "
            "try again later with a longer --delay, or archive the site's feed instead.")


class RedirectedElsewhere(FetchError):
    """The site sent us to another host; following silently could archive the wrong site."""

    hint = "If that is the site's new address, harvest that URL instead."

    def __init__(self, message: str, *, url: str, status: int | None, reason: str, target: str) -> None:
        super().__init__(message, url=url, status=status, reason=reason)
        self.target = target


class ResponseTooLarge(FetchError):
    """A response body passed the size cap (counted decompressed); the rest of it was not read."""

    hint = ("If the site really serves pages that large, raise the cap with --max-response-mb "
            "(max_response_mb in sites.toml); the next run fetches the page again.")


class BadResponseError(FetchError):
    """The server answered, but not with the JSON the REST API promises."""

    hint = "The raw bytes are kept in the harvest_errors table; the next run retries this page."


class PageNarrowed(BadResponseError):
    """A page that could not be read whole was read again in smaller pages, down to single items."""

    hint = "The raw bytes are kept in the harvest_errors table; the items that came whole were stored."


class ItemCutOff(BadResponseError):
    """An item that cannot be read whole even alone on a page; what arrived of it may be kept, marked incomplete."""

    hint = ("What arrived before the break is stored with the incomplete column saying what is missing; the next "
            "run fetches the item again and replaces it. The raw bytes are in the harvest_errors table.")

    def __init__(self, message: str, *, url: str, status: int | None, body: bytes, reason: str,
                 wp_id: int | None) -> None:
        super().__init__(message, url=url, status=status, body=body, reason=reason)
        self.wp_id = wp_id  # None when not even the item's id arrived: nothing of it could be kept
        if wp_id is None:
            self.hint = ("Not even its id arrived, so nothing of it is stored; the raw bytes are in the "
                         "harvest_errors table, and the next run asks for it again.")


class PaginationStopped(FetchError):
    """A collection's pages went round in a loop, or announced far more than they held: paging stopped."""

    hint = "What the site served until then is kept; the next run reads the collection again."

    def __init__(self, message: str, *, url: str, status: int | None = None, body: bytes = b"", reason: str,
                 complete: bool) -> None:
        super().__init__(message, url=url, status=status, body=body, reason=reason)
        # True when every item the site's X-WP-Total counts was within the pages read: nothing is lost
        self.complete = complete
        if complete:
            self.hint = "Nothing was missed: the pages read hold every item X-WP-Total counts."


class WordPressError(FetchError):
    """An error object from the REST API: {"code": ..., "message": ..., "data": {"status": ...}}."""

    code: str = ""

    def __init__(self, message: str, *, url: str, status: int | None, code: str, body: bytes = b"") -> None:
        super().__init__(message, url=url, status=status, body=body, reason=code)
        self.code = code


class InvalidPageNumber(WordPressError):
    """rest_post_invalid_page_number: the page is past the end of a post-type collection."""


class InvalidParam(WordPressError):
    """rest_invalid_param: a query parameter was refused (per_page above a plugin's limit, say)."""


class AccessDenied(WordPressError):
    """The collection needs authentication (rest_cannot_access, rest_forbidden, rest_cannot_read…)."""

    hint = "This collection is not public; it is skipped in an anonymous harvest."


class NoRoute(WordPressError):
    """rest_no_route: the site does not serve this route."""


class NotAnArchive(WPArchiveError):
    """The file is a SQLite database, but not one this tool wrote (or a newer version's)."""

    hint = ("Use --db to name a wparchive archive, or a new file to start one; an archive written by a newer "
            "wparchive needs that version (pip install -U wparchive).")


class ConfigError(WPArchiveError):
    """A configuration file cannot be read or says something impossible."""

    hint = "Fix the file (see config/README.md for every option) and run again."


class AuthenticationFailed(WPArchiveError):
    """WordPress refused the credentials."""

    hint = ("Check the user name and the application password (Users → Profile → Application Passwords); "
            "WordPress only accepts application passwords over https unless the site is a local one.")


class NotSignedIn(AuthenticationFailed):
    """The credentials signed in as nobody: WordPress answered as it answers an anonymous visitor."""

    hint = ("Check the user name and the application password (Users → Profile → Application Passwords), that the "
            "site allows application passwords (only over https, or on a local site), and that the server passes "
            "the Authorization header on (Apache with PHP as CGI drops it unless .htaccess passes it).")


class DatabaseLocked(WPArchiveError):
    """Another process holds the archive database."""

    hint = "Wait for that harvest to finish (or stop it); nothing was changed by this one."
    exit_code = 75  # EX_TEMPFAIL: cron may simply try again later


class ArchiveMissing(WPArchiveError):
    """The archive named does not exist, and the command only reads archives."""


class ArchiveUnavailable(WPArchiveError):
    """The archive's file cannot be opened or created: no such folder, or no permission."""

    hint = "Check the path given with --db, that its folder exists, and that you may write there."

    @classmethod
    def opening(cls, path: str, reason: str) -> ArchiveUnavailable:
        """The error for a path that could not be opened: its folder is missing, or the reason given."""
        folder = os.path.dirname(os.path.abspath(path))
        return cls(f"cannot open {path}: " + (reason if os.path.isdir(folder) else f"the folder {folder} does not exist"))


class ArchiveDamaged(WPArchiveError):
    """SQLite found the archive's file damaged while reading it."""

    hint = ("Check it with: sqlite3 FILE 'PRAGMA integrity_check'. Restore a copy, or harvest again into a new "
            "file with --db.")


class PortUnavailable(WPArchiveError):
    """A server cannot listen on the port asked for: another program has it, or it needs privileges."""

    hint = "Choose another port with --port."


class ExportError(WPArchiveError):
    """The export could not be written."""

    hint = "Check the path given, that its folder exists, that you may write there and that the disk has room."


class QueueUnavailable(WPArchiveError):
    """The job queue cannot be reached or opened: Redis is down or refuses, or its SQLite file cannot be opened."""

    hint = ("Start Redis (or check the address given with --queue, such as redis://127.0.0.1:6379/0), "
            "or give the path of a SQLite file in a folder you may write to; then run again.")
    exit_code = 69  # EX_UNAVAILABLE: a service the command needs is not there


class BadQueueAddress(WPArchiveError):
    """What --queue names is neither a Redis URL nor the path of a file."""

    hint = ("Give a Redis URL such as redis://127.0.0.1:6379/0 (rediss:// with TLS, unix:///path/redis.sock), "
            "or the path of a SQLite file for a queue on one machine.")
    exit_code = 2  # as click's own usage errors


class BadFilter(WPArchiveError):
    """An export's --site, --type or --since names what the archive does not have, or is no date:
    a usage error, whose message lists what there is to choose from."""

    hint = ""
    exit_code = 2  # as click's own usage errors


class NothingToExport(WPArchiveError):
    """The filters are valid, but no item matches them all: nothing was written."""

    hint = "Each filter names what the archive holds, but together they leave nothing: widen one of them."


def archive_error(exc: Exception, label: str = "the database") -> WPArchiveError:
    """The WPArchiveError that an error SQLite raised on an archive means, to raise in its place."""
    code = getattr(exc, "sqlite_errorname", "")  # sqlite3 errors carry it since Python 3.11
    if code == "SQLITE_NOTADB":
        return NotAnArchive(f"{label} is not a SQLite database")
    if code == "SQLITE_CORRUPT":
        return ArchiveDamaged(f"{label} is damaged: {exc}")
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return DatabaseLocked(f"{label} is being written by another process")
    if code == "SQLITE_FULL":
        return ArchiveUnavailable(f"cannot write {label}: the disk is full", hint=(
            "Make room on the archive's disk and run again: each page is saved whole or not at all, "
            "and the next run continues where this one stopped."))
    if code == "SQLITE_READONLY_DIRECTORY":
        return ArchiveUnavailable(f"cannot read {label}: its folder is read-only, and SQLite must create "
                                  f"{label}-shm there to read an archive in WAL mode", hint=(
            "Make the folder writable, serve the archive with -i (--immutable), or once: sqlite3 ARCHIVE "
            "'PRAGMA journal_mode=DELETE' (the next harvest switches it back to WAL)."))
    if code.startswith(("SQLITE_READONLY", "SQLITE_IOERR")):
        return ArchiveUnavailable(f"cannot write {label}: {exc}", hint=(
            "Check that the disk is mounted writable and that you may write the archive, its folder, "
            "and its -wal and -shm files."))
    return ArchiveUnavailable(f"SQLite cannot use {label}: {exc}")


_ERRORS_BY_CODE: dict[str, type[WordPressError]] = {
    "rest_post_invalid_page_number": InvalidPageNumber,
    "rest_invalid_param": InvalidParam,
    "rest_no_route": NoRoute,
    "rest_cannot_access": AccessDenied,
    "rest_forbidden": AccessDenied,
    "rest_cannot_read": AccessDenied,
    "rest_cannot_view": AccessDenied,
    "rest_cannot_manage_templates": AccessDenied,
    "rest_forbidden_context": AccessDenied,
    "rest_user_cannot_view": AccessDenied,
    "rest_not_logged_in": AccessDenied,
    "rest_disabled": AccessDenied,
    "rest_login_required": AccessDenied,
    "rest_API_cannot_access": AccessDenied,
}


def error_for_code(code: str, status: int | None) -> type[WordPressError]:
    """The exception class for a REST API error code; 401/403 without a known code mean access denied."""
    if code in _ERRORS_BY_CODE:
        return _ERRORS_BY_CODE[code]
    if status in (401, 403):
        return AccessDenied
    return WordPressError
