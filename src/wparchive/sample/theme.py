"""What a WordPress site shows besides its REST API: theme pages, the RSS feed, core sitemaps.

Shaped after WordPress's own output (Twenty-Twenty-something themes, feed-rss2.php,
wp-sitemap.xml), with the furniture real pages carry: navigation, sharing buttons, related
posts, a comment form.
"""

from __future__ import annotations

import html
from datetime import datetime
from email.utils import format_datetime
from datetime import timezone

from .site import Item, Site, autop

FEED_PAGE_SIZE = 10  # WordPress's default posts_per_rss


def page_html(site: Site, item: Item, home: str, api_root: str | None) -> str:
    """A single post or page as a classic theme renders it."""
    kind = "single single-post" if item.type == "post" else "page-template-default page"
    body_class = f"{kind} postid-{item.id}" if item.type == "post" else f"{kind} page-id-{item.id}"
    author = next((u for u in site.users if u.id == item.author), None)
    terms = {t.id: t for t in site.terms}
    categories = [terms[i] for i in item.terms.get("category", []) if i in terms]
    tags = [terms[i] for i in item.terms.get("post_tag", []) if i in terms]
    comments = [c for c in site.comments if c.post == item.id and c.status == "approved"]
    local = site.local(item.date_gmt)
    offset = _offset(site)
    head = [f"<title>{item.title} &#8211; {html.escape(site.name)}</title>",
            f'<meta property="og:title" content="{html.escape(item.title)}" />',
            f'<meta property="og:site_name" content="{html.escape(site.name)}" />',
            f'<meta property="article:published_time" content="{local}{offset}" />',
            f'<meta property="article:modified_time" content="{site.local(item.modified_gmt)}{offset}" />',
            f'<link rel="shortlink" href="{home}/?p={item.id}" />',
            f'<link rel="alternate" type="application/rss+xml" title="{html.escape(site.name)} &raquo; Feed" '
            f'href="{home}/feed/" />']
    if author is not None:
        head.append(f'<meta name="author" content="{html.escape(author.name)}" />')
    if api_root:
        head.append(f'<link rel="https://api.w.org/" href="{api_root}" />')
    meta = f'<time class="entry-date published" datetime="{local}{offset}">{local[:10]}</time>'
    if author is not None:
        meta += f' by <span class="author vcard"><a class="url fn n" href="{home}/author/{author.slug}/" rel="author">{html.escape(author.name)}</a></span>'
    links = ", ".join(f'<a href="{home}/category/{c.slug}/" rel="category tag">{c.name}</a>' for c in categories)
    tag_links = "".join(f'<a href="{home}/tag/{t.slug}/" rel="tag">{t.name}</a>' for t in tags)
    content = "" if item.password else autop(item.content)
    sharing = ('<div class="sharedaddy sd-sharing-enabled"><h3 class="sd-title">Share this:</h3><ul>'
               '<li><a class="share-twitter" href="?share=twitter">Twitter</a></li></ul></div>'
               '<div id="jp-relatedposts" class="jp-relatedposts"><h3 class="jp-relatedposts-headline">Related</h3></div>')
    comment_list = "".join(
        f'<li id="comment-{c.id}" class="comment"><article class="comment-body"><footer class="comment-meta">'
        f'<b class="fn">{html.escape(c.author_name)}</b> says:</footer><div class="comment-content">{autop(c.content)}'
        f'</div></article></li>' for c in comments)
    comments_area = (f'<div id="comments" class="comments-area"><h2 class="comments-title">{len(comments)} thoughts</h2>'
                     f'<ol class="comment-list">{comment_list}</ol>'
                     '<div id="respond" class="comment-respond"><h3 id="reply-title" class="comment-reply-title">'
                     'Leave a Reply</h3><form action="/wp-comments-post.php" method="post" id="commentform">'
                     '<p class="comment-notes">Your email address will not be published.</p>'
                     '<label for="comment">Comment</label><textarea id="comment" name="comment"></textarea>'
                     '<input name="submit" type="submit" value="Post Comment" /></form></div></div>')
    return (f'<!DOCTYPE html><html lang="en-GB"><head><meta charset="UTF-8" />{"".join(head)}</head>'
            f'<body class="{body_class}"><div id="page" class="site"><header id="masthead" class="site-header">'
            f'<p class="site-title"><a href="{home}/" rel="home">{html.escape(site.name)}</a></p>'
            f'<nav id="site-navigation" class="main-navigation"><ul><li><a href="{home}/about/">About</a></li></ul></nav>'
            f'</header><main id="main" class="site-main"><article id="post-{item.id}" class="post-{item.id} {item.type} '
            f'type-{item.type} status-publish hentry"><header class="entry-header"><h1 class="entry-title">'
            f'{item.title}</h1><div class="entry-meta">{meta}</div></header><div class="entry-content">{content}'
            f'{sharing}</div><footer class="entry-footer"><span class="cat-links">{links}</span>'
            f'<span class="tags-links">{tag_links}</span></footer></article>{comments_area}</main>'
            f'<aside id="secondary" class="widget-area"><section class="widget widget_search"><form role="search">'
            f'<input type="search" name="s" /></form></section></aside><footer id="colophon" class="site-footer">'
            f'Proudly powered by WordPress</footer></div></body></html>')


