"""The HTML page of each post and page a harvest stored, captured into its WARC file (--warc --pages),
so that a replay of the WACZ export shows the site as it looked.

Pages are fetched through the harvest's Client, with its delay, deadline, size cap and redirect
rules, and its recorder writes each response to the WARC. Nothing of them is parsed or stored in
the archive; only addresses on the site's own host are fetched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from sqlite_utils.db import Database

from .client import Client
from .db import fetched_links
from .errors import FetchError
from .progress import Progress, SilentProgress


@dataclass
class PageCaptures:
    """What a capture pass did."""

    captured: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def capture_pages(db: Database, client: Client, site_id: int, run_id: int, *,
                  progress: Progress | None = None) -> PageCaptures:
    """Fetch the page of each live post and page that run run_id stored, for client's recorder to
    write; a failure is counted and does not stop the pass. progress hears of one task, "pages"."""
    progress = progress or SilentProgress()
    home, links = fetched_links(db, site_id, run_id)
    host = urlsplit(home or "").hostname
    counts = PageCaptures()
    progress.begin("pages", len(links))
    try:
        for link in links:
            error = _capture(client, link) if host and urlsplit(link).hostname == host else "not on the site's host"
            if error is None:
                counts.captured += 1
            else:
                counts.failed += 1
                counts.errors.append(f"{link}: {error}")
            progress.advance(1)
    finally:
        progress.end("pages")
    return counts


def _capture(client: Client, url: str) -> str | None:
    """Fetch url (its response goes to the WARC); what went wrong, or None."""
    try:
        response = client.get(url)
    except FetchError as exc:  # too large, too slow, blocked, a redirect off the site
        return str(exc)
    except (requests.RequestException, ValueError) as exc:  # an address requests cannot ask for
        return f"cannot fetch: {exc}"
    return f"HTTP {response.status_code}" if response.status_code >= 400 else None
