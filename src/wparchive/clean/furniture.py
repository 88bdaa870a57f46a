"""What themes and plugins put inside the content that the author did not write: share buttons,
related posts, ratings, tables of contents, recipe buttons, ads, product boxes, newsletter calls,
post meta. Told by structure, not by site: the class and id names plugins give their blocks, what
readers never see (display:none), and blocks of links under a "Related" label or a call to
subscribe at the end. config/boilerplate.toml adds a site's own rules.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from .render import has_ancestor, remove, text_of, within

# Words of class and id names (split at "-", "_" and the like) that only plugin furniture uses.
# Those of LINK_WORDS name blocks of links or buttons: a block so named without one (a theme's
# "media related" to the post: its own picture) is the author's.
LINK_WORDS = frozenset({
    # share and social bookmarking buttons
    "share", "sharing", "sharedaddy", "shariff", "addtoany", "a2a", "heateor", "essb", "sbmk", "shareaholic",
    "sharethis", "bookmarking", "sociallocker", "tweetbutton",
    "jiathis", "bdsharebuttonbox",  # the share services of Chinese sites: JiaThis, Baidu Share
    # related posts
    "related", "relatedposts", "rp4wp", "yarpp", "crp", "cprp",
    # tables of contents
    "toc", "lwptoc",
    # the post's tags, as themes list them after its text (JNews: jeg_post_tags)
    "tags",
})
FURNITURE_WORDS = LINK_WORDS | frozenset({
    # ratings and "was this helpful"
    "ratings", "postratings", "yasr", "kksr", "helpful",
    # ads, sponsors, affiliate and product boxes
    "ad", "ads", "adspot", "advert", "advertisement", "adsense", "adsbygoogle", "sponsor", "sponsored",
    "amazlet", "aawp", "affiliate", "wpcnt", "wpa", "wordads",  # WordAds: "Advertisements", "About these ads"
    # newsletter and subscription calls
    "newsletter", "subscribe", "subscription", "mc4wp", "optin", "signup",
})
# Whole class names whose words are too common to go by alone.
FURNITURE_CLASSES = frozenset({
    "code-block",  # Ad Inserter's blocks: code-block code-block-3
    "post-meta", "entry-meta", "tags-links", "cat-links", "hatom-extra", "post-views", "reading-time",
    "post-navigation", "nav-links", "about-author", "author-box", "wp-about-author-containter-top",
    "wp-about-author-containter-bottom", "social-links", "social-icons", "social-buttons", "social-share",
    "wprm-recipe-jump", "wprm-recipe-print", "wprm-recipe-pin", "wprm-call-to-action", "wprm-recipe-snippet",
    "wpzoom-recipe-card-buttons", "recipe-jump-button", "jump-to-recipe", "print-recipe", "next_title",
    "entry-title", "td-module-title",  # titles of other posts: teasers (the post's own title is outside content)
    "postmetadata", "entry-utility", "entry-footer", "post-footer",  # "This entry was posted in …"
    "more-link",  # WordPress's "Read more…" where an archive page cut the post at its more tag
})
# Classes that say a block is the author's, whatever else its names say (a post *about* sharing).
_AUTHORS = re.compile(r"^(?:wp-block-(?:paragraph|heading|list|quote|image|table|code|preformatted)|wp-caption)$")
_NAME_WORDS = re.compile(r"[^a-z0-9]+")
# Hidden from readers, or put off-screen (link blocks kept for search engines)
_HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|(?:left|text-indent)\s*:\s*-\d{4,}px", re.I)

# Labels of blocks of links to other posts of the site, in the languages of the sites archived.
_RELATED_WORDS = (
    r"(?:related(?: posts| articles| stories)?|also read|read also|you (?:may|might) also like|more from .{1,40}"
    r"|lesen sie auch|lies auch|das (?:thema )?könnte (?:dich|sie) auch interessieren|ähnliche beiträge|weitere artikel"
    r"|mehr zum thema|関連記事|あわせて読みたい|こちらもおすすめ|leggi anche|potrebbe interessarti|ti potrebbe interessare"
    r"|à lire aussi|lire aussi|vous aimerez aussi|también te puede interesar|te puede interesar|lee también"
    r"|leia também|читайте также|похожие записи|相关文章|相关阅读|관련 기사|اقرأ أيضا|קרא גם|baca juga)")
RELATED_LABELS = re.compile(rf"^[\W_]*{_RELATED_WORDS}[\W_]*$", re.I)
# The start of a label, to find the few elements worth a closer look.
_RELATED_START = re.compile(rf"^[\W_]*{_RELATED_WORDS}", re.I)
# A call to subscribe, follow, donate or read elsewhere, as sites end their posts with.
CALLS = re.compile(
    r"\b(?:sign up|subscribe|newsletter|e-?paper|follow (?:us|me)|folge (?:uns|mir)|abonnier|donate|faire un don"
    r"|apoya|support (?:us|our journalism)|spende|iscriviti|suscríbete|stay up to date)\b|\bnecesita del apoyo\b"
    r"|\ball rights reserved\b"
    # a Chinese site's reprint notice: "如若转载，请注明出处", "未经允许不得转载", "版权所有" (no \b between
    # CJK characters, which are all word characters)
    r"|(?:转载|轉載)[，,、\s]*(?:请|請)?(?:注明|註明|保留)|(?:不得|禁止|谢绝|謝絕)(?:转载|轉載)|版权所有|版權所有"
    # an app's signature: "Posted with the WordPress app", "Eingetragen mit der … App"
    r"|\b(?:posted|sent|eingetragen|gesendet) (?:with|from|using|mit|von) (?:the |der |dem |my )?[\w .-]{1,40}? app\b",
    re.I)
# Addresses of share buttons: a post's address handed to a network (or to the reader's mail).
SHARE_LINK = re.compile(
    r"^(?:https?://(?:www\.|m\.|api\.)?(?:facebook\.com/shar|twitter\.com/(?:intent|share)|x\.com/intent"
    r"|linkedin\.com/(?:share|cws/share)|pinterest\.[a-z.]+/pin/create|plus\.google\.com/share|reddit\.com/submit"
    r"|t\.me/share|telegram\.me/share|getpocket\.com/(?:save|edit)|xing\.com/(?:spi/shares|social/share)"
    r"|tumblr\.com/(?:share|widgets/share)|addtoany\.com/(?:add_to|share)|wa\.me/\?|api\.whatsapp\.com/send"
    r"|web\.whatsapp\.com/send|buffer\.com/add|mix\.com/add|flipboard\.com/bookmarklet|vk\.com/share"
    r"|b\.hatena\.ne\.jp/(?:add|entry)|line\.me/R/msg|social-plugins\.line\.me|jiathis\.com/(?:share|send)"
    r"|service\.weibo\.com/share|sns\.qzone\.qq\.com/cgi-bin/qzshare)|whatsapp://send|mailto:\?)",
    re.I)
# What is left of a tweet or post embedded when its script was rewritten away: a link to the script.
WIDGET_SCRIPT = re.compile(r"^(?:https?:)?//(?:platform\.twitter\.com/widgets\.js|www\.instagram\.com/embed\.js"
                           r"|connect\.facebook\.net/|platform\.linkedin\.com/in\.js)", re.I)
SHARE_LABEL_CHARS = 60  # a block of share links may have a label ("Share this:") and no more
# Words one of the calls holds: looked for first, as plain substrings, which costs far less than CALLS.
_CALL_WORDS = ("sign up", "subscri", "newsletter", "epaper", "e-paper", "follow us", "follow me", "folge uns",
               "folge mir", "abonnier", "donate", "un don", "apoy", "support us", "support our", "spende",
               "iscriviti", "suscr", "up to date", "rights reserved", "posted with", "posted from", "sent from",
               "sent with", "eingetragen mit", "gesendet von", "gesendet mit", "转载", "轉載", "版权所有", "版權所有")
CALL_CHARS = 300  # a longer paragraph is the author's, whatever it asks of the reader
CALL_BLOCKS = 3  # calls are looked for among the last blocks of the content only,
CALL_WINDOW = 4 * CALL_CHARS * CALL_BLOCKS  # and in the last characters of its text


def is_furniture(element: HtmlElement, classes: list[str]) -> bool:
    """Whether an element is furniture by its names, or hidden from readers."""
    style = element.get("style")
    if style and _HIDDEN.search(style) and element.tag not in ("img", "figure"):
        return True
    verdict = _names_verdict(element.get("class") or "", element.get("id") or "")
    if verdict == _LINKS:
        return _has_links(element) or _is_label_only(element)
    return verdict == _YES


_YES, _LINKS = "furniture", "furniture if it holds links"


@functools.lru_cache(maxsize=4096)
def _names_verdict(class_value: str, ident: str) -> str | None:
    """What class and id names say of an element (the same names recur on every page of a theme)."""
    classes = class_value.split()
    if any(_AUTHORS.match(name) for name in classes):
        return None
    for name in [name.lower() for name in classes] + ([ident.lower()] if ident else []):
        if name in FURNITURE_CLASSES or name.split("__", 1)[0] in FURNITURE_CLASSES:  # BEM: block__element
            return _YES
        found = {name, *_NAME_WORDS.split(name)} & FURNITURE_WORDS
        if found:
            return _LINKS if found <= LINK_WORDS else _YES
    return None


def is_affiliate_button(link: HtmlElement) -> bool:
    """A link styled as a button that search engines are told not to follow: a shop's or a deal's
    call to buy ("Zum Deal »", "Check price"), not a link the author put in a sentence."""
    words = set(_NAME_WORDS.split((link.get("class") or "").lower()))
    rel = set((link.get("rel") or "").lower().split())
    return bool(words & {"btn", "button"}) and bool(rel & {"nofollow", "sponsored"})


def _has_links(element: HtmlElement) -> bool:
    return element.tag in ("a", "button") or next(element.iter("a", "button"), None) is not None


def _is_label_only(element: HtmlElement) -> bool:
    """A heading or label of such a block ("Related Posts"): short text, no picture."""
    return next(element.iter("img", "figure", "video", "iframe"), None) is None and len(text_of(element)) <= 60


def drop_related_links(root: HtmlElement, site_hosts: frozenset[str]) -> bool:
    """A "Related" label and the block of links to the site's posts that it heads (or that follows
    it in the same paragraph) taken out. An author's own list of further reading mostly leads
    elsewhere, and has no such label: it stays."""
    changed = False
    # A label is told by its own first words, which costs nothing to look at; only then its whole text.
    candidates = [e for e in root.iter(_LABEL_TAGS) if e.text and len(e.text) <= 80 and _RELATED_START.search(e.text)]
    for label in candidates:
        if not has_ancestor(label, root) or not _is_label(label):
            continue
        holder = label if label.tag in ("p", "h2", "h3", "h4", "h5", "h6", "div") else _block_of(label)
        if holder is None:
            continue
        if _mostly_site_links(holder, site_hosts, without=label):
            remove(holder)
            changed = True
            continue
        following = holder.getnext()
        if following is not None and _mostly_site_links(following, site_hosts):
            remove(following)
            remove(holder)
            changed = True
    return changed


def drop_share_links(root: HtmlElement) -> bool:
    """Share buttons told by where they lead (a network's share address), with the block that
    holds nothing else but a short label."""
    changed = False
    for link in list(root.iter("a")):
        href = (link.get("href") or "").strip()
        if link.getparent() is not None and WIDGET_SCRIPT.match(href):
            remove(link)
            changed = True
            continue
        if link.getparent() is None or not SHARE_LINK.match(href):
            continue
        block = link
        for ancestor in link.iterancestors():
            if ancestor is root:
                break
            links = list(ancestor.iter("a"))
            shares = [a for a in links if SHARE_LINK.match((a.get("href") or "").strip())]
            outside = len(text_of(ancestor)) - sum(len(text_of(a)) for a in links)
            if len(shares) < len(links) or outside > SHARE_LABEL_CHARS:
                break
            block = ancestor
        remove(block)
        changed = True
    return changed


def drop_closing_calls(root: HtmlElement) -> bool:
    """Short paragraphs among the last blocks that call on the reader to subscribe, follow or
    donate (the site's, not the author's: a longer paragraph stays)."""
    whole_text = root.text_content()
    window = whole_text[-CALL_WINDOW:]
    lowered = window.lower()
    if not any(word in lowered for word in _CALL_WORDS) or not CALLS.search(window):
        return False  # most posts: no call at their end, and no need to look closer
    blocks = [child for child in root if isinstance(child.tag, str)][-CALL_BLOCKS:]
    whole = len(" ".join(whole_text.split()))
    removed: list[HtmlElement] = []
    for block in blocks:
        for paragraph in list(block.iter("p", "div", "h1", "h2", "h3", "h4", "h5", "h6")):
            if any(within(paragraph, gone) for gone in removed):
                continue
            text = text_of(paragraph)
            # the biggest block that is the call alone, never the most of the post
            if text and len(text) <= CALL_CHARS and len(text) * 2 < whole and \
                    any(word in text.lower() for word in _CALL_WORDS) and CALLS.search(text):
                remove(paragraph)
                removed.append(paragraph)
    return bool(removed)


_LABEL_TAGS = ("p", "h2", "h3", "h4", "h5", "h6", "div", "strong", "b", "span")


def _is_label(element: HtmlElement) -> bool:
    text = (element.text or "").strip() if element.tag in ("strong", "b", "span") and len(element) else text_of(element)
    return bool(text) and len(text) <= 60 and RELATED_LABELS.match(text) is not None


def _block_of(element: HtmlElement) -> HtmlElement | None:
    return next(element.iterancestors("p", "div", "h2", "h3", "h4", "h5", "h6", "li"), None)


def _mostly_site_links(block: HtmlElement, site_hosts: frozenset[str], without: HtmlElement | None = None) -> bool:
    """Whether a block is links to the site's own pages, with little text beside them."""
    links = [a for a in block.iter("a") if a.get("href") and (without is None or not within(a, without))]
    if not links:
        return False
    own = [a for a in links if _is_own(a.get("href", ""), site_hosts)]
    text = len(text_of(block)) - (len(text_of(without)) if without is not None and within(without, block) else 0)
    linked = sum(len(text_of(a)) for a in links)
    return len(own) * 2 >= len(links) and linked >= 0.5 * max(text, 1)


def _is_own(href: str, site_hosts: frozenset[str]) -> bool:
    host = (urlsplit(href).hostname or "").lower()
    return not host or host in site_hosts or host.removeprefix("www.") in site_hosts

