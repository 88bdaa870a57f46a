"""WordPress's rendered content made plain: captions, galleries, embeds, footnotes, shortcode
debris and plugin boilerplate, turned into ordinary HTML before text and Markdown are taken.

Each step works on the parsed tree and records what it found (embeds, shortcodes) so the
extractors and the database can keep it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import soupsieve
from bs4 import BeautifulSoup, NavigableString, Tag

from .render import SPACES

DROPPED = ("script", "style", "noscript", "template", "svg", "object", "embed", "form", "button", "input",
           "select", "textarea")
NEXTPAGE = re.compile(r"<!--\s*nextpage\s*-->", re.I)
_RAW_CAPTION = re.compile(r"\[caption([^\]]*)\](.*?)\[/caption\]", re.S | re.I)
_CAPTION_IMAGE = re.compile(r"^\s*((?:<a\b[^>]*>\s*)?<img\b[^>]*>(?:\s*</a>)?)(.*)$", re.S | re.I)
_CAPTION_ATTR = re.compile(r'caption="([^"]*)"')
# [name attr="x"], [name], [/name]: what a deactivated plugin leaves behind.
SHORTCODE = re.compile(r"\[(/?)([A-Za-z][\w-]*)((?:\s+[^\]]*)?)\]")
# Core's own shortcodes and those of the commonest plugins: removed even without attributes.
KNOWN_SHORTCODES = frozenset({
    "caption", "wp_caption", "gallery", "embed", "audio", "video", "playlist", "contact-form", "contact-form-7",
    "vc_row", "vc_column", "vc_column_text", "et_pb_section", "et_pb_row", "et_pb_column", "et_pb_text",
    "fusion_builder_container", "su_button", "column", "one_half", "one_third", "tabs", "tab", "toggle",
    "button", "youtube", "googlemaps", "tweet", "soundcloud", "instagram", "recent-posts", "archives",
    "sitemap", "slideshow", "polldaddy", "wpvideo", "ngg", "nggallery", "ngg_images",
})
_EMBED_QUOTE_CLASSES = frozenset({"twitter-tweet", "instagram-media", "wp-embedded-content"})
_GALLERY_CLASSES = frozenset({"gallery", "wp-block-gallery", "tiled-gallery", "blocks-gallery-grid"})
_LOCAL_HREF = re.compile(r"^#")
_CLASS = re.compile(r"\.([\w-]+)")
_ID = re.compile(r"#([\w-]+)")
BACKLINKS = frozenset({"↩", "↩︎", "⏎", "^", "↑"})

PROVIDERS = {
    "youtube.com": "YouTube", "youtu.be": "YouTube", "vimeo.com": "Vimeo", "twitter.com": "Twitter",
    "x.com": "Twitter", "wordpress.tv": "WordPress.tv", "videopress.com": "VideoPress",
    "soundcloud.com": "SoundCloud", "spotify.com": "Spotify", "instagram.com": "Instagram",
    "facebook.com": "Facebook", "flickr.com": "Flickr", "slideshare.net": "SlideShare",
    "dailymotion.com": "Dailymotion", "ted.com": "TED", "tiktok.com": "TikTok", "reddit.com": "Reddit",
    "tumblr.com": "Tumblr", "google.com": "Google", "scribd.com": "Scribd", "speakerdeck.com": "Speaker Deck",
    "mixcloud.com": "Mixcloud", "kickstarter.com": "Kickstarter", "imgur.com": "Imgur", "issuu.com": "Issuu",
    "wordpress.com": "WordPress.com", "amazon.com": "Amazon", "pinterest.com": "Pinterest",
}


@dataclass
class Boilerplate:
    """What plugins and hosts add to content: CSS selectors to drop and whole-block phrases (regexes)."""

    selectors: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._patterns = [re.compile(p, re.I) for p in self.phrases]
        # Plain .class and #id selectors are matched by set lookups in one walk of the tree;
        # soupsieve, far slower per element, only gets the others.
        self.classes: frozenset[str] = frozenset(m.group(1) for sel in self.selectors if (m := _CLASS.fullmatch(sel)))
        self.ids: frozenset[str] = frozenset(m.group(1) for sel in self.selectors if (m := _ID.fullmatch(sel)))
        others = [sel for sel in self.selectors if not (_CLASS.fullmatch(sel) or _ID.fullmatch(sel))]
        self.selector = soupsieve.compile(", ".join(others)) if others else None

    def __getstate__(self) -> dict[str, list[str]]:
        # Compiled selectors do not pickle; worker processes compile their own.
        return {"selectors": self.selectors, "phrases": self.phrases}

    def __setstate__(self, state: dict[str, list[str]]) -> None:
        self.selectors, self.phrases = state["selectors"], state["phrases"]
        self.__post_init__()

    def matches(self, tag: Tag) -> bool:
        """Whether a tag is boilerplate by a plain class or id selector."""
        classes = tag.get("class")
        if classes and not self.classes.isdisjoint(classes):
            return True
        return bool(self.ids) and tag.get("id") in self.ids

    def is_phrase(self, text: str) -> bool:
        return any(p.fullmatch(text) for p in self._patterns)


@dataclass
class Embed:
    """Something embedded from elsewhere: a video, a post on another service."""

    provider: str
    url: str


@dataclass
class Normalised:
    """The normalised tree and what was found on the way."""

    soup: BeautifulSoup
    embeds: list[Embed] = field(default_factory=list)
    shortcodes: list[str] = field(default_factory=list)
    pages: int = 1
    changed: bool = False  # whether the tree differs from the HTML it was parsed from


def normalise(content_html: str, base_url: str = "", boilerplate: Boilerplate | None = None) -> Normalised:
    """Parse rendered content and rewrite WordPress's peculiarities as plain HTML."""
    pages = len(NEXTPAGE.findall(content_html)) + 1
    original = content_html
    content_html = NEXTPAGE.sub('<hr class="wparchive-nextpage"/>', content_html)
    content_html = _RAW_CAPTION.sub(_caption_figure, content_html)
    soup = BeautifulSoup(content_html, "html.parser")
    result = Normalised(soup=soup, pages=pages, changed=content_html != original)
    survey = _Survey(soup, boilerplate)
    for tag in survey.dropped:
        _drop(tag)
    changed = [bool(survey.dropped)]
    if boilerplate is not None:
        changed.append(_drop_boilerplate(soup, boilerplate, survey))
    changed.append(_embeds(soup, base_url, result.embeds, survey))
    changed.append(_galleries(soup, survey))
    changed.append(_footnotes(survey))
    result.shortcodes, stripped = _strip_shortcodes(soup)
    result.changed = result.changed or stripped or any(changed)
    return result


