"""Finding a site's REST API root and the collections it exposes."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

from bs4 import BeautifulSoup

from .client import Client, route_url, split_credentials, url_problem
from .errors import (
    AccessDenied, AuthenticationFailed, BadSiteUrl, Blocked, DiscoveryError, FetchError, RedirectedElsewhere,
    NotSignedIn, RestDisabled,
    SiteUnreachable, WordPressError,
)
from .models import PostType, SiteIndex, Taxonomy

log = logging.getLogger("wparchive.discover")

API_REL = "https://api.w.org/"
WPCOM_API = "https://public-api.wordpress.com"

# Collections whose items are posts (wp_posts rows) but which this tool stores elsewhere
# or which are editor internals, never site content.
NOT_CONTENT_TYPES = frozenset({
    "attachment", "nav_menu_item", "wp_block", "wp_template", "wp_template_part",
    "wp_global_styles", "wp_navigation", "wp_font_family", "wp_font_face",
})


REFUSED_CREDENTIALS = frozenset({
    "incorrect_password", "invalid_username", "invalid_email", "application_passwords_disabled",
    "application_passwords_disabled_for_user",
})


@dataclass(frozen=True)
class Collection:
    """One REST collection to harvest."""

    name: str  # post type slug, taxonomy slug, or "users" / "media" / "comments"
    table: str  # the archive table its items go to: "posts", "terms", "users", "media" or "comments"
    route: str  # e.g. "/wp/v2/posts"
    rest_base: str = ""
    taxonomies: tuple[str, ...] = ()


def check_site_url(url: str) -> str:
    """The URL as wparchive will use it (http:// added when no scheme is given), or BadSiteUrl saying
    what is wrong. A user:password@ in it is kept (SiteConfig moves it out) and never shown."""
    candidate = url.strip()
    # example.org and example.org:8080 get http://; javascript:… and mailto:… are other schemes
    scheme = _SCHEME.match(candidate)
    other_scheme = scheme is not None and (scheme.group(1).lower() in _NOT_WEB_SCHEMES
                                           or "@" not in re.split(r"[/?#]", candidate, maxsplit=1)[0])
    added = bool(candidate) and "://" not in candidate and not candidate.startswith("/") and not other_scheme
    if added:
        candidate = "http://" + candidate
    problem = "it is empty" if not candidate else url_problem(candidate)
    if problem is None:
        host = urlsplit(candidate).hostname or ""
        if "." not in host and host != "localhost" and not _is_ip_address(host):
            problem = "its host name has no dot"
    if problem is not None:
        shown = split_credentials(candidate)[0].removeprefix("http://" if added else "")
        shown = shown if len(shown) <= 200 else shown[:200] + "…"
        raise BadSiteUrl(f"{shown!r} is not a web address: {problem}")
    return candidate


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(?!\d)")
_NOT_WEB_SCHEMES = frozenset({"mailto", "javascript", "data", "file", "ftp", "tel", "about", "blob", "vbscript"})


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def wpcom_api_base() -> str:
    """Where WordPress.com's public API answers ($WPARCHIVE_WPCOM_API lets tests put it on loopback)."""
    return os.environ.get("WPARCHIVE_WPCOM_API", WPCOM_API).rstrip("/")


def is_wpcom(url: str) -> bool:
    """Whether a URL is of a site hosted on WordPress.com (*.wordpress.com)."""
    host = (urlsplit(url).hostname or "").lower()
    return host.endswith(".wordpress.com") and host not in ("public-api.wordpress.com", "www.wordpress.com")


def wpcom_site(client: Client, url: str) -> tuple[str, SiteIndex]:
    """The API root and index of a WordPress.com site (its own address, or a domain mapped to it).

    WordPress.com does not serve /wp-json/ on the site; its public API does, at
    /wp/v2/sites/<site>/…, and /rest/v1.1/sites/<site> says what the site is.
    """
    host = (urlsplit(url if "//" in url else "http://" + url).hostname or "").lower()
    base = wpcom_api_base()
    try:
        _, info = client.get_json(f"{base}/rest/v1.1/sites/{host}")
    except (Blocked, RedirectedElsewhere):
        raise
    except FetchError as exc:
        raise DiscoveryError(f"WordPress.com does not know a site {host}: {exc}") from exc
    options = info.get("options") or {} if isinstance(info, dict) else {}
    index = SiteIndex(
        name=str(info.get("name") or host), description=str(info.get("description") or ""),
        url=str(info.get("URL") or f"https://{host}"), home=str(info.get("URL") or f"https://{host}"),
        gmt_offset=options.get("gmt_offset", 0) or 0, timezone_string=str(options.get("timezone") or ""),
        namespaces=["wp/v2"], routes={},
    )
    return f"{base}/wp/v2/sites/{host}/", index


def find_api_root(client: Client, url: str, known_root: str | None = None, *,
                  wpcom: bool = False) -> tuple[str, SiteIndex]:
    """The REST API root of the site a URL belongs to (any page URL, or the root itself), with its index.

    known_root, the root an earlier run found, is tried first: a scheduled run then needs one
    request for discovery instead of two. Sites on WordPress.com (and, with wpcom, domains
    mapped to it) go through WordPress.com's public API.
    """
    if not urlsplit(url).scheme:
        url = "http://" + url
    if wpcom or is_wpcom(url):
        return wpcom_site(client, url)
    refusals: list[str] = []
    for candidate in (known_root, url if _looks_like_api_root(url) else None):
        if candidate and (index := _api_index(client, candidate, refusals)) is not None:
            return candidate, index
    try:
        response = client.get(url)
    except (Blocked, RedirectedElsewhere):
        raise
    except FetchError as exc:
        raise SiteUnreachable(f"could not reach {url}: {exc}") from exc
    candidates: list[str] = []
    linked = response.links.get(API_REL, {}).get("url")
    if linked:
        candidates.append(urljoin(response.url, linked))
    if "html" in response.headers.get("Content-Type", ""):
        tag = BeautifulSoup(response.content, "html.parser").find("link", rel=API_REL)
        if tag is not None and tag.get("href"):
            candidates.append(urljoin(response.url, str(tag["href"])))
    candidates += _guessed_roots(response.url)
    if response.url != url:
        candidates += _guessed_roots(url)
    tried: set[str] = set()
    for candidate in candidates:
        if candidate in tried:
            continue
        tried.add(candidate)
        if (index := _api_index(client, candidate, refusals)) is not None:
            return candidate, index
    if refusals:
        raise RestDisabled(f"the REST API of {url} refuses anonymous visitors ({refusals[0]})", site_url=response.url)
    raise DiscoveryError(f"no WordPress REST API found from {url} (tried {', '.join(sorted(tried))})")


def check_authentication(client: Client, api_root: str) -> str:
    """Who the client's credentials sign in as; AuthenticationFailed when they sign in as nobody.

    WordPress answers credentials it does not take as it answers an anonymous visitor
    (rest_not_logged_in) when the site has no application password in use, allows none (not
    https and not a local site), or never saw them (Apache with PHP as CGI drops the
    Authorization header unless told to pass it on). Harvesting on would silently archive only
    what is public, so that is refused as plainly as a wrong password.
    """
    try:
        _, me = client.get_json(route_url(api_root, "/wp/v2/users/me"))
    except AccessDenied as exc:
        if exc.code == "rest_not_logged_in":
            raise NotSignedIn("the credentials did not sign in: the site answered as to an anonymous visitor "
                              "(rest_not_logged_in)") from exc
        raise AuthenticationFailed(f"{exc.code}: the site refused the credentials") from exc
    except WordPressError as exc:
        if exc.status == 401:
            raise AuthenticationFailed(f"{exc.code or 401}: the site refused the credentials") from exc
        raise
    return str(me.get("name") or me.get("slug") or me.get("id")) if isinstance(me, dict) else "?"


def list_collections(client: Client, api_root: str, index: SiteIndex) -> list[Collection]:
    """Every public collection, in the order a harvest wants them: terms and users before posts."""
    types: dict[str, Any] = _get_map(client, api_root, "/wp/v2/types")
    taxonomies: dict[str, Any] = _get_map(client, api_root, "/wp/v2/taxonomies")
    collections: list[Collection] = []
    for slug, raw in taxonomies.items():
        taxonomy = Taxonomy.model_validate(raw)
        if taxonomy.rest_base and slug not in ("nav_menu", "wp_pattern_category", "menu"):
            route = f"/{taxonomy.rest_namespace}/{taxonomy.rest_base}"
            collections.append(Collection(slug, "terms", route, taxonomy.rest_base))
    collections.append(Collection("users", "users", "/wp/v2/users", "users"))
    for slug, raw in types.items():
        post_type = PostType.model_validate(raw)
        if slug in NOT_CONTENT_TYPES or not post_type.rest_base or post_type.viewable is False:
            continue
        if "(?P<" in post_type.rest_base:  # a nested route, not a collection of its own
            continue
        route = f"/{post_type.rest_namespace}/{post_type.rest_base}"
        if index.routes and route not in index.routes:
            continue
        collections.append(Collection(slug, "posts", route, post_type.rest_base, tuple(post_type.taxonomies)))
    collections.append(Collection("media", "media", "/wp/v2/media", "media"))
    collections.append(Collection("comments", "comments", "/wp/v2/comments", "comments"))
    return collections


def _get_map(client: Client, api_root: str, route: str) -> dict[str, Any]:
    _, data = client.get_json(route_url(api_root, route))
    return data if isinstance(data, dict) else {}


def _looks_like_api_root(url: str) -> bool:
    parts = urlsplit(url)
    return "/wp-json" in parts.path or "rest_route" in dict(parse_qsl(parts.query))


def _guessed_roots(url: str) -> list[str]:
    """/wp-json/ and ?rest_route=/ under the page's folder and each folder above it."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if segments and "." in segments[-1]:
        segments = segments[:-1]  # a file such as index.php
    prefixes = ["/" + "/".join(segments[:n]) for n in range(len(segments), -1, -1)]
    guesses = []
    for prefix in prefixes:
        base = prefix.rstrip("/") + "/"
        guesses.append(urlunsplit((parts.scheme, parts.netloc, base + "wp-json/", "", "")))
    for prefix in prefixes:
        base = prefix.rstrip("/") + "/"
        guesses.append(urlunsplit((parts.scheme, parts.netloc, base, "rest_route=/", "")))
    return guesses


def _api_index(client: Client, url: str, refusals: list[str] | None = None) -> SiteIndex | None:
    """The index at url if it is a WordPress REST API root offering wp/v2, else None.

    A root that refuses anonymous visitors (a plugin disabling the REST API) is noted in refusals.
    """
    try:
        _, data = client.get_json(url)
    except AccessDenied as exc:
        if exc.code in REFUSED_CREDENTIALS:  # WordPress refuses every request with wrong credentials
            raise AuthenticationFailed(f"{exc.code}: the site refused the credentials") from exc
        if refusals is not None:
            refusals.append(exc.code or f"HTTP {exc.status}")
        return None
    except (Blocked, RedirectedElsewhere):
        raise
    except FetchError as exc:
        log.debug("not an API root: %s (%s)", url, exc)
        return None
    if isinstance(data, dict) and "wp/v2" in (data.get("namespaces") or []):
        return SiteIndex.model_validate(data)
    return None
