"""What arrived of a JSON list that broke off or broke down: the items that came whole, and the
fields of the item it broke in that completed before the break.

A proxy that truncates responses, a PHP fatal error halfway through a page, a connection cut short:
the REST API's list then stops in the middle of an item, and json.loads gives up on the whole body.
This reads such a body as far as it goes, so that the harvest can tell which item broke and keep
what arrived of it (its id, dates, slug, title… and the part of its content before the break).
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from typing import Any, Callable

# Nesting followed into a broken value; deeper than this, what is left of it is dropped. Whole values
# are read by json itself, whatever their depth.
MAX_DEPTH = 32



def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# NaN and Infinity, which json would read, are no JSON: a value that holds them did not arrive.
_DECODER = json.JSONDecoder(parse_constant=_no_constant)
# json's own string reader (text, index after the opening quote, strict) → (string, index after it)
scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_SPACE = re.compile(r"[ \t\n\r]*")
# A backslash escape that the break cut in two: "\" or "\u12" at the very end of a string.
_CUT_ESCAPE = re.compile(r"(\\+)(u[0-9a-fA-F]{0,3})?$")
_NOTHING = object()  # a value of which nothing usable arrived


@dataclass
class Salvage:
    """What arrived of a broken JSON list of objects."""

    whole: list[Any]  # the items before the break, each complete
    partial: dict[str, Any] | None  # the fields of the item it broke in that arrived; None if none did
    broke_in: list[str]  # the path of the field it broke in ("content", "rendered"); [] between fields
    last_field: str | None  # the last field of that item that arrived whole
    closed: bool = False  # the list itself closed: the break came after it

    @property
    def index(self) -> int:
        """The position in the list of the item the body broke in."""
        return len(self.whole)

    def note(self) -> str:
        """Where the item broke, in words: what the archive's incomplete column says."""
        if self.broke_in:
            field = ".".join(self.broke_in)
            return f"the response broke off in {field}: {field} is cut short and the fields after it are missing"
        if self.last_field is not None:
            return f"the response broke off after {self.last_field}: the fields after it are missing"
        return "the response broke off before the item's first field"


def salvage_list(body: bytes | str) -> Salvage | None:
    """The whole items of a JSON list that breaks off or breaks down, and what arrived of the item it
    broke in; None when the body is not the start of a list of objects."""
    text = _text(body) if isinstance(body, bytes) else body
    pos = _SPACE.match(text, 0).end()  # type: ignore[union-attr]
    if not text.startswith("[", pos):
        return None
    whole: list[Any] = []
    pos += 1
    while True:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text):
            return Salvage(whole, None, [], None)
        if text[pos] == "]":
            return Salvage(whole, None, [], None, closed=True)
        if text[pos] != "{":
            return Salvage(whole, None, [], None) if whole else None
        try:
            item, pos = _DECODER.raw_decode(text, pos)
        except (ValueError, RecursionError):
            partial, path, last = _broken_object(text, pos, 1)
            return Salvage(whole, partial or None, path, last)
        whole.append(item)
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if text.startswith(",", pos):
            pos += 1
        elif text.startswith("]", pos):
            return Salvage(whole, None, [], None, closed=True)
        else:
            return Salvage(whole, None, [], None)


def _text(body: bytes) -> str:
    """The body as text: a character cut in two at the end is dropped, invalid UTF-8 replaced."""
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(body, final=False)
    return text[1:] if text.startswith("\ufeff") else text


def _whole(text: str, pos: int) -> tuple[Any, int]:
    """A value that arrived whole, and where it ends; ValueError when it did not. A number that
    ends the text may have lost digits to the break (8 of 87): it did not arrive whole."""
    value, end = _DECODER.raw_decode(text, pos)
    if end >= len(text) and isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError("a number at the break")
    return value, end


def _broken_object(text: str, pos: int, depth: int) -> tuple[dict[str, Any], list[str], str | None]:
    """The fields of the object at pos that arrived (the one it broke in cut short), the path of the
    field it broke in, and the last field that arrived whole."""
    found: dict[str, Any] = {}
    last: str | None = None
    pos += 1
    while True:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if not text.startswith('"', pos):
            return found, [], last
        try:
            key, pos = scanstring(text, pos + 1, False)
        except ValueError:
            return found, [], last  # it broke in a field's name: that field is lost
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if not text.startswith(":", pos):
            return found, [], last
        pos = _SPACE.match(text, pos + 1).end()  # type: ignore[union-attr]
        try:
            value, pos = _whole(text, pos)
        except (ValueError, RecursionError):
            value, path = _broken_value(text, pos, depth + 1)
            if value is not _NOTHING:
                found[key] = value
            return found, [key, *path], last
        found[key] = value
        last = key
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if not text.startswith(",", pos):
            return found, [], last  # the end of the text, or something that is not JSON
        pos += 1


def _broken_array(text: str, pos: int, depth: int) -> tuple[list[Any], list[str]]:
    """The elements of the array at pos that arrived, and the path of the one it broke in."""
    found: list[Any] = []
    pos += 1
    while True:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text):
            return found, []
        try:
            value, pos = _whole(text, pos)
        except (ValueError, RecursionError):
            index = str(len(found))
            value, path = _broken_value(text, pos, depth + 1)
            if value is not _NOTHING:
                found.append(value)
            return found, [index, *path]
        found.append(value)
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if not text.startswith(",", pos):
            return found, []
        pos += 1


def _broken_value(text: str, pos: int, depth: int) -> tuple[Any, list[str]]:
    """What arrived of a value that json could not read, and the path inside it of the break."""
    if depth > MAX_DEPTH or pos >= len(text):
        return _NOTHING, []
    first = text[pos]
    if first == '"':
        return _broken_string(text, pos), []
    if first == "{":
        found, path, _ = _broken_object(text, pos, depth)
        return found, path
    if first == "[":
        return _broken_array(text, pos, depth)
    return _NOTHING, []  # a number or a literal cut short: which value it was is unknown


def _broken_string(text: str, pos: int) -> Any:
    """The part of a string that arrived before the break (or before what makes it invalid)."""
    try:
        # Leniently read, a string json refused for a raw control character in it is whole.
        return scanstring(text, pos + 1, False)[0]
    except json.JSONDecodeError as exc:
        # An unterminated string runs to the end of the text; anything else ends where it went wrong.
        end = len(text) if exc.msg.startswith("Unterminated") else exc.pos
    arrived = text[pos + 1:end]
    cut = _CUT_ESCAPE.search(arrived)
    if cut and len(cut.group(1)) % 2:
        arrived = arrived[:cut.start(1) + len(cut.group(1)) - 1]
    arrived += '"'  # in place: CPython grows the only reference to a string instead of copying it
    try:
        value, _ = scanstring(arrived, 0, False)
    except ValueError:
        return _NOTHING
    if value and "\ud800" <= value[-1] <= "\udbff":
        value = value[:-1]  # the first half of a surrogate pair whose second half did not arrive
    return value
