"""Markup that plugins and themes put into content, shaped as they write it: code highlighters,
lazy images, forms round articles, tables; and the Markdown defects they used to cause."""

from __future__ import annotations

import re

import lxml.html
import pytest

from wparchive.clean import clean_content
from wparchive.web import render_markdown

BASE = "https://example.org/2024/01/post/"

# SyntaxHighlighter Evolved as the server writes it, and as its script leaves a saved page.
SH_SERVER = '<pre class="brush: python; title: ; notranslate" title="">def f():\n    return "```"\n</pre>'
SH_RENDERED = (
    '<div id="highlighter_1" class="syntaxhighlighter  python"><table border="0" cellpadding="0" cellspacing="0">'
    '<tbody><tr><td class="gutter"><div class="line number1 index0 alt2">1</div>'
    '<div class="line number2 index1 alt1">2</div></td><td class="code"><div class="container">'
    '<div class="line number1 index0 alt2"><code class="python keyword">def</code> '
    '<code class="python plain">f():</code></div><div class="line number2 index1 alt1">'
    '<code class="python spaces">&nbsp;&nbsp;&nbsp;&nbsp;</code><code class="python keyword">return</code> '
    '<code class="python plain">1</code></div></div></td></tr></tbody></table></div>')
WP_SYNTAX = (
    '<div class="wp_syntax" style="position:relative;"><table><tr><td class="line_numbers"><pre>1\n2\n</pre></td>'
    '<td class="code"><pre class="php" style="font-family:monospace;"><span style="color: #000000; font-weight: '
    'bold;">&lt;?php</span>\n<span style="color: #b1b100;">echo</span> <span style="color: #cc66cc;">1</span>;'
    '</pre></td></tr></table></div>')
CRAYON = (
    '<div id="crayon-5" class="crayon-syntax crayon-theme-classic crayon-font-monaco crayon-os-pc print-yes" '
    'data-settings=" minimize scroll-mouseover"><div class="crayon-toolbar"><span class="crayon-title"></span>'
    '<div class="crayon-tools"><span class="crayon-language">Python</span></div></div><div class="crayon-plain-wrap">'
    '<textarea wrap="soft" class="crayon-plain print-no" readonly>import os\nprint(os.sep)</textarea></div>'
    '<div class="crayon-main"><table class="crayon-table"><tr class="crayon-row"><td class="crayon-nums " '
    'data-settings="show"><div class="crayon-nums-content"><div class="crayon-num">1</div><div class="crayon-num">2'
    '</div></div></td><td class="crayon-code"><div class="crayon-pre"><div class="crayon-line" id="crayon-5-1">'
    '<span class="crayon-e">import </span><span class="crayon-v">os</span></div><div class="crayon-line">'
    '<span class="crayon-e">print</span>(os.sep)</div></div></td></tr></table></div></div>')
PRISM = '<pre class="wp-block-code"><code class="language-javascript">const a = 1;\nconsole.log(a);</code></pre>'
HLJS_LINES = (
    '<pre><code class="hljs bash"><table class="hljs-ln"><tbody><tr><td class="hljs-ln-line hljs-ln-numbers" '
    'data-line-number="1"><div class="hljs-ln-n" data-line-number="1"></div></td><td class="hljs-ln-line '
    'hljs-ln-code" data-line-number="1">ls -la</td></tr><tr><td class="hljs-ln-line hljs-ln-numbers" '
    'data-line-number="2"><div class="hljs-ln-n" data-line-number="2"></div></td><td class="hljs-ln-line '
    'hljs-ln-code" data-line-number="2">cd /tmp</td></tr></tbody></table></code></pre>')
ENLIGHTER = '<pre class="EnlighterJSRAW" data-enlighter-language="ruby">puts 1</pre>'


@pytest.mark.parametrize("html, language, code", [
    (SH_SERVER, "python", 'def f():\n    return "```"'),
    (SH_RENDERED, "python", "def f():\n    return 1"),
    (WP_SYNTAX, "php", "<?php\necho 1;"),
    (CRAYON, "python", "import os\nprint(os.sep)"),
    (PRISM, "javascript", "const a = 1;\nconsole.log(a);"),
    (HLJS_LINES, "bash", "ls -la\ncd /tmp"),
    (ENLIGHTER, "ruby", "puts 1"),
], ids=["syntaxhighlighter", "syntaxhighlighter-rendered", "wp-syntax", "crayon", "prism", "hljs-line-numbers",
        "enlighter"])
