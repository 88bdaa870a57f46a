"""How good and how fast the cleaning is, on WordPress's own theme-test corpora.

    python bench/clean_quality.py            # starts a real WordPress (tests/integration/harness.py),
                                             # loads both WPTT corpora, harvests them, measures
    python bench/clean_quality.py --db PATH  # measures an archive harvested before

For every post it compares wparchive's text, and its Markdown as the reader pages show it, with two
common ways of getting text from HTML (BeautifulSoup's get_text, html2text's default output):
- token recall: the share of the words of the content's visible text that the text keeps;
- boilerplate: lines that are whole boilerplate phrases of config/boilerplate.toml;
- shortcode debris: [caption …], [/gallery] and the like left in the text;
- captions kept: the share of figure and gallery captions found in the text.
The same is measured on the hand-written cases of tests/html (boilerplate, shortcodes, embeds), with
the Markdown defects of bench/clean_real.py (unbalanced fences, empty emphasis, glued images, tables
without their leading "|", control characters) counted in wparchive's Markdown.
Speed is items per second on one core, the median of several passes over the corpus.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import html2text
import sqlite_utils
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "integration"), str(ROOT / "tests")]

from wparchive.clean import clean_content, site_hosts_of  # noqa: E402
from wparchive.config import load_boilerplate  # noqa: E402
from wparchive.paths import config_dir  # noqa: E402

WPTT = ROOT.parent / "shared" / "fixtures" / "wptt"
CORPORA = ("themeunittestdata.wordpress.xml", "64-block-test-data.xml")
DEBRIS = re.compile(r"\[/?(caption|wp_caption|gallery|embed|audio|video|playlist|vc_\w+|su_\w+|contact-form-7|"
                    r"et_pb_\w+)(\s[^\]]*)?\](?!\()", re.I)
WORD = re.compile(r"\w+(?:['’]\w+)*")
RULES = load_boilerplate(config_dir())


FORM_PARTS = ("form", "select", "option", "button", "input", "textarea", "label")


def visible_text(content_html: str, forms: bool = True) -> str:
    """What a reader sees of the content: its text without scripts, styles and hidden templates;
    with forms=False, also without forms and their controls (comment, search and login forms,
    archive and category drop-downs), which wparchive leaves out on purpose."""
    soup = BeautifulSoup(content_html, "html.parser")
    dropped = ("script", "style", "noscript", "template") + (() if forms else FORM_PARTS)
    for tag in soup.find_all(dropped):
        tag.decompose()
    return soup.get_text(" ")


def ours(content_html: str, base: str) -> str:
    return clean_content(content_html, base, site_hosts_of(base), RULES).text


def ours_markdown_shown(content_html: str, base: str) -> str:
    """wparchive's Markdown as a reader page shows it (rendered by the pages' own renderer), its
    text taken as the reference's is."""
    from wparchive.web import render_markdown

    markdown = clean_content(content_html, base, site_hosts_of(base), RULES).markdown
    return BeautifulSoup(str(render_markdown(markdown)), "html.parser").get_text(" ")


def bs4_get_text(content_html: str, base: str) -> str:
    return BeautifulSoup(content_html, "html.parser").get_text("\n")


def html2text_default(content_html: str, base: str) -> str:
    return html2text.HTML2Text(baseurl=base).handle(content_html)


CLEANERS: dict[str, Callable[[str, str], str]] = {
    "wparchive": ours, "wparchive's Markdown, as the reader pages show it": ours_markdown_shown,
    "BeautifulSoup get_text": bs4_get_text, "html2text (default)": html2text_default,
}


def captions_of(content_html: str) -> list[str]:
    soup = BeautifulSoup(content_html, "html.parser")
    found = [" ".join(c.get_text(" ").split()) for c in soup.select("figcaption, .wp-caption-text, .gallery-caption")]
    for shortcode in re.finditer(r"\[caption[^\]]*\].*?<img[^>]*>(?:\s*</a>)?(.*?)\[/caption\]", content_html, re.S):
        found.append(" ".join(BeautifulSoup(shortcode.group(1), "html.parser").get_text(" ").split()))
    return [c for c in found if c]


