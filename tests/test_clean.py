"""Cleaning: golden files in tests/html (NAME.html beside NAME.txt and NAME.md), and the extractors."""

from __future__ import annotations

from pathlib import Path

import pytest

from wparchive.clean import (
    Boilerplate, clean_content, count_words, detect_language, html_to_text, reading_minutes, site_hosts_of,
    title_text,
)
from wparchive.config import load_boilerplate
from wparchive.paths import config_dir

GOLDEN = sorted((Path(__file__).parent / "html").glob("*.html"))
BASE = "https://example.org/2024/01/post/"
HOSTS = site_hosts_of("https://example.org")
RULES = load_boilerplate(config_dir())


def _clean(name: str):  # type: ignore[no-untyped-def]
    return clean_content((Path(__file__).parent / "html" / f"{name}.html").read_text(encoding="utf-8"),
                         BASE, HOSTS, RULES)


@pytest.mark.parametrize("source", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_text_and_markdown(source: Path) -> None:
    """NAME.txt and NAME.md are reviewed by hand: regenerate them only for a change you mean."""
    cleaned = clean_content(source.read_text(encoding="utf-8"), BASE, HOSTS, RULES)
    assert cleaned.text + "\n" == source.with_suffix(".txt").read_text(encoding="utf-8")
    assert cleaned.markdown + "\n" == source.with_suffix(".md").read_text(encoding="utf-8")


def test_every_golden_file_has_its_text_and_markdown() -> None:
    # An .md or .txt whose .html is gone would no longer be checked by anything.
    folder = Path(__file__).parent / "html"
    stems = [p.stem for p in GOLDEN]
    assert len(stems) >= 9
    assert sorted(p.stem for p in folder.glob("*.txt")) == stems == sorted(p.stem for p in folder.glob("*.md"))
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{stem}{ext}" for stem in stems
                                                             for ext in (".html", ".md", ".txt"))


def test_titles_decode_entities_and_drop_tags() -> None:
    assert title_text("It&#8217;s <em>here</em> &amp; now") == "It’s here & now"
    assert title_text("  Many\n  spaces ") == "Many spaces"
    assert title_text("") == ""


def test_text_keeps_paragraphs_apart_and_folds_blank_runs() -> None:
    text = html_to_text("<p>One</p>\n\n\n<p>Two</p><div><p>Three</p></div>")
    assert text == "One\n\nTwo\n\nThree"


def test_table_cells_and_list_items_do_not_glue_into_words() -> None:
    text = html_to_text("<table><tr><td>alpha</td><td>beta</td></tr></table><ul><li>gamma</li><li>delta</li></ul>")
    assert "alphabeta" not in text and "gammadelta" not in text
    assert text.split() == ["alpha", "beta", "gamma", "delta"]


def test_links_are_absolute_with_anchor_text_and_internal_flag() -> None:
    cleaned = clean_content(
        '<p><a href="/about/">About</a> <a href="https://www.example.org/x">www</a> '
        '<a href="https://other.net/y">Other <b>site</b></a> <a href="mailto:a@b.c">mail</a> '
        '<a href="#top">top</a></p>', BASE, HOSTS)
    assert [(l.href, l.text, l.internal) for l in cleaned.links] == [
        ("https://example.org/about/", "About", True),
        ("https://www.example.org/x", "www", True),
        ("https://other.net/y", "Other site", False),
        ("https://example.org/2024/01/post/#top", "top", True),
    ]


def test_images_with_alt_and_size() -> None:
    cleaned = clean_content('<img src="/a.jpg" alt=" An  apple " width="300" height="200px"><img alt="no src">',
                            BASE, HOSTS)
    assert [(i.src, i.alt, i.width, i.height) for i in cleaned.images] == [
        ("https://example.org/a.jpg", "An apple", 300, 200)]


def test_scripts_and_styles_are_not_text() -> None:
    assert html_to_text("<p>a</p><script>var x = 1;</script><style>p{}</style><p>b</p>") == "a\n\nb"


def test_word_count() -> None:
    assert count_words("It’s a half-baked idea, 2 times.") == 7
    assert clean_content("", BASE, HOSTS).word_count == 0


def test_leftover_shortcodes_are_recorded_and_ordinary_brackets_kept() -> None:
    cleaned = _clean("shortcodes_and_captions")
    assert cleaned.shortcodes == ["vc_row", "vc_column", "su_button", "contact-form-7"]
    assert "[sic]" in cleaned.text and "[1]" in cleaned.text
    assert '[gallery ids="1,2,3"]' in cleaned.text  # inside code it is the author's text
    assert "[su_button" not in cleaned.text and "[/vc_row]" not in cleaned.markdown


def test_captions_are_kept_and_attached_to_their_images() -> None:
    cleaned = _clean("shortcodes_and_captions")
    assert [(i.caption, i.media_id, i.width) for i in cleaned.images] == [("The plot in May.", 12, 300)]
    gallery = _clean("galleries")
    assert [(i.alt, i.caption, i.media_id) for i in gallery.images] == [
        ("Canola field", "Canola in bloom", None), ("A bridge", "", None),
        ("Runner beans", "Runner beans, July.", 701), ("Leeks", "", 702)]
    assert gallery.markdown.count("![") == 4 and "The summer beds." in gallery.text


