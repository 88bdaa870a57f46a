"""Reading a REST collection page by page, as WordPress paginates it: its headers, its
quirks at the end of a collection, and a plugin's smaller page size.
"""

from __future__ import annotations

import logging
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import requests

from .client import Client, utc_now, warc_record_id
from .errors import BadResponseError, FetchError, InvalidPageNumber, InvalidParam

log = logging.getLogger("wparchive.client")

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


def paginate(
    client: Client, url: str, params: dict[str, Any] | None = None, *, per_page: int = PER_PAGE_MAX,
    start_page: int = 1, on_failed_page: Callable[[int, FetchError], None] | None = None, trust_total_pages: bool = False,
) -> Iterator[Page]:
    """Yield the pages of a collection until WordPress says it is done.

    Post types answer 400 rest_post_invalid_page_number past the end, terms, users and
    comments answer 200 []: both end the iteration quietly. X-WP-TotalPages is a hint, not
    the truth (caches serve stale ones): a full last page is followed by a look at the next,
    and an empty page ends the collection unless trust_total_pages (comments, where
    WordPress hides items after paging) says the announced pages are all there.
    A plugin-lowered per_page maximum (400 rest_invalid_param) is met by asking for less.
    With on_failed_page, a page that fails once the number of pages is known is reported
    there and skipped; the first page's failure always raises.
    """
    number = start_page
    known_pages: int | None = None
    # With concurrency, the pages announced after this one are fetched while it is used.
    ahead: dict[int, Future[tuple[requests.Response, Any]]] = {}
    fetcher = ThreadPoolExecutor(client.concurrency, "wparchive-fetch") if client.concurrency > 1 else None

    def page_query(page: int) -> dict[str, Any]:
        return {**(params or {}), "per_page": per_page, "page": page}

    try:
        while True:
            try:
                fetched = ahead.pop(number, None)
                if fetched is not None:
                    response, data = fetched.result()
                else:
                    response, data = client.get_json(url, page_query(number))
                if not isinstance(data, list):
                    raise BadResponseError(
                        f"expected a JSON list from {response.url}, got {type(data).__name__}",
                        url=response.url, status=response.status_code, body=response.content,
                        reason="not_a_list",
                    )
            except InvalidPageNumber:
                return
            except InvalidParam as exc:
                smaller = _allowed_per_page(exc, per_page)
                if smaller is None:
                    raise
                log.warning("%s allows at most %d items a page; asking for that", url, smaller)
                number = (number - 1) * per_page // smaller + 1
                per_page = smaller
                _forget(ahead)
                continue
            except FetchError as exc:
                if on_failed_page is None or known_pages is None:
                    raise
                on_failed_page(number, exc)
                if number >= known_pages:
                    return
                number += 1
                continue
            total_pages = header_int(response, "X-WP-TotalPages")
            known_pages = max(total_pages or 0, number)
            if fetcher is not None:
                for later in range(number + 1, min(number + client.concurrency, known_pages) + 1):
                    if later not in ahead:
                        ahead[later] = fetcher.submit(client.get_json, url, page_query(later))
            yield Page(
                url=response.url,
                number=number,
                items=data,
                total=header_int(response, "X-WP-Total"),
                total_pages=total_pages,
                fetched_at=utc_now(),
                warc_record_id=warc_record_id(response),
            )
            if len(data) >= per_page:
                number += 1  # a full page: there may be more, whatever the headers say
                continue
            if data and total_pages is not None and number < total_pages:
                number += 1  # short, but more are announced (comments hidden after paging)
                continue
            if not data and trust_total_pages and total_pages is not None and number < total_pages:
                number += 1
                continue
            return
    finally:
        if fetcher is not None:
            _forget(ahead)
            fetcher.shutdown(wait=True, cancel_futures=True)


def _forget(ahead: dict[int, Future[Any]]) -> None:
    """Drop pages fetched ahead that will not be used (past the real end, or a changed page size)."""
    for fetched in ahead.values():
        fetched.cancel()
    ahead.clear()


def _allowed_per_page(exc: InvalidParam, asked: int) -> int | None:
    """The smaller per_page to ask for after a rest_invalid_param about it, or None."""
    body = exc.body.decode("utf-8", "replace")
    if "per_page" not in body or asked <= 1:
        return None
    limit = re.search(r"between\s+\d+\D*?and\s+(\d+)", body)
    allowed = int(limit.group(1)) if limit else asked // 2
    return allowed if 0 < allowed < asked else asked // 2 or None


def header_int(response: requests.Response, name: str) -> int | None:
    """An integer header, or None when absent or garbled."""
    try:
        return int(response.headers[name])
    except (KeyError, ValueError):
        return None