def test_highlighted_code_is_one_fenced_block_with_its_language(html: str, language: str, code: str) -> None:
    cleaned = clean_content("<p>Before.</p>" + html + "<p>After.</p>", BASE)
    fence = re.search(r"^(`{3,})" + re.escape(language) + r"\n(.*?)\n\1$", cleaned.markdown, re.S | re.M)
    assert fence is not None, cleaned.markdown
    assert fence.group(2) == code  # no line numbers, no table rows, no blank line before the end
    assert len(re.findall(r"^`{3,}", cleaned.markdown, re.M)) == 2  # one block, opened and closed
    assert code.split("\n")[0] in cleaned.text and "1\n2" not in cleaned.text
    assert cleaned.markdown.startswith("Before.") and cleaned.markdown.endswith("After.")


def test_a_fence_inside_code_gets_a_longer_fence() -> None:
    markdown = clean_content(SH_SERVER, BASE).markdown
    assert markdown.startswith("````python\n") and markdown.endswith("\n````")


def test_a_language_attribute_from_the_site_is_not_taken_for_ours() -> None:
    markdown = clean_content('<pre data-wparchive-language="x\n<script>">code</pre>', BASE).markdown
    assert markdown == "```\ncode\n```"


@pytest.mark.parametrize("attributes, real", [
    ('src="data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==" '
     'data-src="https://example.org/wp-content/uploads/real.jpg"', "https://example.org/wp-content/uploads/real.jpg"),
    ('src="https://example.org/wp-content/plugins/a3-lazy-load/assets/images/lazy_placeholder.gif" '
     'data-lazy-src="https://example.org/wp-content/uploads/a3.jpg"', "https://example.org/wp-content/uploads/a3.jpg"),
    ('data-litespeed-src="https://example.org/wp-content/uploads/ls.jpg"', "https://example.org/wp-content/uploads/ls.jpg"),
    ('src="data:image/svg+xml,%3Csvg%3E%3C/svg%3E" data-lazy-srcset="https://example.org/s.jpg 300w, '
     'https://example.org/l.jpg 1024w"', "https://example.org/l.jpg"),
], ids=["data-src", "a3-lazy-load", "litespeed", "srcset"])
def test_lazy_images_keep_their_real_address(attributes: str, real: str) -> None:
    cleaned = clean_content(f'<p>Look: <img {attributes} alt="The plot in May"></p>'
                            f'<noscript><img src="{real}" alt="The plot in May"></noscript>', BASE)
    assert [image.src for image in cleaned.images] == [real]  # the <noscript> copy is not a second image
    assert cleaned.markdown == f"Look: ![The plot in May]({real})"


def test_noscript_that_holds_text_is_kept() -> None:
    cleaned = clean_content("<p>Above.</p><noscript><p>The table below needs scripts; here it is in words."
                            "</p></noscript>", BASE)
    assert "here it is in words" in cleaned.text and "here it is in words" in cleaned.markdown


def test_an_article_wrapped_in_a_form_is_kept_and_plugin_forms_are_not() -> None:
    article = "<p>" + "The allotment committee met on Tuesday to agree the spring rota. " * 5 + "</p>"
    kept = clean_content(f'<form id="post-form" method="post">{article}<input type="hidden" name="x"></form>', BASE)
    assert "agree the spring rota" in kept.text and "agree the spring rota" in kept.markdown
    newsletter = ('<form class="mc4wp-form" method="post"><p><label>Email address:</label><input type="email"></p>'
                  "<p>" + "Subscribe to our newsletter for weekly tips and offers from the shop. " * 4 + "</p></form>")
    contact = ('<form class="wpcf7-form"><p><label>Your name<br><input></label></p><p>' + "Tell us more. " * 30
               + "</p></form>")
    for form in (newsletter, contact):
        cleaned = clean_content("<p>Hello.</p>" + form, BASE)
        assert cleaned.text == "Hello." and cleaned.markdown == "Hello."


def test_tables_are_rows_between_pipes_with_a_header() -> None:
    markdown = clean_content(
        "<table><thead><tr><th>Variety</th><th>Notes</th></tr></thead><tbody>"
        "<tr><td>Sungold | F1</td><td><p>Sweet.</p><p>Early.</p></td></tr>"
        "<tr><td>Black Krim</td><td>Smoky<br>late</td></tr></tbody></table>", BASE).markdown
    lines = markdown.split("\n")
    assert len(lines) == 4 and all(line.startswith("| ") and line.endswith(" |") for line in lines if line[1] != "-")
    assert re.fullmatch(r"\| ?-+ ?\| ?-+ ?\|", lines[1])  # a delimiter row, with or without padding
    assert "Sungold &#124; F1" in lines[2] and "Sweet. Early." in lines[2] and "Smoky late" in lines[3]