def feed_rss2(site: Site, home: str, page: int, full_text: bool = True) -> str | None:
    """One page of the RSS 2.0 feed (newest first), or None past the last page (WordPress: 404)."""
    posts = sorted(site.public_items("post"), key=lambda i: (i.date_gmt, i.id), reverse=True)
    window = posts[(page - 1) * FEED_PAGE_SIZE: page * FEED_PAGE_SIZE]
    if page > 1 and not window:
        return None
    terms = {t.id: t for t in site.terms}
    users = {u.id: u for u in site.users}
    items = []
    for item in window:
        categories = [terms[i].name for key in ("category", "post_tag") for i in item.terms.get(key, []) if i in terms]
        author = users.get(item.author)
        pub = format_datetime(datetime.fromisoformat(item.date_gmt).replace(tzinfo=timezone.utc), usegmt=True)
        content = "" if item.password else autop(item.content)
        excerpt = html.escape(item.excerpt or html.unescape(_strip(content))[:200])
        parts = [f"<title>{html.escape(html.unescape(item.title))}</title>",
                 f"<link>{site.permalink(item, home)}</link>",
                 f'<guid isPermaLink="false">{home}/?p={item.id}</guid>', f"<pubDate>{pub}</pubDate>",
                 f"<dc:creator><![CDATA[{author.name if author else ''}]]></dc:creator>",
                 *(f"<category><![CDATA[{name}]]></category>" for name in categories),
                 f"<description><![CDATA[{excerpt}]]></description>"]
        if full_text:
            parts.append(f"<content:encoded><![CDATA[{content}]]></content:encoded>")
        items.append("<item>" + "".join(parts) + "</item>")
    return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
            f"<title>{html.escape(site.name)}</title><link>{home}</link>"
            f"<description>{html.escape(html.unescape(site.description))}</description>"
            f"<language>en-GB</language>{''.join(items)}</channel></rss>")


def sitemap(site: Site, home: str, name: str) -> str | None:
    """wp-sitemap.xml (the index) or one of its sitemaps (wp-sitemap-posts-post-1.xml …), or None."""
    if name == "wp-sitemap.xml":
        maps = [f"{home}/wp-sitemap-posts-{kind}-1.xml" for kind in ("post", "page") if site.public_items(kind)]
        body = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in maps)
        return ('<?xml version="1.0" encoding="UTF-8"?><sitemapindex '
                f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</sitemapindex>')
    for kind in ("post", "page"):
        if name == f"wp-sitemap-posts-{kind}-1.xml":
            urls = "".join(f"<url><loc>{site.permalink(i, home)}</loc><lastmod>{i.modified_gmt}+00:00</lastmod></url>"
                           for i in site.public_items(kind))
            return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    return None


def _offset(site: Site) -> str:
    hours = float(site.gmt_offset)
    sign = "+" if hours >= 0 else "-"
    minutes = int(abs(hours) * 60)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _strip(text: str) -> str:
    import re

    return re.sub(r"<[^>]+>", " ", text)
