"""Cleaning measured on real posts: wparchive beside trafilatura and plain html2text, in one run.

    pip install -e '.[bench]'
    python bench/clean_real.py                       # the corpus in ../shared/corpus/real/ ($WPARCHIVE_CORPUS)
    python bench/clean_real.py --corpus DIR          # another copy of it
    python bench/clean_real.py --posts               # and a line per post where anything is missed

Then wparchive's Markdown stage alone is timed (to compare a change of it, run this with each
version of wparchive on PYTHONPATH in turn).

The corpus is one JSON file per post: the post's content as its site served it (`content_html`),
its address, and expectations written by hand (`expect`): sentences the author wrote, which the
text must hold; boilerplate strings (share buttons, "Related", ads, newsletter prompts, tables of
contents), which neither the text nor the Markdown may hold; links the author placed and images
of the post, which the Markdown must hold. Measured per cleaner, over every post:

- sentence recall and author-link recall (and image recall), as shares of what is expected;
- boilerplate leaks: expected-absent strings found in the text or the Markdown;
- Markdown defects: unbalanced code fences, empty emphasis, images glued to the next word,
  tables left as pipes without their leading "|" (which kramdown, Jekyll's reader, shows raw),
  and control characters.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import statistics
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urljoin

import html2text

from wparchive.clean import clean_content, site_hosts_of
from wparchive.config import load_boilerplate
from wparchive.paths import config_dir

DEFAULT_CORPUS = Path(os.environ.get("WPARCHIVE_CORPUS") or
                      Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "real")
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})", re.M)
# "** **" standing alone, or runs that touch ("**a****b**"): both show as stars, not as bold.
_EMPTY_EMPHASIS = re.compile(r"(?:^|(?<=\s))(\*\*|__)[ \t]*\1(?=\s|$)|\*\*\*\*|(?<!\w)____(?!\w)", re.M)
_GLUED_IMAGE = re.compile(r"!\[[^\]]*\]\([^)\s]*\)[^\W_]")
_LINK_TARGET = re.compile(r"\]\(<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\)")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^\s<>]+)>")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class Cleaned:
    text: str
    markdown: str


@dataclass
class Score:
    sentences: list[int] = field(default_factory=lambda: [0, 0])  # found, expected
    links: list[int] = field(default_factory=lambda: [0, 0])
    images: list[int] = field(default_factory=lambda: [0, 0])
    leaks: int = 0
    defects: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("unbalanced fences", "empty emphasis", "glued images", "raw-pipe tables", "control characters"), 0))
    seconds: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)


def normalised(text: str) -> str:
    return " ".join(_INVISIBLE.sub("", unicodedata.normalize("NFC", html.unescape(text))).split())


def markdown_defects(markdown: str) -> dict[str, int]:
    outside_code = _without_code(markdown)
    table_lines = [line for line in outside_code.split("\n")
                   if re.match(r"^\s*[-:]{3,}\s*\|", line) or re.match(r"^[^|\n`]+\|[^|\n]*\|?\s*$", line)
                   and not line.lstrip().startswith("|")]
    return {
        "unbalanced fences": len(_FENCE.findall(markdown)) % 2,
        "empty emphasis": len(_EMPTY_EMPHASIS.findall(outside_code)),
        "glued images": len(_GLUED_IMAGE.findall(outside_code)),
        "raw-pipe tables": len(table_lines),
        "control characters": len(_CONTROL.findall(markdown)),
    }


def _without_code(markdown: str) -> str:
    kept, fence = [], None
    for line in markdown.split("\n"):
        opening = _FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
        elif fence is not None and line.strip().startswith(fence[0] * len(fence)) and not line.strip()[len(fence):]:
            fence = None
        elif fence is None:
            kept.append(re.sub(r"`+[^`]*`+", "", line))
    return "\n".join(kept)


def wparchive_cleaner() -> Callable[[dict[str, Any]], Cleaned]:
    rules = load_boilerplate(config_dir())

    def clean(item: dict[str, Any]) -> Cleaned:
        link = item.get("link") or f"https://{item['site']}/"
        result = clean_content(item["content_html"], link, site_hosts_of(link), rules)
        return Cleaned(result.text, result.markdown)
    return clean


def trafilatura_cleaner() -> Callable[[dict[str, Any]], Cleaned] | None:
    try:
        import trafilatura
    except ImportError:
        return None

    def clean(item: dict[str, Any]) -> Cleaned:
        page = f"<html><body><article>{item['content_html']}</article></body></html>"
        text = trafilatura.extract(page, url=item.get("link"), include_comments=False, favor_recall=True) or ""
        markdown = trafilatura.extract(page, url=item.get("link"), output_format="markdown", include_links=True,
                                       include_images=True, include_comments=False, favor_recall=True) or ""
        return Cleaned(text, markdown)
    return clean


def html2text_cleaner() -> Callable[[dict[str, Any]], Cleaned]:
    def clean(item: dict[str, Any]) -> Cleaned:
        converter = html2text.HTML2Text(baseurl=item.get("link") or "")
        converter.body_width = 0
        markdown = converter.handle(item["content_html"])
        plain = html2text.HTML2Text()
        plain.body_width, plain.ignore_links, plain.ignore_images, plain.ignore_emphasis = 0, True, True, True
        return Cleaned(plain.handle(item["content_html"]), markdown)
    return clean


def markdown_stage(items: list[dict[str, Any]]) -> str:
    """wparchive's Markdown stage alone, on the cleaned trees of the corpus: CPU milliseconds a post,
    best of 3 passes (each pass on trees cleaned again, as the stage changes the tree it is given)."""
    from wparchive.clean.normalize import normalise
    from wparchive.clean.render import tree_to_markdown

    rules = load_boilerplate(config_dir())
    passes = []
    for _ in range(3):
        roots = []
        for item in items:
            link = item.get("link") or f"https://{item['site']}/"
            roots.append(normalise(item["content_html"], link, rules, site_hosts_of(link)).root)
        started = time.process_time()
        for root in roots:
            tree_to_markdown(root, "")
        passes.append((time.process_time() - started) / len(roots) * 1000)
    return f"wparchive's Markdown stage alone, on the same cleaned trees: {min(passes):.2f} ms a post"


def score(items: list[dict[str, Any]], clean: Callable[[dict[str, Any]], Cleaned]) -> Score:
    total = Score()
    for item in items:
        started = time.perf_counter()
        cleaned = clean(item)
        total.seconds.append(time.perf_counter() - started)
        expect = item["expect"]
        text, markdown = normalised(cleaned.text), normalised(cleaned.markdown)
        base = item.get("link") or f"https://{item['site']}/"
        targets = {unquote(html.unescape(t)) for t in _LINK_TARGET.findall(cleaned.markdown)}
        targets |= {unquote(html.unescape(t)) for t in _AUTOLINK.findall(cleaned.markdown)}
        targets |= {unquote(urljoin(base, t)) for t in targets}
        missed = []
        for sentence in expect["sentences"]:
            found = normalised(sentence) in text
            total.sentences[0] += found
            missed += [] if found else [f"sentence {sentence[:60]!r}"]
        total.sentences[1] += len(expect["sentences"])
        for kind, wanted in (("links", expect["links"]), ("images", expect["images"])):
            hits = [unquote(urljoin(base, html.unescape(url))) in targets for url in wanted]
            getattr(total, kind)[0] += sum(hits)
            getattr(total, kind)[1] += len(wanted)
            missed += [f"{kind[:-1]} {url[:70]}" for url, hit in zip(wanted, hits, strict=True) if not hit]
        for phrase in expect["boilerplate"]:
            if normalised(phrase) in text or normalised(phrase) in markdown:
                total.leaks += 1
                missed.append(f"leak {phrase[:60]!r}")
        for name, count in markdown_defects(cleaned.markdown).items():
            total.defects[name] += count
            missed += [f"defect {name} ×{count}"] if count else []
        if missed:
            total.misses.append(f"{item['site']} ({item['kind']}, {item['language']}): " + "; ".join(missed))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--posts", action="store_true", help="a line for each post where anything is missed")
    parser.add_argument("--only", help="only this cleaner (wparchive, trafilatura, html2text)")
    args = parser.parse_args()
    files = sorted(args.corpus.glob("*.json"))
    if not files:
        sys.exit(f"no corpus at {args.corpus}: give one with --corpus")
    items = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    sites = {item["site"] for item in items}
    print(f"{len(items)} posts from {len(sites)} sites ({args.corpus})\n")
    cleaners = {"wparchive": wparchive_cleaner(), "trafilatura": trafilatura_cleaner(), "html2text": html2text_cleaner()}
    print("| cleaner | sentence recall | author-link recall | image recall | boilerplate leaks | Markdown defects "
          "| ms per post (median) |")
    print("|---|---|---|---|---|---|---|")
    details = {}
    for name, clean in cleaners.items():
        if clean is None or (args.only and name != args.only):
            continue
        result = score(items, clean)
        details[name] = result
        defects = sum(result.defects.values())
        named = ", ".join(f"{k} {v}" for k, v in result.defects.items() if v)
        print(f"| {name} | {_share(result.sentences)} | {_share(result.links)} | {_share(result.images)} | "
              f"{result.leaks} | {defects}{f' ({named})' if named else ''} | "
              f"{statistics.median(result.seconds) * 1000:.1f} |")
    if not args.only or args.only == "wparchive":
        print(f"\n{markdown_stage(items)}")
    if args.posts:
        for name, result in details.items():
            print(f"\n## {name}")
            print("\n".join(result.misses) or "nothing missed")


def _share(pair: list[int]) -> str:
    found, expected = pair
    return f"{found / expected:.1%} of {expected}" if expected else "—"


if __name__ == "__main__":
    main()