def test_a_layout_table_of_one_column_is_its_content() -> None:
    cleaned = clean_content("<table><tr><td><p>First paragraph.</p><p>Second one.</p></td></tr>"
                            "<tr><td><p>Third.</p></td></tr></table>", BASE)
    assert cleaned.markdown == "First paragraph.\n\nSecond one.\n\nThird." and "|" not in cleaned.markdown


# --- Tables as Markdown readers see them -------------------------------------------------------
#
# Each table below is shaped as WordPress (the table block, TablePress, the classic editor) or an
# author writes it; its Markdown is rendered by the reader pages' own renderer, and the table that
# comes out is compared cell by cell with what the browser showed.

def _tables_read(markdown: str) -> list[list[list[str]]]:
    """The tables a reader page shows for markdown: rows of cell texts."""
    shown = lxml.html.fragment_fromstring(str(render_markdown(markdown)), create_parent="div")
    return [[[" ".join(cell.text_content().split()) for cell in row if cell.tag in ("th", "td")]
             for row in table.iter("tr")] for table in shown.iter("table")]


def _words(text: str) -> list[str]:
    return sorted(re.findall(r"\w+", text))


WP_BLOCK_TABLE = (
    '<figure class="wp-block-table is-style-stripes"><table class="has-fixed-layout"><thead><tr><th>Crop</th>'
    '<th>Sow</th><th>Harvest</th></tr></thead><tbody><tr><td>Broad beans</td><td>November</td><td>June</td></tr>'
    '<tr><td>Leeks</td><td>March</td><td>December</td></tr></tbody></table>'
    '<figcaption class="wp-element-caption">Our sowing calendar</figcaption></figure>')
TABLEPRESS = (
    '<h2 class="tablepress-table-name tablepress-table-name-id-1">Seed suppliers</h2>'
    '<table id="tablepress-1" class="tablepress tablepress-id-1"><thead><tr class="row-1 odd">'
    '<th class="column-1">Supplier</th><th class="column-2">Ships to</th></tr></thead>'
    '<tbody class="row-hover"><tr class="row-2 even"><td class="column-1"><a href="https://seeds.example/">Real '
    'Seeds</a></td><td class="column-2">UK<br />Ireland</td></tr><tr class="row-3 odd"><td class="column-1">'
    'Chiltern</td><td class="column-2">Europe</td></tr></tbody></table>'
    '<span class="tablepress-table-description tablepress-table-description-id-1">Updated yearly</span>')
CLASSIC_TABLE = (
    '<table style="border-collapse: collapse; width: 100%;" border="1"><tbody><tr>'
    '<td style="width: 33.3%;"><strong>Month</strong></td><td style="width: 33.3%;"><strong>Rain</strong></td>'
    '<td style="width: 33.3%;"><strong>Sun</strong></td></tr><tr><td style="width: 33.3%;">April</td>'
    '<td style="width: 33.3%;">41&nbsp;mm</td><td style="width: 33.3%;">&nbsp;</td></tr></tbody></table>')
PLAIN = "<table><thead><tr><th>Name</th><th>Notes</th></tr></thead><tbody>{}</tbody></table>"