def measure(items: list[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """Quality figures of each cleaner over (content_html, base URL) items."""
    results = {}
    for name, cleaner in CLEANERS.items():
        recalled = total = recalled_text = total_text = boilerplate = debris = captions = kept = 0
        for content_html, base in items:
            text = cleaner(content_html, base)
            got = Counter(WORD.findall(text.lower()))
            reference = Counter(WORD.findall(visible_text(content_html).lower()))
            recalled += sum(min(count, got[word]) for word, count in reference.items())
            total += sum(reference.values())
            reference = Counter(WORD.findall(visible_text(content_html, forms=False).lower()))
            recalled_text += sum(min(count, got[word]) for word, count in reference.items())
            total_text += sum(reference.values())
            boilerplate += sum(1 for line in text.splitlines() if line.strip() and RULES.is_phrase(line.strip(" *#>_")))
            debris += len(DEBRIS.findall(text))
            folded = " ".join(text.split())
            for caption in captions_of(content_html):
                captions += 1
                kept += caption in folded
        results[name] = {"recall": recalled / max(total, 1), "recall_text": recalled_text / max(total_text, 1),
                         "boilerplate": boilerplate, "debris": debris,
                         "captions": kept / max(captions, 1), "caption_count": captions}
    return results


def markdown_defects(items: list[tuple[str, str]]) -> str:
    """The Markdown defects of bench/clean_real.py in wparchive's Markdown of the items, summed."""
    from clean_real import markdown_defects as defects_of

    total: Counter[str] = Counter()
    for content_html, base in items:
        total.update(defects_of(clean_content(content_html, base, site_hosts_of(base), RULES).markdown))
    return f"{sum(total.values())}" + (f" ({', '.join(f'{k} {v}' for k, v in total.items() if v)})" if +total else "")


def speed(items: list[tuple[str, str]], passes: int = 5) -> dict[str, float]:
    """Items per second on one core: full cleaning, and without Markdown."""
    from wparchive.clean.normalize import normalise
    from wparchive.clean.render import tree_to_text

    def full() -> None:
        for content_html, base in items:
            clean_content(content_html, base, site_hosts_of(base), RULES)

    def text_only() -> None:
        for content_html, base in items:
            tree_to_text(normalise(content_html, base, RULES).root)

    figures = {}
    for label, run in (("full (text, Markdown, links, images, language)", full), ("text only", text_only)):
        times = []
        for _ in range(passes):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
        figures[label] = len(items) / statistics.median(times)
    return figures


def harvest_corpora(path: Path) -> None:
    from harness import RealWordPress

    from wparchive.client import Client
    from wparchive.db import open_db
    from wparchive.harvest import harvest_site

    site = RealWordPress(Path(tempfile.mkdtemp()), title="WPTT corpora")
    try:
        site.start()
        for corpus in CORPORA:
            site.load_wxr(WPTT / corpus)
        site.set_permalinks("pretty")
        harvest_site(open_db(str(path)), Client(delay=0), site.home + "/")
    finally:
        site.stop()


def table(results: dict[str, dict[str, float]]) -> str:
    lines = ["| cleaner | token recall, all visible text | token recall, outside forms | boilerplate lines | "
             "shortcode debris | captions kept |", "|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['recall']:.3f} | {r['recall_text']:.3f} | {r['boilerplate']:.0f} | {r['debris']:.0f} | "
                     f"{r['captions']:.1%} of {r['caption_count']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, help="an archive of the WPTT corpora (default: harvest one now)")
    args = parser.parse_args()
    db_path = args.db
    if db_path is None:
        db_path = Path(tempfile.mkdtemp()) / "corpora.db"
        harvest_corpora(db_path)
    db = sqlite_utils.Database(db_path)
    corpus = [(r["content_html"], r["link"]) for r in db.query(
        "SELECT content_html, link FROM posts WHERE content_html != '' ORDER BY key")]
    handwritten = [(p.read_text(encoding="utf-8"), "https://example.org/2024/01/post/")
                   for p in sorted((ROOT / "tests" / "html").glob("*.html"))]
    print(f"## WPTT corpora as rendered by WordPress ({len(corpus)} posts and pages)\n")
    print(table(measure(corpus)))
    print(f"\nMarkdown defects in wparchive's Markdown: {markdown_defects(corpus)}")
    print(f"\n## Hand-written cases of tests/html ({len(handwritten)} files: boilerplate, shortcodes, embeds…)\n")
    print(table(measure(handwritten)))
    print(f"\nMarkdown defects in wparchive's Markdown: {markdown_defects(handwritten)}")
    print("\n## Cleaning speed, one core, median of 5 passes over the corpora\n")
    print("| what | items/s |\n|---|---|")
    for label, rate in speed(corpus).items():
        print(f"| {label} | {rate:.0f} |")


if __name__ == "__main__":
    main()
