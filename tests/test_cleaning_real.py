"""Cleaning real posts: every expectation of the corpus of real WordPress content holds (see
tests/corpus_real.py; bench/clean_real.py measures the same beside other cleaners). Skipped when
the corpus is not beside the project."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any
from urllib.parse import unquote, urljoin

import pytest

from corpus_real import CORPUS_DIR, collapse, html_text, load_corpus, read_html
from shared_fixtures import needs_shared
from wparchive.clean import clean_content, site_hosts_of
from wparchive.config import load_boilerplate
from wparchive.paths import config_dir

CORPUS = load_corpus() if CORPUS_DIR.is_dir() else []
RULES = load_boilerplate(config_dir())
_TARGET = re.compile(r"\]\(<?([^)\s>]+)>?|<((?:https?|mailto):[^\s<>]+)>")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})", re.M)


def _ids(item: dict[str, Any]) -> str:
    return str(item["file"])


def test_the_corpus_is_large_and_varied() -> None:
    needs_shared(CORPUS_DIR)
    assert len(CORPUS) >= 60 and len({item["site"] for item in CORPUS}) >= 35
    assert len(Counter(item["kind"] for item in CORPUS)) >= 4
    assert len(Counter(item["language"] for item in CORPUS)) >= 5


@pytest.mark.parametrize("item", CORPUS, ids=_ids)
def test_the_expectations_are_true_of_the_raw_html(item: dict[str, Any]) -> None:
    text, reader, expect = html_text(item["content_html"]), read_html(item["content_html"]), item["expect"]
    assert all(collapse(s) in text for s in expect["sentences"] + expect["boilerplate"])
    assert set(expect["links"]) <= reader.hrefs and set(expect["images"]) <= reader.image_urls


@pytest.mark.parametrize("item", CORPUS, ids=_ids)
def test_every_sentence_link_and_image_stays_and_no_boilerplate(item: dict[str, Any]) -> None:
    link = item["link"] or f"https://{item['site']}/"
    cleaned = clean_content(item["content_html"], link, site_hosts_of(link), RULES)
    text, markdown, expect = collapse(cleaned.text), collapse(cleaned.markdown), item["expect"]
    assert [s for s in expect["sentences"] if collapse(s) not in text] == []
    targets = {unquote(urljoin(link, a or b).replace("&amp;", "&")) for a, b in _TARGET.findall(cleaned.markdown)}
    wanted = [unquote(urljoin(link, url)) for url in expect["links"] + expect["images"]]
    assert [url for url in wanted if url not in targets] == []
    assert [b for b in expect["boilerplate"] if collapse(b) in text or collapse(b) in markdown] == []
    assert len(_FENCE.findall(cleaned.markdown)) % 2 == 0 and "****" not in cleaned.markdown