@pytest.mark.parametrize("html, rows", [
    (WP_BLOCK_TABLE, [["Crop", "Sow", "Harvest"], ["Broad beans", "November", "June"],
                      ["Leeks", "March", "December"]]),
    (TABLEPRESS, [["Supplier", "Ships to"], ["Real Seeds", "UK Ireland"], ["Chiltern", "Europe"]]),
    # No <th>: the first row is the header, as GitHub-style tables must have one.
    (CLASSIC_TABLE, [["Month", "Rain", "Sun"], ["April", "41 mm", ""]]),
    # A list in a cell: its items on the cell's one line, each after a bullet (or its number).
    (PLAIN.format("<tr><td>Beans</td><td><ul><li>climbing</li><li>dwarf</li></ul></td></tr>"
                  '<tr><td>Peas</td><td><ol start="3"><li>sow</li><li>pick</li></ol></td></tr>'),
     [["Name", "Notes"], ["Beans", "• climbing • dwarf"], ["Peas", "3. sow 4. pick"]]),
    # Line breaks and paragraphs in a cell: spaces.
    (PLAIN.format("<tr><td>Kale<br>curly</td><td><p>Hardy.</p><p>Sweet after frost.</p></td></tr>"),
     [["Name", "Notes"], ["Kale curly", "Hardy. Sweet after frost."]]),
    # A table inside a cell: its rows after bullets, its cells apart by semicolons.
    (PLAIN.format("<tr><td>Onions</td><td><table><tr><td>red</td><td>mild</td></tr><tr><td>white</td>"
                  "<td>strong</td></tr></table></td></tr>"),
     [["Name", "Notes"], ["Onions", "• red; mild • white; strong"]]),
    # Spanning cells: the columns they cover are empty cells, so that every row has them all.
    ('<table><tr><th colspan="2">Bed one</th><th>Bed two</th></tr><tr><td rowspan="2">Early</td><td>radish</td>'
     '<td>lettuce</td></tr><tr><td>rocket</td><td>spinach</td></tr></table>',
     [["Bed one", "", "Bed two"], ["Early", "radish", "lettuce"], ["", "rocket", "spinach"]]),
    # A header row shorter than the rows under it: the header gets empty cells, no cell is lost.
    ("<table><tr><th>Tool</th></tr><tr><td>spade</td><td>fork</td><td>rake</td></tr></table>",
     [["Tool", "", ""], ["spade", "fork", "rake"]]),
    (PLAIN.format("<tr><td>a | b</td><td>x|y</td></tr><tr><td></td><td></td></tr><tr><td>c</td><td></td></tr>"),
     [["Name", "Notes"], ["a | b", "x|y"], ["", ""], ["c", ""]]),
    (PLAIN.format("<tr><td><pre>mkdir beds\ncd beds</pre></td><td><code>ls | sort</code> and <code>pwd</code></td>"
                  "</tr>"),
     [["Name", "Notes"], ["mkdir beds cd beds", "ls | sort and pwd"]]),
    (PLAIN.format('<tr><td><img src="https://example.org/kale.jpg" alt="Kale"></td><td><a href="https://example.org/'
                  'kale/">Growing <em>kale</em></a></td></tr>'),
     [["Name", "Notes"], ["", "Growing kale"]]),
    # A footer written before the body is shown after it.
    ("<table><thead><tr><th>Item</th><th>Cost</th></tr></thead><tfoot><tr><td>Total</td><td>9</td></tr></tfoot>"
     "<tbody><tr><td>Seeds</td><td>9</td></tr></tbody></table>",
     [["Item", "Cost"], ["Seeds", "9"], ["Total", "9"]]),
], ids=["wp-block-table", "tablepress", "classic-editor", "list-in-cell", "breaks-and-paragraphs", "nested-table",
        "colspan-rowspan", "short-header", "pipes-and-empty-cells", "code-in-cells", "images-and-links", "tfoot"])
def test_tables_read_as_tables_with_every_cell(html: str, rows: list[list[str]]) -> None:
    cleaned = clean_content("<p>Before.</p>" + html + "<p>After.</p>", BASE)
    assert _tables_read(cleaned.markdown) == [rows], cleaned.markdown
    assert cleaned.markdown.startswith("Before.\n\n") and cleaned.markdown.endswith("\n\nAfter.")
    tree = lxml.html.fragment_fromstring(html, create_parent="div")
    page = " ".join(tree.itertext())
    shown = lxml.html.fragment_fromstring(str(render_markdown(cleaned.markdown)), create_parent="div")
    assert [(i.get("src"), i.get("alt")) for i in shown.iter("img")] == \
        [(i.get("src"), i.get("alt")) for i in tree.iter("img")]
    assert [a.get("href") for a in shown.iter("a")] == [a.get("href") for a in tree.iter("a")]
    # Every word of the page stays, in the text and in what the Markdown shows, once: no more
    # words come than the page had (but the numbers of the ordered list, 3 and 4).
    numbers = " 3 4" if "<ol" in html else ""
    assert _words(cleaned.text) == _words("Before. " + page + " After." + numbers), cleaned.text
    assert _words(" ".join(shown.itertext())) == _words("Before. " + page + " After." + numbers), cleaned.markdown


def test_a_caption_is_a_paragraph_before_its_table() -> None:
    cleaned = clean_content("<table><caption>Yields in 2023</caption><tr><th>Crop</th><th>kg</th></tr>"
                            "<tr><td>Potatoes</td><td>40</td></tr></table>", BASE)
    assert cleaned.markdown.startswith("Yields in 2023\n\n| Crop")
    assert _tables_read(cleaned.markdown) == [[["Crop", "kg"], ["Potatoes", "40"]]]
    assert cleaned.text == "Yields in 2023\n\nCrop kg\nPotatoes 40"


