"""A Markdown export as a static site that breaks no old address: where each item's file goes,
the URL Hugo and Jekyll build it at, the old addresses that lead to it, and the files that make
the folder build as it is (configuration, minimal layouts, redirect pages) and be served
(redirect maps for Netlify, nginx and Apache).

Names, paths and URLs come from the site (slugs, types, dates, permalinks): each is made safe
here before it names a file, goes into front matter or into a server's configuration.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import re
import shutil
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import quote, unquote, unquote_to_bytes, urlsplit

import yaml
from sqlite_utils.db import Database

from .db.queries import EARLIER_LINKS_SQL, MEDIA_FILES_SQL, MEDIA_PAGES_SQL
from .errors import ExportError
from .paths import MEDIA_EXTENSIONS

# Names in a Markdown export come from the site (slugs, types, dates) and may hold "/", "..",
# NUL, names Windows reserves, or be thousands of characters long.
NAME_BYTES = 255  # the longest name ext4, APFS and most others allow, in bytes of UTF-8
NAME_CHARS = 4 * NAME_BYTES  # more characters than can survive in a name: the rest is not read
_RESERVED_NAMES = frozenset({"con", "prn", "aux", "nul", *(f"{port}{n}" for port in ("com", "lpt")
                                                          for n in "0123456789\u00b9\u00b2\u00b3")})
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}$")
# Media files in an archive are named by their SHA-256 (see media.py); nothing else is copied.
_MEDIA_PATH = re.compile(r"[0-9a-f]{2}/[0-9a-f]{64}\.[a-z0-9]{1,10}")
# Folders at the top of an export that Hugo reads as parts of a project, or that the export writes
# itself: the items of a post type of such a name go to "<name>-items" instead.
RESERVED_FOLDERS = frozenset({"images", "layouts", "redirects", "static", "content", "assets", "data", "i18n",
                              "archetypes", "themes", "resources", "public"})
# First parts of a URL that Hugo or the export use for pages of their own: no item is built there.
_RESERVED_URL_STARTS = frozenset({"images", "categories", "tags", "page", "index.html", "index.xml", "sitemap.xml",
                                  "404.html", "_redirects"})
URL_BYTES = 1024  # the longest URL path an item is built at: with the output folder, well within PATH_MAX

REDIRECTS_NETLIFY = "_redirects"
REDIRECTS_NGINX = "_nginx-redirects.conf"
REDIRECTS_APACHE = "_apache-redirects.conf"
REDIRECT_PAGES = "redirects"  # Jekyll's redirect pages; Hugo writes its own from aliases


def safe_name(value: str, *, fallback: str, max_bytes: int = NAME_BYTES) -> str:
    """A file or folder name made of a value from the site: letters, digits, marks, "-", "_" and
    "." only (a run of anything else becomes "-"), not starting with "." or "_" (hidden, or left
    out by Jekyll), no name Windows reserves, at most max_bytes of UTF-8 cut between characters;
    fallback (itself made safe) when nothing is left."""
    name = _name_chars(value, max_bytes) or _name_chars(fallback, max_bytes) or "item"
    if name.split(".", 1)[0].lower() in _RESERVED_NAMES:
        name = fit(name, max_bytes - 1) + "-"
    return name


def _name_chars(value: str, max_bytes: int) -> str:
    # WordPress keeps slugs in other scripts percent-encoded: the letters are wanted, not "%e6".
    text = unicodedata.normalize("NFC", unquote(value[:NAME_CHARS], errors="replace"))
    kept = "".join(c if c in "-_." or unicodedata.category(c)[0] in "LNM" else "\0" for c in text)
    return re.sub("\0+", "-", fit(kept, max_bytes)).strip("-._")


def fit(name: str, max_bytes: int) -> str:
    """name cut to at most max_bytes of UTF-8, between characters."""
    encoded = name.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return name
    return encoded[:max_bytes].decode("utf-8", "ignore").rstrip("-._")


class FileNames:
    """Where each item of an export goes: folder and file name, unique among those given out
    (compared as a case-insensitive file system compares them), the same for the same rows."""

    def __init__(self) -> None:
        self.taken: set[tuple[str, str]] = set()

    def place(self, row: dict[str, Any]) -> tuple[Path, str]:
        """The path of an item's file within the export, and the slug its file name holds."""
        ident = safe_name(str(row.get("wp_id")).replace("-", "n"), fallback="item")
        slug = safe_name(str(row.get("slug") or ""), fallback=f"item-{ident}")
        if row.get("type") == "post":
            folder, prefix = "_posts", _day(row.get("date")) + "-"
        else:
            kind = _name_chars(str(row.get("type") or ""), 100) or "item"
            folder, prefix = safe_name(kind if kind.endswith("s") else f"{kind}s", fallback="items"), ""
            if folder.casefold() in RESERVED_FOLDERS:
                folder += "-items"
        site = safe_name(str(row.get("site_id")), fallback="0")
        extras = itertools.chain(("", f"-{ident}", f"-{site}-{ident}"),
                                 (f"-{site}-{ident}-{n}" for n in itertools.count(2)))
        for extra in extras:
            stem = fit(prefix + slug, NAME_BYTES - len(".md") - len(extra.encode("utf-8"))) + extra
            key = (folder.casefold(), stem.casefold())
            if key not in self.taken:
                self.taken.add(key)
                return Path(folder) / f"{stem}.md", stem[len(prefix):]
        raise AssertionError("unreachable: count() never ends")


