"""Salvaging what arrived of a JSON list that broke off or broke down: the items that came whole,
and the fields of the item it broke in that completed before the break."""

from __future__ import annotations

import json
import time

import pytest

from wparchive.salvage import salvage_list

POSTS = [
    {"id": 7, "date": "2024-03-09T11:30:00", "slug": "beans", "status": "publish", "link": "https://g.example/beans/",
     "title": {"rendered": "Broad beans"}, "content": {"rendered": "<p>Sow them in March.</p>", "protected": False},
     "categories": [3, 4]},
    {"id": 8, "date": "2024-03-10T09:00:00", "slug": "frost", "status": "publish", "link": "https://g.example/frost/",
     "title": {"rendered": "Frost – and what it does"},
     "content": {"rendered": "The first frost came early, and the broad beans were lost.", "protected": False},
     "categories": [3]},
]
BODY = json.dumps(POSTS, ensure_ascii=False).encode("utf-8")


def _cut_after(text: str) -> bytes:
    """The body up to and with the first occurrence of text."""
    needle = text.encode("utf-8")
    return BODY[:BODY.index(needle) + len(needle)]


def test_a_body_cut_mid_content_keeps_the_whole_items_and_the_fields_before_the_cut() -> None:
    found = salvage_list(_cut_after("and the broad be"))
    assert found is not None and found.whole == POSTS[:1] and found.index == 1
    assert found.partial == {"id": 8, "date": "2024-03-10T09:00:00", "slug": "frost", "status": "publish",
                             "link": "https://g.example/frost/", "title": {"rendered": "Frost – and what it does"},
                             "content": {"rendered": "The first frost came early, and the broad be"}}
    assert found.broke_in == ["content", "rendered"] and found.last_field == "title"
    assert found.note() == ("the response broke off in content.rendered: content.rendered is cut short and the "
                            "fields after it are missing")


@pytest.mark.parametrize("cut, partial, note", [
    ('"slug": "fr', {"id": 8, "date": "2024-03-10T09:00:00", "slug": "fr"}, "in slug"),
    ('"slug": "frost"', {"id": 8, "date": "2024-03-10T09:00:00", "slug": "frost"}, "after slug"),
    ('"da', {"id": 8}, "after id"),
    # a number that ends the body may have lost digits (8 of 87): it is not taken
    ('"id": 8', None, "in id"),
    ('"{', None, "before the item's first field"),
])
def test_where_the_break_falls(cut: str, partial: dict | None, note: str) -> None:
    second = BODY.index(b'{"id": 8')
    found = salvage_list(BODY[:second + 1] if cut == '"{' else BODY[:BODY.index(cut.encode(), second) + len(cut)])
    assert found is not None and found.index == 1
    assert found.partial == partial and note in found.note()


def test_a_list_cut_in_a_number_drops_the_number() -> None:
    cut = b'"categories": [3'
    found = salvage_list(BODY[:BODY.index(cut, BODY.index(b'"id": 8')) + len(cut)])
    assert found is not None and found.partial is not None
    assert found.partial["categories"] == [] and found.broke_in == ["categories", "0"]


def test_a_cut_inside_an_escape_or_a_character_leaves_no_half_of_it() -> None:
    item = {"id": 1, "content": {"rendered": 'a \\ b \u00e9 c \U0001F331 d "q" e'}}
    ascii_body = json.dumps([item])  # escapes as \\, \u00e9, \ud83c\udf31, \"
    for end in range(ascii_body.index("a \\\\"), len(ascii_body) - 3):
        found = salvage_list(ascii_body[:end].encode())
        assert found is not None and found.partial is not None
        text = found.partial["content"]["rendered"]
        assert item["content"]["rendered"].startswith(text), (end, text)
    utf8 = json.dumps([item], ensure_ascii=False).encode("utf-8")
    for end in range(utf8.index(b"a \\"), len(utf8) - 3):
        found = salvage_list(utf8[:end])
        assert found is not None and found.partial is not None
        text = found.partial["content"]["rendered"]
        assert item["content"]["rendered"].startswith(text) and "\ufffd" not in text, (end, text)


def test_invalid_json_in_an_item_keeps_what_came_before_it() -> None:
    body = b'[{"id": 1, "title": {"rendered": "One"}}, {"id": 2, "title": {"rendered": "Two"}, "author": NaN!, ' \
           b'"content": {"rendered": "never read"}}, {"id": 3}]'
    found = salvage_list(body)
    assert found is not None and [item["id"] for item in found.whole] == [1] and found.index == 1
    assert found.partial == {"id": 2, "title": {"rendered": "Two"}} and found.broke_in == ["author"]
    bad_escape = salvage_list(b'[{"id": 4, "title": {"rendered": "bad \\x escape"}}]')
    assert bad_escape is not None and bad_escape.partial == {"id": 4, "title": {"rendered": "bad "}}


def test_what_is_not_a_broken_list_of_objects() -> None:
    assert salvage_list(b"<!DOCTYPE html><html>Maintenance</html>") is None
    assert salvage_list(b'{"code": "rest_error"') is None
    assert salvage_list(b"[1, 2, 3") is None
    assert salvage_list(b"") is None
    closed = salvage_list(BODY + b"<br />trailing notice")
    assert closed is not None and closed.closed and closed.whole == POSTS and closed.partial is None
    between = salvage_list(BODY[:BODY.index(b'{"id": 8')])
    assert between is not None and between.whole == POSTS[:1] and between.partial is None and not between.closed
    with_bom = salvage_list(b"\xef\xbb\xbf" + _cut_after("Broad be"))
    assert with_bom is not None and with_bom.partial == {
        "id": 7, "date": "2024-03-09T11:30:00", "slug": "beans", "status": "publish",
        "link": "https://g.example/beans/", "title": {"rendered": "Broad be"}}


def test_hostile_nesting_and_size_stay_bounded() -> None:
    deep = b'[{"id": 1, "meta": ' + b'{"a": [' * 200_000
    started = time.monotonic()
    found = salvage_list(deep)
    assert found is not None and found.partial is not None and found.partial["id"] == 1
    depth, value = 0, found.partial.get("meta")
    while isinstance(value, (dict, list)) and value:
        value = value["a"] if isinstance(value, dict) else value[0]
        depth += 1
    assert depth <= 32  # followed no deeper than MAX_DEPTH
    huge = ('[{"id": 9, "title": {"rendered": "Big"}, "content": {"rendered": "' + "compost heap " * 2_000_000)
    found = salvage_list(huge.encode())
    assert found is not None and found.partial is not None
    assert len(found.partial["content"]["rendered"]) == 26_000_000
    assert time.monotonic() - started < 20  # linear: well under a second each on a laptop