@pytest.mark.parametrize("depth", [1, 2])
def test_a_table_in_a_quote_stays_a_table_in_the_quote(depth: int) -> None:
    html = ("<blockquote>" * depth + "<p>They wrote:</p><table><tr><th>Crop</th><th>kg</th></tr>"
            "<tr><td>&gt; Onions</td><td>12</td></tr></table><p>So there.</p>" + "</blockquote>" * depth +
            "<p>Outside.</p>")
    markdown = clean_content(html, BASE).markdown
    shown = lxml.html.fragment_fromstring(str(render_markdown(markdown)), create_parent="div")
    quote = shown.find("blockquote" + "/blockquote" * (depth - 1))
    assert quote is not None, markdown
    assert [e.tag for e in quote] == ["p", "table", "p"], markdown
    assert _tables_read(markdown) == [[["Crop", "kg"], ["> Onions", "12"]]]
    assert shown[-1].tag == "p" and shown[-1].text == "Outside."


@pytest.mark.parametrize("html", [
    "<ul><li>Yields<table><tr><th>Crop</th><th>kg</th></tr><tr><td>Onions</td><td>12</td></tr></table></li>"
    "<li>Next</li></ul>",
    "<div>Yields<table><tr><th>Crop</th><th>kg</th></tr><tr><td>Onions</td><td>12</td></tr></table>Next</div>",
    "<p><strong>Yields<table><tr><th>Crop</th><th>kg</th></tr><tr><td>Onions</td><td>12</td></tr></table></strong>"
    "Next</p>",
], ids=["in-a-list-item", "in-a-div", "in-bold"])
def test_text_beside_a_table_is_kept_and_stays_out_of_it(html: str) -> None:
    markdown = clean_content(html, BASE).markdown
    shown = lxml.html.fragment_fromstring(str(render_markdown(markdown)), create_parent="div")
    assert _tables_read(markdown) == [[["Crop", "kg"], ["Onions", "12"]]], markdown
    assert _words(shown.text_content()) == _words("Yields Crop kg Onions 12 Next"), markdown
    assert "*" not in shown.text_content()  # no emphasis left open on one side of the table


def test_spanning_cells_cannot_make_a_table_without_end() -> None:
    # Each row's first cell spans all rows below and pushes the next rows' cells one column on,
    # and each row's last asks for a thousand columns: browsers would lay out a table 1,200 columns wide.
    html = "<table>" + "".join(f'<tr><td rowspan="0">r{i}</td><td colspan="1000">c{i}</td></tr>' for i in range(200))
    cleaned = clean_content(html + "</table>", BASE)
    rows = _tables_read(cleaned.markdown)[0]
    assert len(rows) == 200 and {len(row) for row in rows} == {64}
    assert _words(" ".join(cell for row in rows for cell in row)) == _words(" ".join(f"r{i} c{i}" for i in range(200)))
    assert len(cleaned.markdown) < 200 * 64 * 8


def test_empty_emphasis_and_glued_images_leave_no_defects() -> None:
    cleaned = clean_content('<p>Plain <strong></strong>words <em> </em>here <b><span></span></b>and there.</p>'
                            '<p><img src="https://example.org/a.jpg" alt="A">Caption-like text</p>', BASE)
    assert "**" not in cleaned.markdown and "__" not in cleaned.markdown
    assert "Plain words here and there." in cleaned.markdown
    assert "![A](https://example.org/a.jpg) Caption-like text" in cleaned.markdown


# --- Furniture: what themes and plugins put inside the content ----------------------------------

