"""Cleaning: golden files in tests/html (NAME.html beside NAME.txt and NAME.md), and the extractors."""

from __future__ import annotations

from pathlib import Path

import pytest

from wparchive.clean import clean_content, count_words, html_to_text, site_hosts_of, title_text

GOLDEN = sorted((Path(__file__).parent / "html").glob("*.html"))
BASE = "https://example.org/2024/01/post/"
HOSTS = site_hosts_of("https://example.org")


@pytest.mark.parametrize("source", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_text_and_markdown(source: Path) -> None:
    cleaned = clean_content(source.read_text(encoding="utf-8"), BASE, HOSTS)
    assert cleaned.text + "\n" == source.with_suffix(".txt").read_text(encoding="utf-8")
    assert cleaned.markdown + "\n" == source.with_suffix(".md").read_text(encoding="utf-8")


def test_there_are_golden_files() -> None:
    assert len(GOLDEN) >= 3


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
