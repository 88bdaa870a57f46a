"""A small HTTP server on 127.0.0.1 that answers the way WordPress's REST API does.

Headers (X-WP-Total, X-WP-TotalPages, one comma-joined Link), per_page limits, the two ways a
collection ends (400 rest_post_invalid_page_number for post types, 200 [] for the rest),
pretty (/wp-json/) and plain (?rest_route=) permalinks, a site in a subfolder, _fields and
modified_after. Tests can put a `fault` hook in front of any request.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlencode, urlsplit

from . import theme
from .site import Item, Site

API_REL = "https://api.w.org/"

@dataclass
class RawAnswer:
    """Bytes written to the socket as they are (status line and headers included), then maybe a
    stall and a hang-up: for answers no well-behaved server gives."""

    data: bytes
    stall: float = 0.0
    close: bool = True
    reset: bool = False  # hang up with a TCP reset instead of an orderly close


# A fault hook sees (path, query) and may answer instead: (status, headers, body), a RawAnswer, or None.
FaultHook = Callable[[str, dict[str, str]], "tuple[int, dict[str, str], bytes] | RawAnswer | None"]


class WordPressServer:
    """Serves a Site on a loopback address (127.0.0.1 unless told) in a background thread; use as a
    context manager."""

    def __init__(self, site: Site, *, permalinks: str = "pretty", subdir: str = "", port: int = 0,
                 link_header: bool = True, link_tag: bool = True, credentials: tuple[str, str] | None = None,
                 strip_authorization: bool = False, rest_disabled: bool = False, feed_full_text: bool = True,
                 host: str = "127.0.0.1", may_edit: bool = True) -> None:
        self.site = site
        self.permalinks = permalinks
        self.link_header = link_header  # WordPress sends both; some caches and plugins strip them
        self.link_tag = link_tag
        self.credentials = credentials  # the one application password this site accepts
        self.may_edit = may_edit  # whether its user may edit (an administrator) or only read (a subscriber)
        self.strip_authorization = strip_authorization  # as Apache with PHP as CGI does
        self.rest_disabled = rest_disabled  # as the "Disable REST API" plugins do for visitors
        self.feed_full_text = feed_full_text  # Settings → Reading: "full text" or "excerpt" in feeds
        self.subdir = "/" + subdir.strip("/") if subdir.strip("/") else ""
        self.fault: FaultHook | None = None
        # Sees every REST answer before it is sent and may change it: (path, query, status,
        # headers, data) → (status, headers, data). For headers and items that lie.
        self.rewrite: Callable[[str, dict[str, str], int, dict[str, str], Any], tuple[int, dict[str, str], Any]] | None = None
        self.requests: list[str] = []
        self.request_headers: list[dict[str, str]] = []
        handler = type("Handler", (_Handler,), {"wp": self})
        if not host.startswith("127."):
            raise ValueError(f"{host} is not a loopback address: the sample site serves this machine only")
        # Another loopback address (127.0.0.2) stands for another host in tests.
        self.host = host
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def home(self) -> str:
        return f"http://{self.host}:{self.port}{self.subdir}"

    @property
    def api_root(self) -> str:
        if self.permalinks == "plain":
            return f"{self.home}/index.php?rest_route=/"
        return f"{self.home}/wp-json/"

    def api_url(self, route: str) -> str:
        """Where a route is served, as WordPress's rest_url() would spell it."""
        if self.permalinks == "plain":
            return f"{self.home}/index.php?rest_route=/{route.lstrip('/')}"
        return f"{self.home}/wp-json/{route.lstrip('/')}"

    def start(self) -> "WordPressServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "WordPressServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    wp: WordPressServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else delayed ACKs add 40 ms to every keep-alive response
    server_version = "Apache"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base
        pass

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        wp = self.wp
        wp.requests.append(self.path)
        wp.request_headers.append(dict(self.headers.items()))
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if wp.fault is not None:
            answer = wp.fault(parts.path, query)
            if isinstance(answer, RawAnswer):
                self.wfile.write(answer.data)
                self.wfile.flush()
                if answer.stall:
                    time.sleep(answer.stall)
                if answer.reset:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                elif answer.close:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            if answer is not None:
                self._send(*answer)
                return
        path = parts.path
        if wp.subdir:
            if not (path == wp.subdir or path.startswith(wp.subdir + "/")):
                self._send_html(404, "<h1>Not Found</h1>")
                return
            path = path[len(wp.subdir):] or "/"
        wpcom_info = re.match(r"^/rest/v1\.1/sites/([^/]+)/?$", path)
        wpcom_route = re.match(r"^/wp/v2/sites/([^/]+)(/.*)?$", path)
        if wpcom_info:  # WordPress.com's public API, as a test stand-in for it
            host = wpcom_info.group(1)
            self._json(200, {"ID": 12345, "name": wp.site.name, "description": wp.site.description,
                             "URL": f"https://{host}", "options": {"gmt_offset": wp.site.gmt_offset,
                                                                 "timezone": wp.site.timezone_string}})
        elif wpcom_route:
            self._rest("/wp/v2" + (wpcom_route.group(2) or ""), query)
        elif path in wp.site.files:
            body = wp.site.files[path]
            kind = "image/png" if body.startswith(b"\x89PNG") else "application/octet-stream"
            self._send(200, {"Content-Type": kind}, body)
        elif path.startswith("/wp-content/"):
            self._send_html(404, "<h1>Not Found</h1>")
        elif "rest_route" in query:
            self._rest(query.pop("rest_route") or "/", query)
        elif path.startswith("/wp-json") and wp.permalinks == "pretty":
            self._rest(path[len("/wp-json"):] or "/", query)
        else:
            self._page(path, query)

    # --- HTML pages ------------------------------------------------------------------------

    def _page(self, path: str, query: dict[str, str]) -> None:
        site, home = self.wp.site, self.wp.home
        if path.rstrip("/") == "/feed" or query.get("feed") in ("rss2", "rss"):
            feed = theme.feed_rss2(site, home, int(query.get("paged", "1") or 1), self.wp.feed_full_text)
            if feed is None:
                self._send_html(404, "<h1>Page not found</h1>")
            else:
                self._send(200, {"Content-Type": "application/rss+xml; charset=UTF-8"}, feed.encode("utf-8"))
            return
        if path.startswith("/wp-sitemap"):
            xml = theme.sitemap(site, home, path.lstrip("/"))
            if xml is None:
                self._send_html(404, "<h1>Page not found</h1>")
            else:
                self._send(200, {"Content-Type": "application/xml; charset=UTF-8"}, xml.encode("utf-8"))
            return
        item = None
        if "p" in query or "page_id" in query:
            wanted = int(query.get("p") or query.get("page_id") or 0)
            item = next((i for i in site.items if i.id == wanted and i.status == "publish"), None)
        elif path not in ("/", "/index.php"):
            item = next((i for i in site.items if i.status == "publish" and
                         urlsplit(site.permalink(i, home)).path == self.wp.subdir + path), None)
            if item is None:
                self._send_html(404, "<h1>Page not found</h1>")
                return
        headers = {"Link": f'<{self.wp.api_root}>; rel="{API_REL}"'} if self.wp.link_header else {}
        if item is not None:
            api = self.wp.api_root if self.wp.link_tag else None
            self._send_html(200, theme.page_html(site, item, home, api), headers)
            return
        title = html.escape(site.name)
        head = (f"<title>{title}</title><meta name=\"description\" content=\"{html.escape(site.description)}\" />"
                f'<link rel="alternate" type="application/rss+xml" title="{title} &raquo; Feed" href="{home}/feed/" />')
        if self.wp.link_tag:
            head += f'<link rel="{API_REL}" href="{self.wp.api_root}" />'
        self._send_html(200, f"<!DOCTYPE html><html><head>{head}</head><body><h1>{title}</h1></body></html>", headers)

    # --- REST ------------------------------------------------------------------------------

    def _signed_in(self) -> bool | None:
        """True for the right credentials, False for none, None for wrong ones."""
        header = "" if self.wp.strip_authorization else self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return True if self.wp.credentials == (user, password) else None

    def _rest(self, route: str, query: dict[str, str]) -> None:
        route = "/" + route.strip("/")
        signed_in = self._signed_in()
        if self.wp.rest_disabled and not signed_in:
            self._error(401, "rest_cannot_access", "Only authenticated users can access the REST API.")
            return
        if signed_in is None:
            # WordPress refuses every REST request that carries wrong credentials.
            self._error(401, "incorrect_password", "The provided password is an invalid application password.")
            return
        if route == "/wp/v2/users/me":
            if signed_in:
                self._json(200, self.wp.site.render_user(self.wp.site.users[0], self.wp.home, self._api()))
            else:
                self._error(401, "rest_not_logged_in", "You are not currently logged in.")
            return
        if route == "/":
            self._json(200, self._index())
            return
        if query.get("context") == "edit" and not (signed_in and self.wp.may_edit):
            self._error(401, "rest_forbidden_context", "Sorry, you are not allowed to edit posts in this post type.")
            return
        segments = route.strip("/").split("/")
        if segments[:2] != ["wp", "v2"] or len(segments) < 3:
            self._error(404, "rest_no_route", "No route was found matching the URL and request method.")
            return
        base, rest = segments[2], segments[3:]
        site = self.wp.site
        if base == "types" and not rest:
            self._json(200, {t.slug: self._type_object(t) for t in site.types})
        elif base == "taxonomies" and not rest:
            self._json(200, {t.slug: self._taxonomy_object(t) for t in site.taxonomies})
        elif base == "users" and not rest:
            # Who may list users (an administrator) lists them all, not only those who published.
            self._collection(query, site.users if signed_in else site.public_users(), site.render_user,
                             ends_with_error=False)
        elif base == "comments" and not rest:
            status = query.get("status", "approve")
            if status != "approve" and not signed_in:
                self._error(401, "rest_forbidden_param", "Query parameter not permitted: status")
                return
            comments = site.counted_comments() if status == "approve" else site.moderated_comments(status)
            if "post" in query:
                comments = [c for c in comments if str(c.post) == query["post"]]
            # An administrator reads the comments of drafts and private posts too.
            self._collection(query, comments, site.render_comment, ends_with_error=False,
                             shown=None if signed_in else site.comment_is_readable)
        elif (type_info := site.type_by_rest_base(base)) is not None:
            if type_info.refuse_with:
                self._error(401, type_info.refuse_with, "Sorry, you are not allowed to do that.")
            elif len(rest) == 2 and rest[0].isdigit() and rest[1] == "revisions":
                item = next((i for i in site.items if i.id == int(rest[0])), None)
                if not signed_in:
                    self._error(401, "rest_cannot_read", "Sorry, you are not allowed to view revisions of this post.")
                elif item is None:
                    self._error(404, "rest_post_invalid_parent", "Invalid post parent ID.")
                else:
                    self._collection(query, site.render_revisions(item, self.wp.home, self._api()),
                                     lambda o, home, api: o, ends_with_error=False)
            elif rest and rest[0].isdigit():
                item = next((i for i in site.public_items(type_info.slug) if i.id == int(rest[0])), None)
                if item is None:
                    self._error(404, "rest_post_invalid_id", "Invalid post ID.")
                else:
                    self._json(200, self._fields(self._in_context(site.render_item, query)(
                        item, self.wp.home, self._api()), query))
            else:
                statuses = query.get("status", "publish").split(",")
                if statuses != ["publish"] and not signed_in:
                    self._error(400, "rest_invalid_param", "Invalid parameter(s): status")
                    return
                items = [i for i in site.items if i.type == type_info.slug and i.status in statuses]
                if type_info.slug == "attachment":
                    items = site.public_items("attachment")
                items = self._modified_after(items, query)
                self._collection(query, items, site.render_item, ends_with_error=True)
        elif (tax := site.taxonomy_by_rest_base(base)) is not None and not rest:
            if tax.refuse_with:
                self._error(401, tax.refuse_with, "Sorry, you are not allowed to do that.")
            else:
                terms = [t for t in site.terms if t.taxonomy == tax.slug]
                self._collection(query, terms, site.render_term, ends_with_error=False)
        else:
            self._error(404, "rest_no_route", "No route was found matching the URL and request method.")

    def _collection(self, query: dict[str, str], objects: list[Any], render: Callable[..., dict[str, Any]],
                    *, ends_with_error: bool, shown: Callable[[Any], bool] | None = None) -> None:
        try:
            per_page = int(query.get("per_page", "10"))
            page = int(query.get("page", "1"))
        except ValueError:
            self._error(400, "rest_invalid_param", "Invalid parameter(s): per_page")
            return
        if not 1 <= per_page <= 100:
            self._error(400, "rest_invalid_param", "Invalid parameter(s): per_page",
                        {"params": {"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"}})
            return
        if page < 1:
            self._error(400, "rest_invalid_param", "Invalid parameter(s): page")
            return
        if query.get("include"):
            wanted = [int(v) for v in query["include"].split(",") if v.strip().isdigit()]
            by_id = {o.id: o for o in objects}
            objects = [by_id[i] for i in dict.fromkeys(wanted) if i in by_id]
        if query.get("orderby") != "include":
            objects = self._ordered(objects, query)
        total = len(objects)
        pages = math.ceil(total / per_page)
        if ends_with_error and page > max(pages, 1) and total > 0:
            self._error(400, "rest_post_invalid_page_number",
                        "The page number requested is larger than the number of pages available.")
            return
        window = objects[(page - 1) * per_page: page * per_page]
        render = self._in_context(render, query)
        # Like WordPress, count and page first, then drop what the visitor may not read.
        body = [self._fields(render(o, self.wp.home, self._api()), query)
                for o in window if shown is None or shown(o)]
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        links = []
        if page > 1 and page <= pages + 1:
            links.append(f'<{self._page_url(query, page - 1)}>; rel="prev"')
        if page < pages:
            links.append(f'<{self._page_url(query, page + 1)}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        self._json(200, body, headers)

    def _in_context(self, render: Callable[..., dict[str, Any]], query: dict[str, str]) -> Callable[..., dict[str, Any]]:
        """render, with what editors see added in context=edit (the caller checked they may)."""
        if query.get("context") != "edit":
            return render
        return lambda o, home, api: self.wp.site.editor_view(o, render(o, home, api))

    def _ordered(self, objects: list[Any], query: dict[str, str]) -> list[Any]:
        orderby = query.get("orderby", "date" if objects and isinstance(objects[0], Item) else "id")
        reverse = query.get("order", "desc" if orderby in ("date", "modified") else "asc") == "desc"
        def field_of(o: Any, name: str) -> Any:
            return o.get(name, "") if isinstance(o, dict) else getattr(o, name, "")

        def sort_key(o: Any) -> Any:
            if orderby == "modified":
                return (field_of(o, "modified_gmt"), field_of(o, "id"))
            if orderby == "date":
                return (field_of(o, "date_gmt"), field_of(o, "id"))
            if orderby in ("name", "title", "slug"):
                return (str(field_of(o, orderby) or field_of(o, "name")), field_of(o, "id"))
            return field_of(o, "id")
        return sorted(objects, key=sort_key, reverse=reverse)

    def _modified_after(self, items: list[Item], query: dict[str, str]) -> list[Item]:
        # WordPress compares against the local post_modified column and excludes equality.
        value = query.get("modified_after")
        if not value:
            return items
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        offset = when.utcoffset()
        if offset is not None:
            when = when.replace(tzinfo=None) - offset + timedelta(hours=float(self.wp.site.gmt_offset))
        return [i for i in items if datetime.fromisoformat(self.wp.site.local(i.modified_gmt)) > when]

    @staticmethod
    def _fields(data: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        if not query.get("_fields"):
            return data
        wanted = {f.split(".")[0] for f in query["_fields"].split(",")}
        return {k: v for k, v in data.items() if k in wanted}

    def _page_url(self, query: dict[str, str], page: int) -> str:
        params = {k: v for k, v in query.items() if k != "page"}
        params["page"] = str(page)
        base = self._api() + self._current_route().lstrip("/")
        sep = "&" if "?" in base else "?"
        return base + sep + urlencode(params)

    def _current_route(self) -> str:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if "rest_route" in query:
            return query["rest_route"][-1]
        return parts.path.split("/wp-json", 1)[1]

    def _api(self) -> str:
        return self.wp.api_url("")

    def _index(self) -> dict[str, Any]:
        site, api = self.wp.site, self._api()
        routes: dict[str, Any] = {"/": {"namespace": "", "methods": ["GET"]}, "/wp/v2": {"namespace": "wp/v2"}}
        for rest_base in [t.rest_base for t in site.types + site.taxonomies] + ["users", "comments"]:
            collection_args = {
                "page": {"type": "integer", "default": 1, "minimum": 1},
                "per_page": {"type": "integer", "default": 10, "minimum": 1, "maximum": 100},
                "orderby": {"type": "string"}, "order": {"type": "string", "enum": ["asc", "desc"]},
            }
            if site.type_by_rest_base(rest_base):
                collection_args["modified_after"] = {"type": "string", "format": "date-time"}
            routes[f"/wp/v2/{rest_base}"] = {
                "namespace": "wp/v2", "methods": ["GET"],
                "endpoints": [{"methods": ["GET"], "args": collection_args}],
                "_links": {"self": [{"href": f"{api}wp/v2/{rest_base}"}]},
            }
        return {
            "name": site.name,
            "description": site.description,
            "url": self.wp.home,
            "home": self.wp.home,
            "gmt_offset": str(site.gmt_offset).removesuffix(".0"),
            "timezone_string": site.timezone_string,
            "namespaces": ["oembed/1.0", "wp/v2", "wp-site-health/v1", "wp-block-editor/v1"],
            "authentication": [],
            "routes": routes,
            "site_logo": 0,
            "site_icon": 0,
            "site_icon_url": "",
            "_links": {"help": [{"href": "https://developer.wordpress.org/rest-api/"}]},
        }

    def _type_object(self, info: Any) -> dict[str, Any]:
        return {
            "description": "", "hierarchical": info.hierarchical, "has_archive": False, "name": info.name,
            "slug": info.slug, "icon": None, "taxonomies": info.related, "rest_base": info.rest_base,
            "rest_namespace": "wp/v2", "template": [], "template_lock": False,
            "_links": {"wp:items": [{"href": f"{self._api()}wp/v2/{info.rest_base}"}]},
        }

    def _taxonomy_object(self, info: Any) -> dict[str, Any]:
        return {
            "name": info.name, "slug": info.slug, "description": "", "types": info.related,
            "hierarchical": info.hierarchical, "rest_base": info.rest_base, "rest_namespace": "wp/v2",
            "_links": {"wp:items": [{"href": f"{self._api()}wp/v2/{info.rest_base}"}]},
        }

    # --- sending ---------------------------------------------------------------------------

    def _error(self, status: int, code: str, message: str, extra: dict[str, Any] | None = None) -> None:
        self._json(status, {"code": code, "message": message, "data": {"status": status, **(extra or {})}})

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        if self.wp.rewrite is not None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            status, headers, data = self.wp.rewrite(parts.path, query, status, dict(headers or {}), data)
        body = json.dumps(data).encode("utf-8")
        self._send(status, {
            "Content-Type": "application/json; charset=UTF-8",
            "X-Robots-Tag": "noindex",
            "X-Content-Type-Options": "nosniff",
            "Access-Control-Expose-Headers": "X-WP-Total, X-WP-TotalPages, Link",
            "Allow": "GET",
            **(headers or {}),
        }, body)

    def _send_html(self, status: int, page: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, {"Content-Type": "text/html; charset=UTF-8", **(headers or {})}, page.encode("utf-8"))

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