HOSTS = frozenset({"example.org"})
AUTHOR = "<p>The allotment committee met on Tuesday to agree the spring rota for the shared beds.</p>"
FURNITURE = {
    "shariff": '<div class="shariff"><ul class="shariff-buttons theme-round"><li class="shariff-button twitter">'
               '<a href="https://twitter.com/share?url=x" class="shariff-link"><span class="shariff-text">twittern'
               '</span></a></li></ul></div>',
    "addtoany": '<div class="addtoany_share_save_container addtoany_content"><div class="a2a_kit a2a_kit_size_32">'
                '<a class="a2a_button_facebook" href="https://www.addtoany.com/add_to/facebook?linkurl=x">Facebook</a>'
                '</div></div>',
    "share links": '<div style="float:right;"><strong>Möchten Sie den Artikel teilen?</strong><br>'
                   '<a href="https://www.facebook.com/sharer.php?u=https://example.org/p/" title="Auf Facebook teilen">'
                   '<div class="fb"></div></a><a href="whatsapp://send?text=x" title="Über Whatsapp teilen"></a>'
                   '<a href="mailto:?subject=Empfohlener%20Artikel">E-Mail</a></div>',
    "social links": '<ul class="social-links__list"><li><a href="https://github.com/x"><span class="screen-reader-text">'
                    'Share on Twitter</span></a></li></ul>',
    "rp4wp": '<div class="rp4wp-related-posts"><h3>Ähnliche Beiträge</h3><ul><li><div class="rp4wp-related-post-content">'
             '<a href="https://example.org/leasing/">Leasing erklärt</a><p>Was Leasing kostet.</p></div></li></ul></div>',
    "related label and list": '<h3>Lesen Sie auch</h3><ul><li><a href="https://example.org/a/">Der Markt öffnet</a></li>'
                              '<li><a href="/b/">Neue Beete am Fluss</a></li></ul>',
    "related in one paragraph": '<p><b>・関連記事</b><br><a href="https://example.org/2019/03/x/">店先ベンチで食べても外食扱い'
                                '</a><br><a href="https://example.org/2019/02/y/">食品への消費税軽減税率</a></p>',
    "teaser titles": '<ul><li class="entry-title td-module-title"><a href="https://example.org/z/">Verbandsbericht '
                     'veröffentlicht</a></li></ul>',
    "ratings": '<div><span class="post-ratings" id="post-ratings-4373"><strong>War der Artikel nützlich?</strong>'
               '<img src="https://example.org/rating_on.gif" alt="1 Stern"></span><span class="post-ratings-loading" '
               'style="display:none;">Loading...</span></div>',
    "lwptoc": '<div class="lwptoc lwptoc-autoWidth"><div class="lwptoc_i"><div class="lwptoc_header">Contents '
              '<a href="#">show</a></div><div class="lwptoc_items"><a href="#intro">Intro</a></div></div></div>',
    "recipe buttons": '<div class="wpzoom-recipe-card-buttons"><a class="wpzoom-recipe-snippet-button '
                      'wp-block-wpzoom-recipe-card-block-jump-to-recipe" href="#wpzoom-recipe-card">Jump to Recipe</a>'
                      '<a class="wpzoom-recipe-snippet-button" href="/print/">Print Recipe</a></div>',
    "ad inserter": '<div class="code-block code-block-3" style="margin: 8px 0;"><b>ANZEIGE - Heute mal ausgehen?</b>'
                   '<a href="https://partner.example.net/">Jetzt bestellen</a></div>',
    "ad notice": '<div class="sponsor REP" id="REP_1-ad"><p class="ad-notice">Advertisement - story continues below</p></div>',
    "amazlet": '<div class="amazlet-box"><div class="amazlet-name">Das Buch<div class="amazlet-powered-date">posted with '
               'amazlet at 19.03.02</div></div><div class="amazlet-link"><a href="https://www.amazon.co.jp/x">Amazon.co.jp'
               'で詳細を見る</a></div></div>',
    "post meta": '<div class="post-meta"><p>Tempo di lettura: 3 minuti</p></div><div class="tags-links">Tag: Rimedi</div>'
                 '<div class="hatom-extra">was last modified: Januar 8th, 2017 by Eleonore</div>',
    "newsletter at the end": '<p>Then sign up for our email newsletter to get the latest updates.</p>',
    "wordads": '<div class="wpcnt"><div class="wpa wpmrec"><span class="wpa-about">Advertisements</span><div class="u">'
               '</div></div></div><a class="wpa-about" href="https://wordpress.com/about-these-ads/">About these ads</a>',
    "tweet script left": '<p><a href="https://platform.twitter.com/widgets.js">https://platform.twitter.com/widgets.js'
                         '</a></p>',
    "affiliate button": '<div class="row"><a href="https://example.org/goto/deal/321615/" class="btn btn-orange '
                        'deal-button" rel="nofollow">Zum Deal &raquo;</a></div>',
    "app signature": '<p>Eingetragen mit der DealDoktor App für Android.</p>',
    "old theme's post footer": '<p class="postmetadata">This entry was posted in <a href="https://example.org/c/">'
                               'Gardens</a> by Margit. Bookmark the <a href="https://example.org/p/">permalink</a>.</p>',
    "off-screen links": '<div style="position:absolute; left:-10000px;"><a href="https://casino.example.net/">casino</a>'
                        '</div>',
    "tag list": '<div class=jeg_post_tags><span>تاجز:</span> <a href=https://example.org/tag/%d9%8a%d8%b3%d8%b1%d8%a7/ '
                'rel=tag>يسرا</a><a href=https://example.org/tag/beds/ rel=tag>shared beds</a></div>',
    "more link": '<p> <a href="https://example.org/2024/01/post/#more-6015" class="more-link">Read more&#8230;</a></p>',
    "jiathis": '<div style="float:right"><!-- JiaThis Button BEGIN -->\n<div id="jiathis_style_32x32">\n\t'
               '<a class="jiathis_button_tsina"></a>\n\t<a class="jiathis_button_douban"></a>\n\t<a href='
               '"http://www.jiathis.com/share/" class="jiathis jiathis_txt jtico jtico_jiathis" target="_blank"></a>\n'
               '</div>\n<!-- JiaThis Button END --></div>',
    "weibo share": '<p><a href="http://service.weibo.com/share/share.php?url=https%3A%2F%2Fexample.org%2Fp%2F" '
                   'target="_blank">分享到微博</a></p>',
    "reprint notice": '<div class="entry-copyright"><p>原创文章，作者：regengya，如若转载，请注明出处：'
                      'https://example.org/2024/01/post/</p></div>',
}