def test_embeds_become_links_with_their_provider_named() -> None:
    cleaned = _clean("embeds")
    assert [(e.provider, e.url) for e in cleaned.embeds] == [
        ("YouTube", "https://www.youtube.com/embed/dQw4w9WgXcQ?feature=oembed"),
        ("Twitter", "https://twitter.com/WordPress/status/1234567890"),
        ("VideoPress", "https://videopress.com/embed/AbCdE1?hd=1"),
        ("Twitter", "https://twitter.com/garden/status/987654321"),
        ("Vimeo", "https://vimeo.com/22439234"),
        ("WordPress.tv", "https://wordpress.tv/2024/01/01/a-talk/"),
    ]
    assert "YouTube: https://www.youtube.com/embed/" in cleaned.text
    assert "How we plant garlic." in cleaned.text  # the embed's caption
    assert "a video stays a link" in cleaned.text  # a link in a sentence is not an embed


def test_boilerplate_goes_from_text_but_the_authors_words_stay() -> None:
    cleaned = _clean("boilerplate")
    assert cleaned.text == "The author's own words about leeks.\n\nA last sentence the author wrote."
    ruleless = clean_content((Path(__file__).parent / "html" / "boilerplate.html").read_text(), BASE, HOSTS)
    assert "Leave a Reply" in ruleless.text  # without rules, their phrases stay;
    assert "Like this:" not in ruleless.text  # plugins' furniture is told by its structure, rules or none


def test_users_rules_extend_the_bundled_ones() -> None:
    rules = Boilerplate(selectors=[".promo"], phrases=[r"Sponsored by .+"])
    cleaned = clean_content('<p>Text.</p><div class="promo">Buy!</div><p>Sponsored by Acme Seeds</p>', BASE, HOSTS, rules)
    assert cleaned.text == "Text."


def test_pages_headings_footnotes_and_reading_time() -> None:
    blocks = _clean("gutenberg_blocks")
    assert blocks.pages == 2
    assert [(h.level, h.text) for h in blocks.headings] == [(2, "Page two")]
    assert blocks.text.index("Open day") < blocks.text.index("Page two") < blocks.text.index("After the more tag")
    notes = _clean("footnotes")
    assert "air[1] and water.[2]" in notes.text and "↩" not in notes.text
    assert reading_minutes(0) == 0 and reading_minutes(1) == 1 and reading_minutes(460) == 2


def test_language_of_each_text() -> None:
    assert detect_language("Der Garten liegt hinter der Bibliothek, und jeder darf dort Gemüse anbauen.") == "de"
    assert detect_language("The garden lies behind the library, and anyone may grow vegetables there.") == "en"
    assert detect_language("Ok.") is None  # too little to tell


def test_links_know_the_item_they_point_at() -> None:
    cleaned = clean_content('<a href="/?p=42">by id</a> <a href="https://www.example.org/2024/01/other-post/#c">'
                            'by permalink</a>', BASE, HOSTS)
    assert [(l.wp_id, l.href_norm) for l in cleaned.links] == [
        (42, "example.org/?p=42"), (None, "example.org/2024/01/other-post")]


def test_nesting_deeper_than_the_parser_follows_keeps_the_text() -> None:
    # libxml2 stops at 2,048 levels and silently drops what lies below.
    nested = "<div>" * 3000 + "deep <b>down</b> here" + "</div>" * 3000 + "<p>and after</p>"
    cleaned = clean_content(nested)
    assert cleaned.text.split() == ["deep", "down", "here", "and", "after"]


def test_characters_no_html_may_hold_do_not_stop_cleaning() -> None:
    cleaned = clean_content("<p>nul\x00 bell\x07 lone\ud800 surrogate</p><p>next</p>")
    assert cleaned.text.split("\n\n")[1] == "next"
    assert "bell" in cleaned.text and "surrogate" in cleaned.text


def test_boilerplate_selectors_beyond_class_and_id() -> None:
    rules = Boilerplate(selectors=["div.share > p", "aside[data-ad]"])
    cleaned = clean_content('<p>Keep</p><div class="share"><p>Share me</p></div><aside data-ad="1">Ad</aside>',
                            boilerplate=rules)
    assert cleaned.text == "Keep"


@pytest.mark.parametrize("phrases", [["Like this:", "Share this:"], ["Like this:", "(?i)share this:"]],
                         ids=["joined", "one by one"])
def test_phrase_lines_go_whole_with_their_markup(phrases: list[str]) -> None:
    # A phrase with flags of its own cannot be joined with the others: it is matched line by line.
    rules = Boilerplate(phrases=phrases)
    text = "Intro\n## Like this:\nkept: Like this: inside\n  * **Share this:**\n- item\nLike this: and more"
    assert rules.without_phrase_lines(text) == "Intro\nkept: Like this: inside\n- item\nLike this: and more"
    assert rules.without_phrase_lines("Like this:\n\n\nText\n\nShare this:") == "Text"
