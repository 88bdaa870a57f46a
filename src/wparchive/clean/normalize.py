"""WordPress's rendered content made plain: captions, galleries, embeds, footnotes, shortcode
debris and plugin boilerplate, turned into ordinary HTML before text and Markdown are taken.

Each step works on the parsed tree (lxml: parsing with BeautifulSoup cost more than all the rest
of cleaning together) and records what it found (embeds, shortcodes) so the extractors and the
database can keep it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree
from lxml.cssselect import CSSSelector
from lxml.html import HtmlElement

from .code import is_code_widget, mark_language, plain_code_widget
from .furniture import drop_closing_calls, drop_related_links, drop_share_links, is_affiliate_button, is_furniture
from .notes import footnotes
from .render import NOT_OURS, classes_of, remove, replace_with_text, text_of, within

# Never text: taken out with all they hold. (<noscript> and <form> are looked at first: an
# image's real address, or an article a theme wrapped in a form, may be inside.)
DROPPED = ("script", "style", "template", "svg", "object", "embed", "button", "input", "select", "textarea")
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
# Markdown's heading, quote, list and emphasis marks around a line's words
_MARKUP_BEFORE, _MARKUP_AFTER = r"(?:[^\S\n]|[#>*_\-])", r"(?:[^\S\n]|[*_])"
_MARKUP_AROUND = re.compile(rf"^{_MARKUP_BEFORE}+|{_MARKUP_AFTER}+$")
_CLASS = re.compile(r"\.([\w-]+)")
_ID = re.compile(r"#([\w-]+)")
# NUL, C0 controls other than whitespace, lone surrogates: no HTML holds them, and lxml refuses them;
# and the private-use characters that mark our notes (render.NOT_OURS), which the page may not make.
_UNPARSABLE = re.compile("[\x00-\x08\x0b\x0e-\x1f\ud800-\udfff" + NOT_OURS.pattern[1:-1] + "]")
_ELEMENTS = etree.Element  # as a filter of iter(): elements, not comments
# Without huge_tree libxml2 silently drops a text node over 10 MB.
_PARSER = lxml.html.HTMLParser(huge_tree=True)
_TAG = re.compile(r"</?([a-zA-Z][\w-]*)[^>]*>")
_BLOCK_ENDS = frozenset({"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "br", "pre",
                         "figure", "figcaption", "section", "article", "table", "ul", "ol", "dd", "dt"})
# Where lazy-loading plugins (WP Rocket, a3, LiteSpeed, Jetpack, themes) keep an image's real
# address while src holds a placeholder.
_LAZY_SOURCES = ("data-src", "data-lazy-src", "data-litespeed-src", "data-original", "data-lazyload", "data-orig-src")
_LAZY_SRCSETS = ("data-srcset", "data-lazy-srcset", "data-litespeed-srcset", "srcset")
_PLACEHOLDER = re.compile(r"^data:|lazy|placeholder|blank\.(?:gif|png)|spacer|pixel\.(?:gif|png)|1x1", re.I)
_EMPHASIS = frozenset({"strong", "em", "b", "i", "u", "s", "del", "ins", "mark"})
# Forms of plugins inside content (contact, newsletter, search, comment, login): furniture, dropped.
_FORM_PLUGINS = re.compile(r"wpcf7|mc4wp|mailchimp|newsletter|subscri|search|comment|contact|login|wpforms|gform|"
                           r"ninja|jetpack|signup|sign-up|optin|opt-in|feedback|rating|poll", re.I)
_ARTICLE_IN_FORM = 200  # characters of text outside labels and controls that make a form an article's wrapper
_CELL_BLOCKS = frozenset({"p", "div", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
                          "section", "figure", "figcaption", "dl", "dt", "dd", "table", "tbody", "thead", "tr",
                          "td", "th", "pre", "hr", "caption", "tfoot"})
# The most columns a table's spanning cells make it (a row with more cells of its own makes it
# wider): tables that wide are no data but a page's bytes, and each column costs a cell on every row.
_MAX_SPANNED_COLUMNS = 64

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
        self._lines: re.Pattern[str] | None = None
        if self.phrases:
            try:  # one pattern over the whole text is many times faster than each phrase on each line
                joined = "|".join(f"(?:{p})" for p in self.phrases)
                self._patterns = [re.compile(joined, re.I)]
                self._lines = re.compile(rf"^{_MARKUP_BEFORE}*(?:{joined}){_MARKUP_AFTER}*$\n?", re.I | re.M)
            except re.error:  # a phrase with global flags of its own cannot be joined
                pass
        # Plain .class and #id selectors are matched by set lookups in the one walk of the tree;
        # the compiled selector, far slower per element, only gets the others.
        self.classes: frozenset[str] = frozenset(m.group(1) for sel in self.selectors if (m := _CLASS.fullmatch(sel)))
        self.ids: frozenset[str] = frozenset(m.group(1) for sel in self.selectors if (m := _ID.fullmatch(sel)))
        others = [sel for sel in self.selectors if not (_CLASS.fullmatch(sel) or _ID.fullmatch(sel))]
        self.selector = CSSSelector(", ".join(others), translator="html") if others else None

    def __getstate__(self) -> dict[str, list[str]]:
        # Compiled selectors do not pickle; worker processes compile their own.
        return {"selectors": self.selectors, "phrases": self.phrases}

    def __setstate__(self, state: dict[str, list[str]]) -> None:
        self.selectors, self.phrases = state["selectors"], state["phrases"]
        self.__post_init__()

    def matches(self, element: HtmlElement, classes: frozenset[str] | list[str]) -> bool:
        """Whether an element is boilerplate by a plain class or id selector."""
        if classes and not self.classes.isdisjoint(classes):
            return True
        return bool(self.ids) and element.get("id") in self.ids

    def is_phrase(self, text: str) -> bool:
        return any(p.fullmatch(text) for p in self._patterns)

    def without_phrase_lines(self, text: str) -> str:
        """Text (or Markdown) without the lines that are whole boilerplate phrases."""
        if self._lines is not None:
            kept = self._lines.sub("", text)
        else:
            kept = "\n".join(line for line in text.split("\n")
                             if not self.is_phrase(_MARKUP_AROUND.sub("", line)))
        return re.sub(r"\n{3,}", "\n\n", kept).strip("\n")


@dataclass
class Embed:
    """Something embedded from elsewhere: a video, a post on another service."""

    provider: str
    url: str


@dataclass
class Normalised:
    """The normalised tree (a <div> holding the content) and what was found on the way."""

    root: HtmlElement
    embeds: list[Embed] = field(default_factory=list)
    shortcodes: list[str] = field(default_factory=list)
    pages: int = 1
    changed: bool = False  # whether the tree differs from the HTML it was parsed from


def _unparsable(match: re.Match[str]) -> str:
    return "" if NOT_OURS.match(match.group(0)) else "\ufffd"


def parse_fragment(content_html: str) -> HtmlElement:
    """An HTML fragment parsed into a <div>; characters no HTML may hold are replaced first."""
    content_html = _UNPARSABLE.sub(_unparsable, content_html)
    root = lxml.html.fragment_fromstring(content_html, create_parent="div", parser=_PARSER)
    if any(error.type_name == "ERR_RESOURCE_LIMIT" for error in _PARSER.error_log):
        # Nesting deeper than libxml2 follows (2,048 levels) loses everything below it: keep
        # the text, with a line for each block, rather than lose it.
        flat = _TAG.sub(lambda tag: "<br>" if tag.group(1).lower() in _BLOCK_ENDS else "", content_html)
        root = lxml.html.fragment_fromstring(flat, create_parent="div", parser=_PARSER)
    return root


def normalise(content_html: str, base_url: str = "", boilerplate: Boilerplate | None = None,
              site_hosts: frozenset[str] = frozenset()) -> Normalised:
    """Parse rendered content and rewrite WordPress's peculiarities as plain HTML; take out what
    themes and plugins put into it (furniture.py; site_hosts tell links to the site's own posts)."""
    pages = len(NEXTPAGE.findall(content_html)) + 1
    original = content_html
    content_html = NEXTPAGE.sub('<hr class="wparchive-nextpage"/>', content_html)
    content_html = _RAW_CAPTION.sub(_caption_figure, content_html)
    root = parse_fragment(content_html)
    result = Normalised(root=root, pages=pages, changed=content_html != original)
    survey = _Survey(root, boilerplate)
    changed = [_code_blocks(root, survey)]
    for element in survey.dropped + survey.furniture:
        remove(element)
    changed.append(bool(survey.dropped or survey.furniture))
    changed.append(_images(root, survey))
    changed.append(_forms(root, survey))
    if boilerplate is not None:
        changed.append(_drop_boilerplate(root, boilerplate, survey))
    changed.append(_embeds(root, base_url, result.embeds, survey))
    changed.append(_galleries(root, survey))
    changed.append(footnotes(root, survey.footnote_refs, survey.anchors))
    changed.append(_tables(root, survey))
    changed.append(_emphasis(root, survey))
    changed.append(drop_share_links(root))
    changed.append(drop_related_links(root, site_hosts))
    changed.append(drop_closing_calls(root))
    if "[" in content_html:
        result.shortcodes, stripped = _strip_shortcodes(root)
        changed.append(stripped)
    result.changed = result.changed or any(changed)
    return result


class _Survey:
    """The elements each step needs, found in one walk of the tree (each step walking it again
    cost several times the parse)."""

    def __init__(self, root: HtmlElement, boilerplate: Boilerplate | None) -> None:
        self.dropped: list[HtmlElement] = []
        self.boilerplate: list[HtmlElement] = []
        self.embed_figures: list[HtmlElement] = []
        self.frames: list[HtmlElement] = []
        self.embed_quotes: list[HtmlElement] = []
        self.galleries: list[HtmlElement] = []
        self.footnote_refs: list[HtmlElement] = []
        self.anchors: list[HtmlElement] = []
        self.paragraphs: list[HtmlElement] = []
        self.code_widgets: list[HtmlElement] = []
        self.pres: list[HtmlElement] = []
        self.images: list[HtmlElement] = []
        self.noscripts: list[HtmlElement] = []
        self.forms: list[HtmlElement] = []
        self.tables: list[HtmlElement] = []
        self.emphasis: list[HtmlElement] = []
        self.furniture: list[HtmlElement] = []
        # What is taken out whole is not looked into: the walk skips to the element that follows it.
        resume: HtmlElement | None = None
        skipping = False
        for element in root.iterdescendants(_ELEMENTS):
            if skipping:
                if element is not resume:
                    continue
                skipping = False
            name = element.tag
            taken: list[HtmlElement] | None = None
            classes = classes_of(element)
            if name in DROPPED:
                taken = self.dropped
            else:
                if classes and is_code_widget(classes):
                    taken = self.code_widgets  # made one <pre>: nothing inside is looked at
                elif (classes or element.get("id") or element.get("style")) and (
                        is_furniture(element, classes) or (name == "a" and is_affiliate_button(element))):
                    taken = self.furniture
            if taken is not None:
                taken.append(element)
                skipping, resume = True, _following(element, root)
                continue
            if boilerplate is not None and boilerplate.matches(element, classes):
                self.boilerplate.append(element)
            if name == "img":
                self.images.append(element)
            elif name in _EMPHASIS:
                self.emphasis.append(element)
            elif name == "pre":
                self.pres.append(element)
            elif name == "noscript":
                self.noscripts.append(element)
            elif name == "form":
                self.forms.append(element)
            elif name == "table":
                self.tables.append(element)
            if name == "a":
                self.anchors.append(element)
                if "footnote-ref" in classes or ((element.get("href") or "").startswith("#") and any(
                        "footnote" in c for c in classes_of(element.getparent()) + classes) and
                        not any(a.tag == "li" for a in element.iterancestors())):
                    self.footnote_refs.append(element)
            elif name == "p":
                self.paragraphs.append(element)
            elif name in ("iframe", "video", "audio"):
                self.frames.append(element)
            elif name == "sup":
                if element.get("data-fn") is not None or any("footnote" in c for c in classes) or "fn" in classes or \
                        any((a.get("href") or "").startswith("#") for a in element.iter("a")):
                    self.footnote_refs.append(element)
            elif name == "blockquote" and not _EMBED_QUOTE_CLASSES.isdisjoint(classes):
                self.embed_quotes.append(element)
            if classes:
                if "wp-block-embed" in classes:
                    self.embed_figures.append(element)
                if not _GALLERY_CLASSES.isdisjoint(classes):
                    self.galleries.append(element)


def _following(element: HtmlElement, root: HtmlElement) -> HtmlElement | None:
    """The element after element and all it holds, in document order (None: the end of root)."""
    while element is not root:
        following = element.getnext()
        while following is not None and not isinstance(following.tag, str):
            following = following.getnext()  # a comment
        if following is not None:
            return following
        parent = element.getparent()
        if parent is None:
            return None
        element = parent
    return None


def _replace(old: HtmlElement, new: HtmlElement) -> None:
    new.tail = old.tail
    old.tail = None
    parent = old.getparent()
    if parent is not None:
        parent.replace(old, new)


def _alive(element: HtmlElement, root: HtmlElement) -> bool:
    """Still in the tree: not taken out, nor inside something taken out or replaced."""
    return within(element, root)


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


def _drop_boilerplate(root: HtmlElement, boilerplate: Boilerplate, survey: _Survey) -> bool:
    # Phrases are matched on the lines of the text and the Markdown afterwards (clean_content).
    dropped = list(survey.boilerplate)
    if boilerplate.selector is not None:
        dropped += [e for e in boilerplate.selector(root) if e is not root]
    for element in dropped:
        remove(element)
    return bool(dropped)


def _embeds(root: HtmlElement, base_url: str, found: list[Embed], survey: _Survey) -> bool:
    """Embeds as links naming their provider; True when the tree changed."""
    before = len(found)
    changed = False
    for figure in survey.embed_figures:
        if not _alive(figure, root) or any("wp-block-embed" in classes_of(a) for a in figure.iterancestors()):
            continue
        url = _embed_url(figure, base_url)
        if not url:
            continue
        named = re.search(r"is-provider-([\w-]+)", figure.get("class") or "")
        provider = provider_of(url) or (named.group(1).replace("-", " ").title() if named else "Embed")
        caption = next(figure.iter("figcaption"), None)
        replacement = _embed_link(provider, url)
        if caption is not None:
            caption.getparent().remove(caption)
            caption.tail = None
            replacement.append(caption)
        _replace(figure, replacement)
        found.append(Embed(provider, url))
    for frame in survey.frames:
        if not _alive(frame, root):
            continue
        url = _media_src(frame, base_url)
        if not url:
            remove(frame)
            changed = True
            continue
        provider = provider_of(url) or {"video": "Video", "audio": "Audio"}.get(frame.tag, "Embed")
        _replace(frame, _embed_link(provider, url))
        found.append(Embed(provider, url))
    for quote in survey.embed_quotes:
        if not _alive(quote, root):
            continue
        links = [a.get("href") for a in quote.iter("a") if a.get("href") is not None]
        url = next((h for h in reversed(links) if "/status/" in h or "/p/" in h), "")
        if url:
            found.append(Embed(provider_of(url) or "Embed", urljoin(base_url, url)))
    for paragraph in survey.paragraphs:
        # A URL alone on its line is how the classic editor embeds; when the oEmbed failed
        # it is all that is left.
        if not _alive(paragraph, root):
            continue
        text = paragraph.text_content().strip()
        if not text.startswith(("http://", "https://")):
            continue
        if len(paragraph) == 0 or _only_link(paragraph, text):
            if re.fullmatch(r"https?://\S+", text) and (provider := provider_of(text)):
                _replace(paragraph, _embed_link(provider, text))
                found.append(Embed(provider, text))
    return changed or len(found) != before


def _only_link(paragraph: HtmlElement, text: str) -> bool:
    children = list(paragraph)
    return len(children) == 1 and children[0].tag == "a" and children[0].get("href") == text and \
        not (paragraph.text or "").strip() and not (children[0].tail or "").strip()


def _embed_url(figure: HtmlElement, base_url: str) -> str:
    frame = next(figure.iter("iframe", "video", "audio"), None)
    if frame is not None and (url := _media_src(frame, base_url)):
        return url
    link = next((a for a in figure.iter("a") if a.get("href") is not None), None)
    if link is not None:
        return urljoin(base_url, link.get("href", ""))
    words = " ".join(figure.itertext()).split()
    return next((word for word in words if word.startswith(("http://", "https://"))), "")


def _media_src(element: HtmlElement, base_url: str) -> str:
    src = element.get("src") or element.get("data-src")
    if not src:
        source = next((s for s in element.iter("source") if s.get("src")), None)
        src = source.get("src") if source is not None else None
    if not src:
        link = next((a for a in element.iter("a") if a.get("href")), None)
        src = link.get("href") if link is not None else None
    return urljoin(base_url, src.strip()) if src else ""


def _embed_link(provider: str, url: str) -> HtmlElement:
    paragraph = lxml.html.Element("p")
    link = lxml.html.Element("a", href=url)
    link.text = f"{provider}: {url}"
    paragraph.append(link)
    return paragraph


def _galleries(root: HtmlElement, survey: _Survey) -> bool:
    """Galleries (classic, block, tiled) as a plain list of images, each with its caption."""
    changed = False
    for gallery in survey.galleries:
        if not _alive(gallery, root) or any(not _GALLERY_CLASSES.isdisjoint(classes_of(a))
                                            for a in gallery.iterancestors()):
            continue
        listing = lxml.html.Element("ul", {"class": "wparchive-gallery"})
        for image in list(gallery.iter("img")):
            item = lxml.html.Element("li")
            holder = next(image.iterancestors("figure", "dl", "li", "div"), None)
            caption = None
            if holder is not None and holder is not gallery:
                caption = next(holder.iter("figcaption", "dd"), None)
                if caption is None:
                    caption = next((e for e in holder.iter(_ELEMENTS) if "gallery-caption" in classes_of(e)), None)
            image.getparent().remove(image)
            image.tail = None
            item.append(image)
            text = text_of(caption) if caption is not None else ""
            if text:
                image.set("data-wparchive-caption", text)
                image.tail = " " + text
            listing.append(item)
        gallery_caption = next((c for c in gallery if c.tag == "figcaption"), None)
        caption_text = text_of(gallery_caption) if gallery_caption is not None else ""
        _replace(gallery, listing)
        changed = True
        if caption_text:
            paragraph = lxml.html.Element("p")
            paragraph.text = caption_text
            paragraph.tail, listing.tail = listing.tail, None
            listing.addnext(paragraph)
    return changed


def _code_blocks(root: HtmlElement, survey: _Survey) -> bool:
    """Code of highlighting plugins as one <pre> each, with its language (see code.py)."""
    for widget in survey.code_widgets:
        plain = plain_code_widget(widget)
        if any(a.tag in ("pre", "code") for a in widget.iterancestors()):
            replace_with_text(widget, plain.text or "")  # a table of lines inside the <pre> itself
        else:
            _replace(widget, plain)
    named = [mark_language(pre) for pre in survey.pres]
    return bool(survey.code_widgets) or any(named)


def _images(root: HtmlElement, survey: _Survey) -> bool:
    """Lazy-loaded images with their real address in src; <noscript> fallbacks that repeat an
    image taken out, others kept as content."""
    changed = False
    shown: set[str] = set()
    for image in survey.images:
        src = (image.get("src") or "").strip()
        if not src or _PLACEHOLDER.search(src):
            real = next((image.get(name).strip() for name in _LAZY_SOURCES if (image.get(name) or "").strip()), "")
            if not real:
                real = next((_largest(image.get(name) or "") for name in _LAZY_SRCSETS if image.get(name)), "")
            if real and real != src:
                image.set("src", real)
                src = real
                changed = True
        if not any(a.tag == "noscript" for a in image.iterancestors()):
            shown.add(src)
        if image.tail and image.tail[:1].isalnum():
            image.tail = " " + image.tail  # an image glued to the next word
            changed = True
    for noscript in survey.noscripts:
        if not _alive(noscript, root):
            continue
        images = [i.get("src") for i in noscript.iter("img")]
        if images and all(src in shown for src in images) and not text_of(noscript):
            remove(noscript)  # the fallback of a lazy image shown already
        else:
            noscript.drop_tag()
        changed = True
    return changed


def _largest(srcset: str) -> str:
    """The widest candidate of a srcset ("a.jpg 300w, b.jpg 1024w"), or its first."""
    best, width = "", -1
    for candidate in srcset.split(","):
        parts = candidate.split()
        if not parts or parts[0].startswith("data:"):
            continue
        size = int(parts[1][:-1]) if len(parts) > 1 and parts[1][:-1].isdigit() else 0
        if size > width:
            best, width = parts[0], size
    return best


def _forms(root: HtmlElement, survey: _Survey) -> bool:
    """Forms of plugins dropped; a form that wraps an article (some themes and page builders do)
    kept as the content it holds, without its controls."""
    for form in survey.forms:
        if not _alive(form, root):
            continue
        marks = " ".join(filter(None, (form.get("class"), form.get("id"), form.get("action"), form.get("name"))))
        labels = sum(len(text_of(label)) for label in form.iter("label", "legend"))
        if not _FORM_PLUGINS.search(marks) and len(text_of(form)) - labels >= _ARTICLE_IN_FORM:
            form.drop_tag()
        else:
            remove(form)
    return bool(survey.forms)


def _tables(root: HtmlElement, survey: _Survey) -> bool:
    """Tables as GitHub-style Markdown can hold them (render.py writes them between pipes, the first
    row the header, as that Markdown has no table without one), and no word of theirs lost:
    - a cell's content runs together on its one line: paragraphs, headings and line breaks become
      spaces, a list's items follow a bullet ("• ", or their number in an ordered list), and a table
      inside a cell keeps its rows after bullets and its cells apart by "; ";
    - a caption becomes a paragraph before its table, a footer row comes after the body;
    - the columns that a cell spans (colspan, rowspan) are empty cells, and every row has as many
      cells as the widest, since readers drop the cells of a row past the header's;
    - a table of one column (a layout, not data) gives way to its content."""
    changed = False
    for table in survey.tables:
        ancestors = list(table.iterancestors())
        if not any(a is root for a in ancestors) or any(a.tag in ("td", "th", "pre") for a in ancestors):
            continue  # taken out; or inside a cell, where it runs together with the cell's other content
        for emphasis in (a for a in ancestors if a.tag in _EMPHASIS):
            emphasis.drop_tag()  # its marks would stand apart from its text, one before the table, one after
            changed = True
        rows = [row for row in table.iter("tr") if next(row.iterancestors("table")) is table]
        cells_of = [[c for c in row if c.tag in ("td", "th")] for row in rows]
        if all(len(cells) <= 1 for cells in cells_of):
            parts = [e for e in table.iterdescendants("tbody", "thead", "tfoot", "tr", "td", "th", "caption")
                     if next(e.iterancestors("table")) is table]
            for element in [table, *parts]:
                _as_block(element)
            changed = True
            continue
        for caption in [e for e in table.iter("caption") if next(e.iterancestors("table")) is table]:
            caption.tag, caption.tail = "p", None
            table.addprevious(caption)
            changed = True
        for footer in [e for e in table if e.tag == "tfoot" and e.getnext() is not None]:
            table.append(footer)
            changed = True
        for row in (row for row, cells in zip(rows, cells_of, strict=True) if not cells):
            row.drop_tag()  # no cells: shown as nothing, and as a row it would end the header
            changed = True
        rows, cells_of = [row for row in rows if row.getparent() is not None], [cells for cells in cells_of if cells]
        for cell in (cell for cells in cells_of for cell in cells):
            changed = _run_together(cell) or changed
        changed = _fill_columns(rows, cells_of) or changed
    return changed


def _run_together(cell: HtmlElement) -> bool:
    """A cell's blocks (and a table inside it) on the cell's one line; True when there were any."""
    inner = [e for e in cell.iterdescendants(_ELEMENTS) if e.tag in _CELL_BLOCKS or e.tag == "br"]
    numbers: dict[HtmlElement, int] = {}  # an ordered list: the number of its next item
    for element in inner:  # marked while the lists and rows are whole, to number items and tell cells apart
        name = element.tag
        element.tail = ("; " if name in ("td", "th") and element.getnext() is not None else " ") + (element.tail or "")
        if name in ("br", "hr"):
            continue
        mark = ""
        if name == "tr" or name == "li":
            parent = element.getparent()
            if name == "li" and parent is not None and parent.tag == "ol":
                number = numbers.get(parent, _list_start(parent))
                numbers[parent] = number + 1
                mark = f"{number}. "
            else:
                mark = "• "
        element.text = f" {mark}" + (element.text or "")
    for element in reversed(inner):
        if element.tag in ("br", "hr"):
            element.drop_tree()
        else:
            element.drop_tag()
    cell.text = (cell.text or "").lstrip() or None
    return bool(inner)


def _list_start(ordered: HtmlElement) -> int:
    """The number of an ordered list's first item."""
    start = re.match(r"\s*(-?[0-9]{1,9})", ordered.get("start") or "")
    return int(start.group(1)) if start else 1


def _fill_columns(rows: list[HtmlElement], cells_of: list[list[HtmlElement]]) -> bool:
    """The columns spanned by a cell filled with empty cells, and every row as wide as the widest,
    as the browser lays the table out; True when a cell was added. A rowspan reaches no further
    than its row group (thead, tbody, tfoot), and no row gets wider than its widest row's cells or
    _MAX_SPANNED_COLUMNS: past that, spans are not followed (every cell stays, out of line)."""
    widths = [len(cells) for cells in cells_of]
    if not any(cell.get("colspan") or cell.get("rowspan") for cells in cells_of for cell in cells):
        return _widen(rows, widths, max(widths, default=0))  # most tables: no spans to follow
    below = [0] * len(rows)  # rows after each in its group
    for index in range(len(rows) - 2, -1, -1):
        if rows[index].getparent() is rows[index + 1].getparent():
            below[index] = below[index + 1] + 1
    most = max(_MAX_SPANNED_COLUMNS, *widths)
    added = False
    covered: dict[int, int] = {}  # column: how many rows below this one a rowspan covers it in
    width = 0
    for cells, rows_below in zip(cells_of, below, strict=True):
        spanned, covered = covered, {c: n - 1 for c, n in covered.items() if n > 1}  # this row's; the next's
        spare = most - len(cells)  # the empty cells this row can take
        column = 0
        for cell in cells:
            while column in spanned and spare:
                cell.addprevious(lxml.html.Element(cell.tag))
                column, spare, added = column + 1, spare - 1, True
            columns = min(_span(cell.get("colspan")), spare + 1)
            rowspan = min(_span(cell.get("rowspan"), zero=rows_below + 1) - 1, rows_below)
            for _ in range(columns - 1):
                cell.addnext(lxml.html.Element(cell.tag))
            spare, added = spare - (columns - 1), added or columns > 1
            if rowspan > 0:
                covered.update(dict.fromkeys(range(column, column + columns), rowspan))
            column += columns
        width = max(width, min(most, max(column, max(spanned, default=-1) + 1)))  # with columns spanned from above
    return _widen(rows, [len([c for c in row if c.tag in ("td", "th")]) for row in rows], width) or added


def _widen(rows: list[HtmlElement], widths: list[int], width: int) -> bool:
    """Rows of fewer cells than width given empty cells at their end; True when any was."""
    for row, cells in zip(rows, widths, strict=True):
        for _ in range(width - cells):
            row.append(lxml.html.Element("td"))
    return any(cells < width for cells in widths)


def _span(value: str | None, zero: int = 1) -> int:
    """A colspan or rowspan as browsers read it (leading digits; rowspan="0" runs to the group's end)."""
    digits = re.match(r"\s*([0-9]{1,5})", value or "")
    number = int(digits.group(1)) if digits else 1
    return zero if number == 0 else number


def _as_block(element: HtmlElement) -> None:
    """An element of a layout table replaced by a <div> (a block) holding what it held."""
    element.tag = "div"
    for name in list(element.attrib):
        del element.attrib[name]


def _emphasis(root: HtmlElement, survey: _Survey) -> bool:
    """Bold, italics and the like that hold no text taken out (their content kept), and two of a
    kind that touch made one: either way Markdown would show "****"."""
    changed = False
    for element in reversed(survey.emphasis):
        if not _alive(element, root):
            continue
        if not element.text_content().strip() and next(element.iter("img", "br", "a"), None) is None:
            element.drop_tag()  # its spaces stay
            changed = True
            continue
        following = element.getnext()
        while following is not None and following.tag == element.tag and not (element.tail or "").strip():
            _append_text(element, (element.tail or "") + (following.text or ""))  # the space between them inside
            for child in list(following):
                element.append(child)
            element.tail, following.tail = following.tail, None
            following.drop_tree()
            following = element.getnext()
            changed = True
    return changed


def _append_text(element: HtmlElement, text: str) -> None:
    """text added at the end of what element holds."""
    if not text:
        return
    if len(element):
        element[-1].tail = (element[-1].tail or "") + text
    else:
        element.text = (element.text or "") + text


def _strip_shortcodes(root: HtmlElement) -> tuple[list[str], bool]:
    """Take leftover shortcodes out of the text (not out of code); their names in order, and
    whether anything was taken."""
    # (element, "text" or "tail") for every string holding something like a shortcode.
    places: list[tuple[HtmlElement, str]] = []
    for element in root.iter(_ELEMENTS):
        if element.text and "[" in element.text and SHORTCODE.search(element.text) and not _in_code(element):
            places.append((element, "text"))
        if element is not root and element.tail and "[" in element.tail and SHORTCODE.search(element.tail) \
                and not _in_code(element.getparent()):
            places.append((element, "tail"))
    # A name that is closed somewhere ([/foo]) is a shortcode wherever it opens.
    pairs = {m.group(2).lower() for element, where in places
             for m in SHORTCODE.finditer(getattr(element, where)) if m.group(1)}
    names: list[str] = []

    def drop(match: re.Match[str]) -> str:
        closing, name, attributes = match.group(1), match.group(2), match.group(3)
        lowered = name.lower()
        if closing or attributes.strip() or lowered in KNOWN_SHORTCODES or lowered in pairs:
            if not closing:
                names.append(lowered)
            return ""
        return match.group(0)  # [sic], [1]: ordinary bracketed text

    stripped = False
    for element, where in places:
        text = getattr(element, where)
        cleaned = SHORTCODE.sub(drop, text)
        if cleaned != text:
            setattr(element, where, cleaned)
            stripped = True
    return names, stripped


def _in_code(element: HtmlElement | None) -> bool:
    while element is not None:
        if element.tag in ("pre", "code"):
            return True
        element = element.getparent()
    return False