class _Survey:
    """The elements each step needs, found in one walk of the tree (each step walking it again
    cost several times the parse)."""

    def __init__(self, soup: BeautifulSoup, boilerplate: Boilerplate | None) -> None:
        self.dropped: list[Tag] = []
        self.boilerplate: list[Tag] = []
        self.embed_figures: list[Tag] = []
        self.frames: list[Tag] = []
        self.embed_quotes: list[Tag] = []
        self.galleries: list[Tag] = []
        self.footnote_refs: list[Tag] = []
        self.anchors: list[Tag] = []
        self.paragraphs: list[Tag] = []
        for tag in soup.find_all(True):
            name = tag.name
            if name in DROPPED:
                self.dropped.append(tag)
                continue
            classes = tag.get("class") or ()
            if boilerplate is not None and boilerplate.matches(tag):
                self.boilerplate.append(tag)
            if name == "a":
                self.anchors.append(tag)
                if "footnote-ref" in classes:
                    self.footnote_refs.append(tag)
            elif name == "p":
                self.paragraphs.append(tag)
            elif name in ("iframe", "video", "audio"):
                self.frames.append(tag)
            elif name == "sup":
                if tag.has_attr("data-fn") or "footnote" in classes or "fn" in classes or \
                        tag.find("a", href=_LOCAL_HREF) is not None:
                    self.footnote_refs.append(tag)
            elif name == "blockquote" and not _EMBED_QUOTE_CLASSES.isdisjoint(classes):
                self.embed_quotes.append(tag)
            if classes:
                if "wp-block-embed" in classes:
                    self.embed_figures.append(tag)
                if not _GALLERY_CLASSES.isdisjoint(classes):
                    self.galleries.append(tag)


def _drop(tag: Tag) -> None:
    if not tag.decomposed:
        tag.decompose()


