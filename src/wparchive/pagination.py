"""Reading a REST collection page by page, as WordPress paginates it: its headers, its quirks at
the end of a collection, a plugin's smaller page size; and what no server can talk it into: going
round in a loop, following a page count it made up, or losing a page's good items to a bad one.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Generator, Hashable, Iterator

import requests

from .client import Client, warc_record_id
from .errors import (
    BadResponseError, FetchError, HostUnreachable, InvalidPageNumber, InvalidParam, ItemCutOff, PageNarrowed,
    PaginationStopped, ResponseTooLarge, WordPressError,
)
from .rows import utc_now
from .salvage import Salvage, salvage_list

log = logging.getLogger("wparchive.client")

PER_PAGE_MAX = 100  # WordPress core refuses more with rest_invalid_param
# Pages in a row asked for on the server's word alone (pages that failed, empty pages of comments)
# before paging stops; a page that brings items starts the count again.
MAX_BLIND_PAGES = 10
# Requests spent reading one broken page again in smaller pages; the rest of it is left to the next run.
MAX_NARROWING_REQUESTS = 40
# Why a body could not be read that smaller pages can get round: its JSON broke off, or broke down, in an
# item (the break says which), or it was over the size cap (an item too large: halves of the page find it).
PLACED_REASONS = frozenset({"truncated_json", "invalid_json"})
HALVED_REASONS = frozenset({"response_too_large"})
NARROWED_REASONS = PLACED_REASONS | HALVED_REASONS
# Mark of an item of which only part arrived: what the archive's incomplete column says about it.
INCOMPLETE_FIELD = "wparchive_incomplete"

FailedPage = Callable[[int, FetchError], None]


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
    start_page: int = 1, on_failed_page: FailedPage | None = None, trust_total_pages: bool = False,
) -> Iterator[Page]:
    """Yield the pages of a collection until WordPress says it is done, or its answers stop making sense.

    Post types answer 400 rest_post_invalid_page_number past the end, terms, users and
    comments answer 200 []: both end the iteration quietly. X-WP-TotalPages is a hint, not
    the truth (caches serve stale ones): a full page is followed by a look at the next, a short
    one only while more pages are announced, and an empty page ends the collection unless
    trust_total_pages (comments, where WordPress hides items after paging) says the announced
    pages are all there. Announced pages are followed no further than X-WP-Total's items fill
    (and one more), nor past MAX_BLIND_PAGES in a row that failed or came back empty; a page
    that brings no item not met before ends the collection (a server that answers every page
    number with the same page). A plugin-lowered per_page maximum (400 rest_invalid_param) is
    met by asking for less.

    With on_failed_page, a failed page is reported there and skipped, and paging goes on (past a
    first page the server answered with something broken, by looking at the next; a refusal, a
    firewall or a redirect still raises); without it, a failure raises. A page whose
    JSON breaks off or breaks down in an item is read again in smaller pages around that item,
    down to the item alone: what arrives whole is yielded, the item that breaks even alone is
    reported as an ItemCutOff, and what arrived of it before the break is yielded, marked with
    INCOMPLETE_FIELD, when its id did. A page over the size cap is read again in halves, and
    halves of the half that is still too large, down to the item too large alone, which is
    reported. Where paging stops early, a PaginationStopped says why.
    """
    return _Paging(client, url, dict(params or {}), per_page, on_failed_page, trust_total_pages).pages(start_page)


class _Paging:
    """One walk through a collection: what its answers announced, and what it has met."""

    def __init__(self, client: Client, url: str, params: dict[str, Any], per_page: int,
                 on_failed_page: FailedPage | None, trust_total_pages: bool) -> None:
        self.client, self.url, self.params, self.per_page = client, url, params, per_page
        self.on_failed_page = on_failed_page
        self.trust_total_pages = trust_total_pages
        self.total: int | None = None  # X-WP-Total, as last announced
        self.total_pages: int | None = None  # X-WP-TotalPages at per_page, as last announced
        self.answered = False  # a page has been read: the collection is there
        self.seen: set[Hashable] = set()  # every item met, by id
        self.blind = 0  # pages in a row asked for on the server's word alone
        # With concurrency, the pages announced after this one are fetched while it is used.
        self.ahead: dict[int, Future[tuple[requests.Response, Any]]] = {}

    def query(self, page: int, per_page: int | None = None, **more: Any) -> dict[str, Any]:
        return {**self.params, **more, "per_page": per_page or self.per_page, "page": page}

    def pages(self, number: int) -> Iterator[Page]:
        concurrency = self.client.concurrency
        fetcher = ThreadPoolExecutor(concurrency, "wparchive-fetch") if concurrency > 1 else None
        try:
            while True:
                try:
                    response, data = self._fetch(number)
                except InvalidPageNumber:
                    return
                except InvalidParam as exc:
                    smaller = _allowed_per_page(exc, self.per_page)
                    if smaller is None:
                        raise
                    log.warning("%s allows at most %d items a page; asking for that", self.url, smaller)
                    number = (number - 1) * self.per_page // smaller + 1
                    self.per_page, self.total_pages = smaller, None
                    _forget(self.ahead)
                    continue
                except FetchError as exc:
                    if self.on_failed_page is None or not self._may_skip(exc):
                        raise
                    outcome = None
                    if exc.reason in NARROWED_REASONS:
                        outcome = yield from self._narrow(number, exc)
                    if outcome == "ended":
                        return
                    if outcome is None:
                        self.on_failed_page(number, exc)
                        self.blind += 1
                        if not self._goes_on(number, "failed"):
                            return
                    else:
                        self.blind = 0  # read in smaller pages: as good as a full page
                    number += 1
                    continue
                self._learn(response, self.per_page)
                if data and not self._new(data):
                    self._stop(number, f"page {number} of {self.url} holds only items of earlier pages (the server "
                               "seems to ignore the page number): paging stopped there", reason="repeated_page",
                               complete=False, response=response)
                    return
                if fetcher is not None:
                    for later in range(number + 1, min(number + concurrency, self._ahead_limit(number)) + 1):
                        if later not in self.ahead:
                            self.ahead[later] = fetcher.submit(self.client.get_json, self.url, self.query(later))
                yield Page(url=response.url, number=number, items=data, total=header_int(response, "X-WP-Total"),
                           total_pages=header_int(response, "X-WP-TotalPages"), fetched_at=utc_now(),
                           warc_record_id=warc_record_id(response))
                self.blind = 0 if data else self.blind + 1
                if len(data) < self.per_page and not self._goes_on(number, "short" if data else "empty"):
                    return
                number += 1  # a full page: there may be more, whatever the headers say
        finally:
            if fetcher is not None:
                _forget(self.ahead)
                fetcher.shutdown(wait=True, cancel_futures=True)

    def _fetch(self, number: int) -> tuple[requests.Response, list[Any]]:
        fetched = self.ahead.pop(number, None)
        if fetched is not None:
            response, data = fetched.result()
        else:
            response, data = self.client.get_json(self.url, self.query(number))
        return response, _as_list(response, data)

    def _learn(self, response: requests.Response, per_page: int) -> None:
        """Note what an answer announces: the total, and the pages at this walk's page size."""
        self.answered = True
        total = header_int(response, "X-WP-Total")
        if total is not None:
            self.total = total
        total_pages = header_int(response, "X-WP-TotalPages")
        if total_pages is not None and per_page == self.per_page:
            self.total_pages = total_pages

    def _new(self, items: list[Any]) -> bool:
        """Note the items met; whether any of them was not met before."""
        before = len(self.seen)
        self.seen.update(_identity(item) for item in items)
        return len(self.seen) > before

    def _may_skip(self, exc: FetchError) -> bool:
        """Whether paging may go on past a failed page: once the collection has answered, always;
        before, only past a broken answer (not a refusal, a firewall, a redirect or silence). Never
        once the host is gone: every page after would fail the same way."""
        if isinstance(exc, HostUnreachable):
            return False
        return self.answered or (exc.status is not None and
                                 type(exc) in (FetchError, BadResponseError, WordPressError, ResponseTooLarge))

    def _announced(self) -> int | None:
        """The number of pages the site announces: X-WP-TotalPages, else what X-WP-Total fills."""
        if self.total_pages is not None:
            return self.total_pages
        return _pages_for(self.total, self.per_page) if self.total is not None else None

    def _plausible(self) -> int | None:
        """The pages worth asking for: what X-WP-Total's items fill, and one more for a stale count."""
        return _pages_for(self.total, self.per_page) + 1 if self.total is not None else None

    def _ahead_limit(self, number: int) -> int:
        limits = [n for n in (self.total_pages, self._plausible()) if n is not None]
        return min(limits) if limits else number

    def _goes_on(self, number: int, kind: str) -> bool:
        """After a page that was not full ("short", "empty" or "failed"): whether to ask for the next."""
        if kind == "empty" and not self.trust_total_pages:
            return False  # an empty page ends a collection
        announced = self._announced()
        if announced is None:
            # Nothing announced: a short page is the last; past a failed one, one look at the next.
            return kind == "failed" and self.blind == 1
        if number >= announced:
            return False
        plausible = self._plausible()
        if plausible is not None and number >= plausible:
            self._stop(number, f"{self.url} announces {announced} pages, but its {self.total} items fill "
                       f"{plausible - 1} of {self.per_page}: no page after {number} was asked for",
                       reason="implausible_total_pages", complete=True)
            return False
        if self.blind >= MAX_BLIND_PAGES:
            self._stop(number, f"{self.blind} pages in a row of {self.url} failed or came back empty, up to page "
                       f"{number} of the {announced} announced: the rest was not asked for",
                       reason="blind_pages", complete=False)
            return False
        return True

    def _stop(self, number: int, message: str, *, reason: str, complete: bool,
              response: requests.Response | None = None) -> None:
        """Say why paging stopped before the site said it was done."""
        if self.on_failed_page is None:
            log.warning("%s", message)
            return
        self.on_failed_page(number, PaginationStopped(
            message, url=response.url if response is not None else self.url,
            status=response.status_code if response is not None else None,
            body=response.content if response is not None else b"", reason=reason, complete=complete))

    def _narrow(self, number: int, failure: FetchError) -> Generator[Page, None, str | None]:
        """Read again a page that broke in an item, in smaller pages, so that only what cannot be read
        whole is lost: around the item and then the item alone where the break says which item it
        is (JSON that broke off or broke down), in halves where it does not (a page over the size
        cap: the half still too large is halved again). Returns "ended" when the collection ended
        within the page, "read" once the page is covered, None when the break cannot be placed
        (nothing was asked again)."""
        assert self.on_failed_page is not None
        start = position = (number - 1) * self.per_page
        end = start + self.per_page
        alone: int | None = None  # the position of the item to ask for by itself
        alone_id: int | None = None
        # Where a break cannot be placed: the range that holds it, read in pages no larger than at most.
        at_most, within = self.per_page, end
        if failure.reason in PLACED_REASONS:
            broke = salvage_list(failure.body)
            if broke is None or broke.closed or broke.index >= self.per_page:
                return None
            alone, alone_id = start + broke.index, _id_of(broke.partial)
        elif self.per_page > 1:
            at_most = self.per_page // 2
        else:
            return None
        self.on_failed_page(number, PageNarrowed(f"{failure}; read again in smaller pages", url=failure.url,
                                                 status=failure.status, body=failure.body, reason=failure.reason))
        for spent in itertools.count():
            if position >= end:
                return "read"
            if spent >= MAX_NARROWING_REQUESTS:
                self.on_failed_page(number, FetchError(
                    f"items {position - start + 1}-{self.per_page} of page {number} of {self.url} were not read: "
                    f"{MAX_NARROWING_REQUESTS} requests were spent reading the page in smaller ones",
                    url=failure.url, status=failure.status, reason="narrowing_stopped"))
                return "read"
            if position >= within:
                at_most, within = self.per_page, end  # past the range that held the break
            by_id = position == alone and alone_id is not None
            if position == alone:
                size = 1
                query = self.query(1, 1, include=alone_id) if by_id else self.query(position + 1, 1)
            else:
                room = (alone if alone is not None and alone > position else end) - position
                size = _aligned(position, min(room, at_most))
                query = self.query(position // size + 1, size)
            try:
                response, data = self.client.get_json(self.url, query)
                data = _as_list(response, data)
            except InvalidPageNumber:
                return "ended"
            except FetchError as exc:
                again = salvage_list(exc.body) if exc.reason in PLACED_REASONS else None
                if again is not None and not again.closed and again.index < size:
                    if size > 1:
                        alone, alone_id = position + again.index, _id_of(again.partial)
                        continue
                    yield from self._cut_item(number, exc, again)
                elif exc.reason in HALVED_REASONS and size > 1:
                    at_most, within = size // 2, position + size
                    continue
                else:
                    self.on_failed_page(number, exc)  # kept with its own URL: the next run asks for it again
                position += size
                alone = alone if alone is not None and alone >= position else None
                continue
            self._learn(response, size)
            self._new(data)
            yield Page(url=response.url, number=number, items=data, total=self.total, total_pages=self.total_pages,
                       fetched_at=utc_now(), warc_record_id=warc_record_id(response))
            position += size
            alone = alone if alone is not None and alone >= position else None
            if not by_id and len(data) < size and (self.total is None or position >= self.total):
                return "ended"
        return None  # not reached: the loop ends by returning

    def _cut_item(self, number: int, failure: FetchError, broke: Salvage) -> Iterator[Page]:
        """An item that breaks even alone: reported with its bytes; what arrived of it is yielded,
        marked incomplete, when its id did."""
        assert self.on_failed_page is not None
        wp_id = _id_of(broke.partial)
        kept = ("what arrived of it is kept, marked incomplete" if wp_id is not None
                else "nothing of it is kept, as not even its id arrived")
        self.on_failed_page(number, ItemCutOff(
            f"{'item ' + str(wp_id) if wp_id is not None else 'an item'} of {self.url} cannot be read whole, even "
            f"alone ({failure}); {broke.note()}; {kept}", url=failure.url, status=failure.status, body=failure.body,
            reason=failure.reason, wp_id=wp_id))
        if wp_id is not None and broke.partial is not None:
            self.seen.add(wp_id)
            yield Page(url=failure.url, number=number, items=[{**broke.partial, INCOMPLETE_FIELD: broke.note()}],
                       total=self.total, total_pages=self.total_pages, fetched_at=utc_now())


def _as_list(response: requests.Response, data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise BadResponseError(
            f"expected a JSON list from {response.url}, got {type(data).__name__}",
            url=response.url, status=response.status_code, body=response.content, reason="not_a_list",
        )
    return data


def _identity(item: Any) -> Hashable:
    """What tells an item from the others: its id, else its whole content."""
    if isinstance(item, dict):
        wp_id = item.get("id")
        if isinstance(wp_id, (int, str)) and not isinstance(wp_id, bool):
            return wp_id
    return ("content", json.dumps(item, sort_keys=True, default=repr))


def _id_of(item: dict[str, Any] | None) -> int | None:
    wp_id = item.get("id") if item is not None else None
    return wp_id if isinstance(wp_id, int) and not isinstance(wp_id, bool) and wp_id > 0 else None


def _pages_for(total: int, per_page: int) -> int:
    """The pages that total items fill (integers only: a header may hold any number of digits)."""
    return max(0, -(-total // per_page))


def _aligned(position: int, room: int) -> int:
    """The largest page size, up to room, that has a page beginning at the item at position (from 0)."""
    size = max(1, room)
    while position % size:
        size -= 1
    return size


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