@pytest.mark.parametrize("furniture", FURNITURE.values(), ids=FURNITURE.keys())
def test_furniture_leaves_text_and_markdown_and_the_authors_words_stay(furniture: str) -> None:
    cleaned = clean_content(AUTHOR + furniture, "https://example.org/2024/01/post/", HOSTS)
    expected = "The allotment committee met on Tuesday to agree the spring rota for the shared beds."
    assert cleaned.text == expected and cleaned.markdown == expected


def test_an_authors_own_further_reading_and_pictures_stay() -> None:
    further = ('<h3>Further reading</h3><ul><li><a href="https://en.wikipedia.org/wiki/Compost">Compost</a> on '
               'Wikipedia</li><li><a href="https://www.rhs.org.uk/soil">The RHS on soil</a></li></ul>')
    picture = ('<div class="iol-media iol-media--related"><figure><img src="https://example.org/suede.jpg" alt="Suede">'
               '<figcaption>Every trick for cleaning suede</figcaption></figure></div>')
    own_link = '<p>All about walking boots is <a href="https://example.org/boots/">here</a>.</p>'
    closing = ("<p>" + "We will keep writing about the beds; subscribe to the parish newsletter if you like, but "
               "the rota itself is pinned on the shed door, and the keys are with Margit until the end of May. " * 2
               + "</p>")
    cleaned = clean_content(AUTHOR + further + picture + own_link + closing, "https://example.org/p/", HOSTS)
    for kept in ("Further reading", "on Wikipedia", "Every trick for cleaning suede", "All about walking boots",
                 "the keys are with Margit"):
        assert kept in cleaned.text
    assert "(https://en.wikipedia.org/wiki/Compost)" in cleaned.markdown
    assert [image.src for image in cleaned.images] == ["https://example.org/suede.jpg"]


def test_navigation_left_in_the_content_keeps_its_words_in_the_markdown() -> None:
    # A block theme's calendar and query pagination, inside the content: their words are the page's
    # as much as the text's.
    html = ('<p>Posts by month.</p><nav aria-label="Previous and next months"><span><a href="https://example.org/'
            '2024/02/">&laquo; Feb</a></span></nav><nav class="wp-block-query-pagination"><span>1</span> '
            '<a href="?query-1-page=2">2</a> <a href="?query-1-page=2">Next Page</a></nav>')
    cleaned = clean_content(html, BASE)
    shown = lxml.html.fragment_fromstring(str(render_markdown(cleaned.markdown)), create_parent="div")
    assert _words(shown.text_content()) == _words(cleaned.text) == _words("Posts by month Feb 1 2 Next Page")


def test_emphasis_side_by_side_is_one_run() -> None:
    markdown = clean_content('<p><strong>Give, share!&nbsp;<br></strong><span><strong>Thank you</strong></span> '
                             'and <em>a</em><em>b</em> done.</p>', BASE).markdown
    assert markdown == "**Give, share!  \nThank you** and *ab* done." and "****" not in markdown


def test_the_page_s_own_asterisks_and_underscores_are_kept_where_emphasis_is_joined() -> None:
    markdown = clean_content('<p>PIN 12****34, my__init__ and <strong>a</strong><strong>b</strong></p>'
                             '<p>Use <code>x****y</code> or <code>__init__.py</code></p>'
                             '<pre>password = "****"\nx = a**b</pre>', BASE).markdown
    assert markdown == ('PIN 12****34, my__init__ and **ab**\n\nUse `x****y` or `__init__.py`\n\n'
                        '```\npassword = "****"\nx = a**b\n```')


# --- Footnotes: notes after the body, whichever plugin made them --------------------------------