def _day(date: Any) -> str:
    """The day of a post's date for its file name, or 1970-01-01 when it is not one."""
    day = str(date or "")[:10]
    try:
        datetime.strptime(day, "%Y-%m-%d")  # a day that exists: Jekyll reads it
    except ValueError:
        return "1970-01-01"
    return day if _DAY.match(day) else "1970-01-01"  # and written in full, as Jekyll's names want


def inside(root: Path, path: Path) -> Path:
    """path, after checking that it resolves inside root (a link in the folder could point away)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise ExportError(f"{path} would be written outside {root}, at {resolved}",
                          hint="A link inside the export folder points elsewhere; export to an empty folder.")
    return path


def copy_media(db: Database, media_dir: Path, folder: Path) -> dict[str, str]:
    """Copy downloaded media files into the export's images/; returns original URL → path in the
    export. Only files named as media.py names them are copied, from inside media_dir to inside folder."""
    local: dict[str, str] = {}
    media_root, root = media_dir.resolve(), folder.resolve()
    for url, path in db.execute(MEDIA_FILES_SQL):
        if not isinstance(path, str) or not _MEDIA_PATH.fullmatch(path) or Path(path).suffix not in MEDIA_EXTENSIONS:
            continue  # not a name media.py gives, or not a file a page may show (an .html): left where it is
        source = media_dir / path
        if not source.is_file() or not source.resolve().is_relative_to(media_root):
            continue
        target = inside(root, folder / "images" / Path(path).name)
        target.parent.mkdir(exist_ok=True)
        if not target.exists():
            shutil.copyfile(source, target)
        local[url] = f"/images/{target.name}"
    return local


# --- URLs: where each item is built, and what led to it before -----------------------------------

@dataclass
class Placed:
    """Where an item goes: its file in the export, the slug its file name holds, the URL it is
    built at (a path from the site's root, not percent-encoded), and the old paths that lead to it
    which a page can stand at (Hugo's aliases, Jekyll's redirect_from)."""

    path: Path
    slug: str
    url: str
    aliases: list[str] = field(default_factory=list)


class SitePlan:
    """Every item of an export placed, with the URL it is built at, its old addresses, and the
    media files copied into the export; the same rows give the same plan.

    An item keeps the path of its permalink as its URL when that is a clean path (see clean_path):
    its old address then needs no redirect at all. Otherwise, or when another item already holds
    that path, it is built at /<folder>/<file name>/. Old addresses are the permalink, earlier
    permalinks (a slug changed: earlier_links), /?p=ID and, for pages, /?page_id=ID."""

    def __init__(self, rows: Iterable[dict[str, Any]], *, earlier_links: Mapping[str, list[str]] | None = None,
                 media: Mapping[str, str] | None = None) -> None:
        self.names = FileNames()
        self.placed: dict[str, Placed] = {}
        # Each old path (percent-encoded as sent, query included) → the URL it now leads to, encoded.
        self.redirects: dict[str, str] = {}
        self._earlier = earlier_links or {}
        self._urls: set[str] = {""}  # taken, as _url_key has them; "" is the home page
        self._aliases: set[str] = set()  # old paths a redirect page stands at, likewise
        self._addresses: dict[str, str] = {}  # address_of(an old URL) → where a link to it now leads
        entries = [(row, *self.names.place(row)) for row in rows]
        # A folder's URL is Hugo's list of what is in it.
        self._urls |= {_url_key("/" + path.parts[0].lstrip("_")) for _, path, _ in entries}
        # Permalinks first, so that no item's new path takes the old address of another.
        urls = [self._claim(clean_path(row.get("link"))) for row, _, _ in entries]
        for (row, path, slug), url in zip(entries, urls, strict=True):
            self.placed[str(row.get("key"))] = Placed(path, slug, url or self._fallback(path))
        for row, _, _ in entries:
            self._remember(row)
        for url, local in (media or {}).items():
            self._addresses.setdefault(address_of(url), local)

    @classmethod
    def of_archive(cls, db: Database, rows: Iterable[dict[str, Any]], media: Mapping[str, str]) -> SitePlan:
        """The plan of rows (the items of an export) with their earlier permalinks and attachment
        pages from the archive, and media as copy_media copied them."""
        earlier: dict[str, list[str]] = {}
        for key, link in db.execute(EARLIER_LINKS_SQL):
            if isinstance(link, str):
                earlier.setdefault(key, []).append(link)
        addresses = dict(media)
        for page, source in db.execute(MEDIA_PAGES_SQL):  # an attachment's page: its file, when copied
            if isinstance(page, str) and source in media:
                addresses.setdefault(page, media[source])
        return cls(rows, earlier_links=earlier, media=addresses)

    def place(self, row: dict[str, Any]) -> Placed:
        """Where an item goes: as planned, or placed now if it was not among the rows planned (an
        item a harvest added since)."""
        key = str(row.get("key"))
        if key not in self.placed:
            path, slug = self.names.place(row)
            self.placed[key] = Placed(path, slug, self._claim(clean_path(row.get("link"))) or self._fallback(path))
            self._remember(row)
        return self.placed[key]

    def destination(self, href: str, targets: Mapping[str, str] | None = None) -> str | None:
        """Where a link in content to href leads in the export, encoded, its #fragment kept: the
        page of the item the links table says it points at (targets: address_of(href) → key), or
        of the item or media file whose address (old or current) it is; None when it leads elsewhere."""
        address = address_of(href)
        target = (targets or {}).get(address)
        found = self.url_of(target) if target else None
        found = found or self._addresses.get(address)
        if found is None:
            return None
        fragment = href.partition("#")[2]
        return found + (f"#{quote(unquote(fragment), safe='')}" if fragment else "")

    def url_of(self, key: str) -> str | None:
        """The URL an item of the plan is built at, encoded; None for one not in the export."""
        placed = self.placed.get(key)
        return _encoded_url(placed.url) if placed else None

    def _claim(self, url: str | None) -> str | None:
        if url is None or _url_key(url) in self._urls or len(url.encode("utf-8")) > URL_BYTES:
            return None
        self._urls.add(_url_key(url))
        return url

    def _fallback(self, path: Path) -> str:
        base = f"/{path.parts[0].lstrip('_')}/{path.stem}"
        for extra in itertools.chain([""], (f"-{n}" for n in itertools.count(2))):
            if (url := self._claim(f"{base}{extra}/")) is not None:
                return url
        raise AssertionError("unreachable: count() never ends")

    def _remember(self, row: dict[str, Any]) -> None:
        """Record the old addresses of an item: for links in content, and as redirects to its URL."""
        key = str(row.get("key"))
        placed = self.placed[key]
        new = _encoded_url(placed.url)
        links = [link for link in [row.get("link"), *self._earlier.get(key, [])] if isinstance(link, str) and link]
        ident = str(row.get("wp_id"))
        # WordPress answers /?p=ID for any item (its guid is that address) and /?page_id=ID for a page.
        queries = ([f"p={ident}"] + ([f"page_id={ident}"] if row.get("type") == "page" else [])
                   if ident.isdigit() else [])
        hosts = {_host(url) for url in [*links, str(row.get("site_home") or "")]} - {""}
        for address in [*map(address_of, links), *(f"{host}/?{q}" for host in hosts for q in queries)]:
            self._addresses.setdefault(address, new)
        old_paths = [_path_and_query(link) for link in links] + [f"/?{q}" for q in queries]
        for old in dict.fromkeys(old_paths):
            encoded = _encoded_path(old)
            if not encoded or encoded in self.redirects:
                continue  # nothing a server can match, or an earlier item's old address (the first keeps it)
            path, _, query = old.partition("?")
            decoded = unquote(path)
            # Its own URL, another item's, a folder's list or the home page: never redirected. But a
            # path whose letters are decomposed (NFD, as some sites' slugs are) is another address to
            # a server, even where it names the same page as the composed one to a person: redirected.
            if not query and _url_key(decoded) in self._urls and unicodedata.is_normalized("NFC", decoded):
                continue
            self.redirects[encoded] = new
            # A page stands at each clean old path, once: /caf%C3%A9/ and /caf%c3%a9/ are one.
            if (clean := clean_path(old)) is not None and _url_key(clean) not in self._aliases:
                self._aliases.add(_url_key(clean))
                placed.aliases.append(clean)


def clean_path(link: Any) -> str | None:
    """The path of a URL as both builders can build a page at it, not percent-encoded: every part a
    name safe_name keeps as it is, no query, not the site's root nor under a URL of their own,
    ending in "/" unless its last part has an extension. None when it is not such a path: a page
    cannot be built at /?p=12, at /a//b/ or at /../x."""
    if not isinstance(link, str):
        return None
    try:
        parts = urlsplit(link.strip())
        path = unquote(parts.path, errors="strict")
    except (ValueError, UnicodeDecodeError):
        return None
    names = path.strip("/").split("/")
    if parts.query or not path.startswith("/") or names == [""] or names[0].casefold() in _RESERVED_URL_STARTS:
        return None
    if any(name != safe_name(name, fallback="") for name in names):
        return None
    return path if path.endswith("/") or "." in names[-1] else path + "/"


def address_of(url: str) -> str:
    """A URL as links and addresses are matched: host (no www.) with its port, path without its
    trailing "/" and with its escapes in one form, query; no scheme and no fragment."""
    try:
        parts = urlsplit(url.strip())
        host = _host(url)
        path = quote(unquote(parts.path), safe="/%").rstrip("/") or "/"
    except (ValueError, UnicodeEncodeError):
        return ""
    return host + path + (f"?{parts.query}" if parts.query else "")


def _host(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower().removeprefix("www.")
        return host + (f":{parts.port}" if parts.port else "")
    except ValueError:  # a port that is none
        return ""


def _url_key(url: str) -> str:
    """A URL as a case-insensitive file system tells built pages apart: /About and /about/ are one."""
    return unicodedata.normalize("NFC", url).rstrip("/").casefold()


def _path_and_query(link: str) -> str:
    try:
        parts = urlsplit(link.strip())
    except ValueError:
        return ""
    return parts.path + (f"?{parts.query}" if parts.query else "")


# What a path may hold in a redirect map: unreserved characters, "/", percent escapes, and "?", "=",
# "&" in a query. Nothing a server's configuration reads as syntax: no space, quote, ";", "$", "{".
_MAP_SAFE = re.compile(r"/[A-Za-z0-9%/._~?=&-]*")
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _encoded_path(path: str) -> str:
    """An old path as a client sends it: escapes kept as the site wrote them (WordPress writes them
    in lower case), everything outside _MAP_SAFE escaped; "" when it is no path at all."""
    try:
        encoded = quote(_LONE_PERCENT.sub("%25", path), safe="/%?=&~")
    except UnicodeEncodeError:  # a lone surrogate
        return ""
    return encoded if _MAP_SAFE.fullmatch(encoded) and len(encoded) <= 4 * URL_BYTES else ""


def _encoded_url(url: str) -> str:
    return quote(url, safe="/")


# --- Redirect maps beside the export ---------------------------------------------------------------

def write_redirect_maps(folder: Path, plan: SitePlan) -> None:
    """Every old path of the plan's items → their new URL, for Netlify and Cloudflare Pages
    (_redirects), nginx (a map) and Apache (mod_rewrite rules). Old paths with a query (/?p=12)
    are here only: no page can stand at them."""
    redirects = [(old, new) for old, new in plan.redirects.items()
                 if _MAP_SAFE.fullmatch(old) and _MAP_SAFE.fullmatch(new) and "?" not in new]
    root = folder.resolve()
    for name, text in ((REDIRECTS_NETLIFY, _netlify(redirects)), (REDIRECTS_NGINX, _nginx(redirects)),
                       (REDIRECTS_APACHE, _apache(redirects))):
        inside(root, folder / name).write_text(text, encoding="utf-8")


def _netlify(redirects: list[tuple[str, str]]) -> str:
    lines = ["# Old WordPress addresses -> where the export builds each item (Netlify, Cloudflare Pages).",
             "# Netlify matches the query forms (\"/ p=12\"); Cloudflare Pages matches no query and skips them."]
    for old, new in redirects:
        path, _, query = old.partition("?")
        parameters = query.split("&") if query else []
        if all("=" in p for p in parameters):  # Netlify matches name=value pairs only
            lines.append(" ".join([path, *parameters, new, "301"]))
    return "\n".join(lines) + "\n"


def _nginx(redirects: list[tuple[str, str]]) -> str:
    lines = ["# Old WordPress addresses -> where the export builds each item, for nginx. Include this",
             "# file in the http block, and in the server block add",
             "#     if ($wparchive_redirect) { return 301 $wparchive_redirect; }",
             "# Keys are request URIs as clients send them, query included (the map is an exact match:",
             "# a large site may need a larger map_hash_bucket_size).",
             "map $request_uri $wparchive_redirect {", '    default "";']
    seen: set[str] = set()
    for old, new in redirects:
        path, _, query = old.partition("?")
        # WordPress answered its addresses with and without the final "/"; the map matches exactly.
        variants = [old] if query or path == "/" else [path, path.rstrip("/") if path.endswith("/") else path + "/"]
        for key in variants:
            if key not in seen:
                seen.add(key)
                lines.append(f'    "{key}" "{new}";')
    return "\n".join([*lines, "}"]) + "\n"


def _apache(redirects: list[tuple[str, str]]) -> str:
    lines = ["# Old WordPress addresses -> where the export builds each item, for Apache's mod_rewrite:",
             "# in .htaccess at the site's root, or in its <VirtualHost>.", "RewriteEngine On"]
    for old, new in redirects:
        path, _, query = old.partition("?")
        target = new.replace("%", "\\%")  # "%1" would be a back-reference; NE keeps the escapes as written
        pattern = "^/?" + _bytes_pattern(path.strip("/")) + ("/?$" if path.strip("/") else "$")
        if query:
            lines.append(f"RewriteCond %{{QUERY_STRING}} ^{re.escape(query)}$")
            lines.append(f"RewriteRule {pattern} {target} [R=301,L,NE,QSD]")
        else:
            lines.append(f"RewriteRule {pattern} {target} [R=301,L,NE]")
    return "\n".join(lines) + "\n"


def _bytes_pattern(path: str) -> str:
    """A regular expression matching the path as Apache matches it, decoded: letters, digits, "/",
    "_", "~" and "-" as they are, every other byte as \\xHH."""
    return "".join(chr(b) if chr(b) in _PATTERN_LITERAL else f"\\x{b:02X}" for b in unquote_to_bytes(path))


_PATTERN_LITERAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_~-")


# --- What makes the folder a site: configuration, layouts and redirect pages ---------------------

HUGO_CONFIG = "config.toml"
# Each file the export writes to make a site of the folder, relative to it (the redirect pages
# under REDIRECT_PAGES/ apart).
SITE_FILES = (HUGO_CONFIG, "layouts/_default/single.html", "layouts/_default/list.html", "_config.yml",
              "_layouts/default.html", "index.html")

# The layouts show what front matter and content hold and run nothing of them: Hugo's templates
# escape every value, Jekyll's use | escape, and content arrives inert (export.inert_for_site_builders).
_HUGO_SINGLE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{ .Title }}</title></head>
<body>
<p><a href="{{ "/" | relURL }}">Home</a></p>
<article>
<h1>{{ .Title }}</h1>
{{ if not .Date.IsZero }}<p><time datetime="{{ .Date.Format "2006-01-02" }}">{{ .Date.Format "2006-01-02" }}</time></p>{{ end }}
{{ .Content }}
</article>
</body></html>
"""
_HUGO_LIST = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{ .Title }}</title></head>
<body>
<p><a href="{{ "/" | relURL }}">Home</a></p>
<h1>{{ .Title }}</h1>
<ul>
{{ range (cond .IsHome site.RegularPages .Pages) }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>
{{ end }}</ul>
</body></html>
"""
_JEKYLL_CONFIG = """# Written by wparchive export: `jekyll build` builds this folder as it is. Every item says its
# own URL (permalink); Hugo's files are left out.
exclude: [layouts, config.toml, resources, public]
include: [_redirects]
future: true
defaults:
  - scope: {path: ""}
    values: {layout: default}
"""
_JEKYLL_DEFAULT = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{ page.title | escape }}</title></head>
<body>
<p><a href="{{ "/" | relative_url }}">Home</a></p>
<article>
<h1>{{ page.title | escape }}</h1>
{% if page.date %}<p><time datetime="{{ page.date | date: "%Y-%m-%d" }}">{{ page.date | date: "%Y-%m-%d" }}</time></p>{% endif %}
{{ content }}
</article>
</body></html>
"""
_JEKYLL_INDEX = """---
layout: null
---
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Archive</title></head>
<body>
<ul>
{% for post in site.posts %}<li><a href="{{ post.url | relative_url }}">{{ post.title | escape }}</a></li>
{% endfor %}{% for page in site.pages %}{% if page.wordpress_id %}<li><a href="{{ page.url | relative_url }}">{{ page.title | escape }}</a></li>
{% endif %}{% endfor %}</ul>
</body></html>
"""


def write_site_files(folder: Path, plan: SitePlan) -> None:
    """The files with which `hugo` and `jekyll build` build the folder as it is: Hugo's configuration
    (each folder of items mounted as content, images/ and _redirects as static files) and layouts,
    Jekyll's configuration, layout and home page, and a redirect page for Jekyll at each old path a
    page can stand at. (Hugo writes those itself from aliases; Jekyll needs the jekyll-redirect-from
    plugin for redirect_from, which Debian's jekyll lacks, and GitHub Pages' safe mode has no other.
    With the plugin on, both write the same redirect and Jekyll warns of the conflict.)"""
    root = folder.resolve()
    sections = sorted({placed.path.parts[0] for placed in plan.placed.values()})
    mounts = [(section, f"content/{section.lstrip('_')}") for section in sections]
    mounts += [("images", "static/images"), (REDIRECTS_NETLIFY, f"static/{REDIRECTS_NETLIFY}")]
    hugo = ["# Written by wparchive export: `hugo` builds this folder as it is. Every item says its own URL.",
            'baseURL = "/"', "disablePathToLower = true", "buildFuture = true",
            "[markup.goldmark.renderer]", "unsafe = false  # no HTML from the site", "[module]"]
    for source, target in mounts:  # names made by safe_name: no quote or backslash in them
        hugo += ["[[module.mounts]]", f"source = {json.dumps(source)}", f"target = {json.dumps(target)}"]
    texts = dict(zip(SITE_FILES, ["\n".join(hugo) + "\n", _HUGO_SINGLE, _HUGO_LIST, _JEKYLL_CONFIG, _JEKYLL_DEFAULT,
                                  _JEKYLL_INDEX], strict=True))
    for name, text in texts.items():
        path = inside(root, folder / name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    pages = inside(root, folder / REDIRECT_PAGES)
    for placed in plan.placed.values():
        for alias in placed.aliases:
            pages.mkdir(exist_ok=True)
            name = hashlib.sha256(alias.encode("utf-8")).hexdigest()[:24] + ".html"
            inside(root, pages / name).write_text(_redirect_page(alias, _encoded_url(placed.url)), encoding="utf-8")


def _redirect_page(old: str, new: str) -> str:
    """A Jekyll page at old (a clean path) that sends the reader on to new, as Hugo's alias pages do."""
    head = yaml.safe_dump({"permalink": old, "layout": None, "sitemap": False, "render_with_liquid": False},
                          allow_unicode=True, default_style=None, sort_keys=False)
    target = html.escape(new)
    return (f"---\n{head}---\n<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{target}</title>"
            f"<link rel=\"canonical\" href=\"{target}\"><meta name=\"robots\" content=\"noindex\">"
            f"<meta http-equiv=\"refresh\" content=\"0; url={target}\"></head>"
            f"<body><a href=\"{target}\">{target}</a></body></html>\n")