def _replace(old: Tag, new: Tag | NavigableString) -> None:
    """Put new in old's place and destroy old, so that what the survey found inside it is
    known to be gone."""
    old.replace_with(new)
    old.decompose()


def _alive(tag: Tag) -> bool:
    """Still in the tree: not decomposed, nor inside something decomposed or replaced."""
    return not tag.decomposed and tag.parent is not None


def provider_of(url: str) -> str | None:
    """The name of the service a URL belongs to, if it is a known embed provider."""
    host = (urlsplit(url).hostname or "").lower()
    while host:
        if host in PROVIDERS:
            return PROVIDERS[host]
        _, _, host = host.partition(".")
    return None


def _caption_figure(match: re.Match[str]) -> str:
    """An unrendered [caption] shortcode as the figure WordPress would have made of it."""
    attributes, inner = match.group(1), match.group(2)
    parts = _CAPTION_IMAGE.match(inner)
    image, caption = (parts.group(1), parts.group(2)) if parts else ("", inner)
    if not caption.strip() and (attr := _CAPTION_ATTR.search(attributes)):
        caption = attr.group(1)
    return f'<figure class="wp-caption">{image}<figcaption class="wp-caption-text">{caption.strip()}</figcaption></figure>'


def _drop_boilerplate(soup: BeautifulSoup, boilerplate: Boilerplate, survey: _Survey) -> bool:
    # Phrases are matched on the lines of the text and the Markdown afterwards (clean_content).
    dropped = list(survey.boilerplate)
    if boilerplate.selector is not None:
        dropped += boilerplate.selector.select(soup)
    for tag in dropped:
        _drop(tag)
    return bool(dropped)


def _embeds(soup: BeautifulSoup, base_url: str, found: list[Embed], survey: _Survey) -> bool:
    """Embeds as links naming their provider; True when the tree changed."""
    before = len(found)
    changed = _embed_links(soup, base_url, found, survey)
    return changed or len(found) != before


def _embed_links(soup: BeautifulSoup, base_url: str, found: list[Embed], survey: _Survey) -> bool:
    changed = False
    for figure in survey.embed_figures:
        if not _alive(figure) or figure.find_parent(class_="wp-block-embed") is not None:
            continue
        url = _embed_url(figure, base_url)
        if not url:
            continue
        classes = " ".join(figure.get("class") or [])
        named = re.search(r"is-provider-([\w-]+)", classes)
        provider = provider_of(url) or (named.group(1).replace("-", " ").title() if named else "Embed")
        caption = figure.find("figcaption")
        replacement = _embed_link(soup, provider, url)
        if caption is not None:
            replacement.append(caption.extract())
        _replace(figure, replacement)
        found.append(Embed(provider, url))
    for frame in survey.frames:
        if not _alive(frame):
            continue
        url = _media_src(frame, base_url)
        if not url:
            frame.decompose()
            changed = True
            continue
        provider = provider_of(url) or {"video": "Video", "audio": "Audio"}.get(frame.name, "Embed")
        _replace(frame, _embed_link(soup, provider, url))
        found.append(Embed(provider, url))
    for quote in survey.embed_quotes:
        if not _alive(quote):
            continue
        links = [a["href"] for a in quote.find_all("a", href=True)]
        url = next((str(h) for h in reversed(links) if "/status/" in str(h) or "/p/" in str(h)), "")
        if url:
            found.append(Embed(provider_of(url) or "Embed", urljoin(base_url, url)))
    for paragraph in survey.paragraphs:
        # A URL alone on its line is how the classic editor embeds; when the oEmbed failed
        # it is all that is left.
        if not _alive(paragraph):
            continue
        text = paragraph.get_text().strip()
        if paragraph.find(True, recursive=False) is None or _only_link(paragraph, text):
            if re.fullmatch(r"https?://\S+", text) and (provider := provider_of(text)):
                _replace(paragraph, _embed_link(soup, provider, text))
                found.append(Embed(provider, text))
    return changed


def _only_link(paragraph: Tag, text: str) -> bool:
    children = [c for c in paragraph.children if not (isinstance(c, NavigableString) and not c.strip())]
    return len(children) == 1 and isinstance(children[0], Tag) and children[0].name == "a" and \
        children[0].get("href") == text