NOTE = "Karl von Frisch described it in 1927."
FOOTNOTE_PLUGINS = {
    "core footnotes block": (
        '<p>Bees dance<sup data-fn="a1" class="fn"><a href="#a1" id="a1-link">1</a></sup> to tell others.</p>'
        f'<ol class="wp-block-footnotes"><li id="a1">{NOTE} <a href="#a1-link" aria-label="Jump to footnote '
        'reference 1">↩︎</a></li></ol>'),
    "easy footnotes": (
        '<p>Bees dance<span class="easy-footnote-margin-adjust" id="easy-footnote-1-42"></span><span class="easy-'
        f'footnote"><a href="#easy-footnote-bottom-1-42" title="{NOTE}"><sup>1</sup></a></span> to tell others.</p>'
        '<div class="easy-footnote-title"><h4>Notes</h4></div><ol class="easy-footnotes-wrapper"><li class="easy-'
        f'footnote-single"><span id="easy-footnote-bottom-1-42" class="easy-footnote-margin-adjust"></span>{NOTE}'
        '<a class="easy-footnote-to-top" href="#easy-footnote-1-42"></a></li></ol>'),
    "modern footnotes": (
        '<p>Bees dance<sup class="modern-footnotes-footnote " data-mfn="1" data-mfn-post-scope="0_42"><a href="'
        'javascript:void(0)" role="button" aria-describedby="mfn-content-0_42-1">1</a></sup><span id="mfn-content-'
        f'0_42-1" role="tooltip" class="modern-footnotes-footnote__note" tabindex="0" data-mfn="1">{NOTE}</span> to '
        'tell others.</p>'),
    "footnotes made easy": (
        '<p>Bees dance<sup><a href="#footnote_0_42" id="identifier_0_42" class="footnote-link footnote-identifier-'
        f'link" title="{NOTE}">1</a></sup> to tell others.</p><ol class="footnotes"><li id="footnote_0_42" class='
        f'"footnote">{NOTE} [<a href="#identifier_0_42" class="footnote-link footnote-back-link">&#8617;</a>]</li></ol>'),
    "footnotes with [+] toggle": (
        '<p>Bees dance<sup class="footnote_plugin_tooltip_text" onclick="footnote_moveToAnchor(\'footnote_plugin_'
        f'reference_1\');">[1]</sup><span class="footnote_tooltip" id="footnote_plugin_tooltip_text_1">{NOTE}</span>'
        ' to tell others.</p><div class="speaker-mute footnotes_reference_container"><div class="footnote_container_'
        'prepare"><p><span role="button">References</span><span role="button" class="footnote_reference_container_'
        'collapse_button">[<a id="footnote_reference_container_collapse_button">+</a>]</span></p></div><div id="'
        'footnote_references_container" style="display:none"><table class="footnotes_table"><tbody><tr><td class="'
        f'footnote_plugin_index"><a id="footnote_plugin_reference_1">1</a></td><td class="footnote_plugin_text">{NOTE}'
        '</td></tr></tbody></table></div></div>'),
}


@pytest.mark.parametrize("html", FOOTNOTE_PLUGINS.values(), ids=FOOTNOTE_PLUGINS.keys())
def test_footnotes_of_every_plugin_are_notes_after_the_body(html: str) -> None:
    cleaned = clean_content(html, BASE)
    assert cleaned.markdown == f"Bees dance[^1] to tell others.\n\n[^1]: {NOTE}"
    assert cleaned.text == f"Bees dance[1] to tell others.\n\n[1] {NOTE}"


def test_notes_are_numbered_in_reading_order_and_kept_whole() -> None:
    html = ('<p>First<sup data-fn="b"><a href="#b">2</a></sup>, then<sup data-fn="a"><a href="#a">1</a></sup>, '
            'again<sup data-fn="b"><a href="#b">2</a></sup>.</p><ol class="wp-block-footnotes">'
            '<li id="a">See <a href="https://example.org/source/">the source</a>.</li><li id="b">Second.</li></ol>')
    cleaned = clean_content(html, BASE)
    assert cleaned.markdown == ("First[^1], then[^2], again[^1].\n\n[^1]: Second.\n\n"
                                "[^2]: See [the source](https://example.org/source/).")


def test_note_markers_cannot_come_from_the_site() -> None:
    cleaned = clean_content("<p>Planted \ue1201\ue121 beans.</p>", BASE)
    assert cleaned.markdown == "Planted 1 beans." and "[^" not in cleaned.markdown


def test_line_breaks_of_the_source_inside_a_paragraph_are_spaces() -> None:
    cleaned = clean_content("<p>One line\nthe next line\n  and a third.</p><p>Kept<br>apart.</p>", BASE)
    assert cleaned.markdown == "One line the next line and a third.\n\nKept  \napart."
    assert cleaned.text == "One line the next line and a third.\n\nKept\napart."