def _embed_url(figure: Tag, base_url: str) -> str:
    frame = figure.find(("iframe", "video", "audio"))
    if frame is not None and (url := _media_src(frame, base_url)):
        return url
    link = figure.find("a", href=True)
    if link is not None:
        return urljoin(base_url, str(link["href"]))
    text = figure.get_text(" ").strip().split()
    return next((word for word in text if word.startswith(("http://", "https://"))), "")


def _media_src(tag: Tag, base_url: str) -> str:
    src = tag.get("src") or tag.get("data-src")
    if not src:
        source = tag.find("source", src=True)
        src = source.get("src") if source is not None else None
    if not src:
        link = tag.find("a", href=True)
        src = link.get("href") if link is not None else None
    return urljoin(base_url, str(src).strip()) if src else ""


def _embed_link(soup: BeautifulSoup, provider: str, url: str) -> Tag:
    paragraph = soup.new_tag("p")
    link = soup.new_tag("a", href=url)
    link.string = f"{provider}: {url}"
    paragraph.append(link)
    return paragraph


def _galleries(soup: BeautifulSoup, survey: _Survey) -> bool:
    """Galleries (classic, block, tiled) as a plain list of images, each with its caption."""
    changed = False
    for gallery in survey.galleries:
        if not _alive(gallery) or gallery.find_parent(class_=list(_GALLERY_CLASSES)) is not None:
            continue
        listing = soup.new_tag("ul", attrs={"class": "wparchive-gallery"})
        for image in gallery.find_all("img"):
            item = soup.new_tag("li")
            holder = image.find_parent(("figure", "dl", "li", "div"))
            caption = None
            if holder is not None and holder is not gallery:
                caption = holder.find(("figcaption", "dd")) or holder.find(class_="gallery-caption")
            picture = image.extract()
            item.append(picture)
            if caption is not None and caption.get_text().strip():
                text = SPACES.sub(" ", caption.get_text()).strip()
                picture["data-wparchive-caption"] = text
                item.append(NavigableString(" " + text))
            listing.append(item)
        gallery_caption = gallery.find("figcaption", recursive=False)
        caption_text = SPACES.sub(" ", gallery_caption.get_text()).strip() if gallery_caption is not None else ""
        _replace(gallery, listing)
        changed = True
        if caption_text:
            paragraph = soup.new_tag("p")
            paragraph.string = caption_text
            listing.insert_after(paragraph)
    return changed


def _footnotes(survey: _Survey) -> bool:
    """Footnote references as [n]; the back-links at the notes, which are not text, dropped."""
    changed = False
    for reference in survey.footnote_refs:
        sup = reference if reference.name == "sup" else (reference.find_parent("sup") or reference)
        if not _alive(reference) or not _alive(sup):
            continue  # already replaced through its other half
        label = sup.get_text().strip().strip("[]")
        if label and len(label) <= 4:
            _replace(sup, NavigableString(f"[{label}]"))
            changed = True
    for link in survey.anchors:
        if _alive(link) and link.get_text().strip() in BACKLINKS:
            link.decompose()
            changed = True
    return changed


def _strip_shortcodes(soup: BeautifulSoup) -> tuple[list[str], bool]:
    """Take leftover shortcodes out of the text (not out of code); their names in order, and
    whether anything was taken."""
    names: list[str] = []
    stripped = False
    strings = [s for s in soup.find_all(string=SHORTCODE) if s.find_parent(("pre", "code")) is None]
    # A name that is closed somewhere ([/foo]) is a shortcode wherever it opens.
    pairs = {m.group(2).lower() for s in strings for m in SHORTCODE.finditer(str(s)) if m.group(1)}
    for string in strings:
        text = str(string)

        def drop(match: re.Match[str]) -> str:
            closing, name, attributes = match.group(1), match.group(2), match.group(3)
            lowered = name.lower()
            if closing or attributes.strip() or lowered in KNOWN_SHORTCODES or lowered in pairs:
                if not closing:
                    names.append(lowered)
                return ""
            return match.group(0)  # [sic], [1]: ordinary bracketed text

        cleaned = SHORTCODE.sub(drop, text)
        if cleaned != text:
            string.replace_with(NavigableString(cleaned))
            stripped = True
    return names, stripped
