"""Footnotes, wherever a plugin put them, as notes after the body: "[^1]" in Markdown with its
"[^1]: note" at the end, "[1]" in the text with the numbered notes after it.

WordPress's footnotes block and the classic plugins (Easy Footnotes, Footnotes Made Easy,
WP-Footnotes) link a reference to a list of notes at the end; Modern Footnotes and tooltip plugins
put the note's text right after its reference, mid-sentence, which a cleaner that takes the page
as it is reads as part of the sentence. Both become the same notes.
"""

from __future__ import annotations

import re

import lxml.html
from lxml.html import HtmlElement

from .render import NOTE_CLOSE, NOTE_DEFINITION, NOTE_REFERENCE, classes_of, has_ancestor, replace_with_text, text_of

BACKLINKS = frozenset({"↩", "↩︎", "⏎", "^", "↑", "⬆", "⤴"})
# Notes written into the sentence they belong to, by the plugins that show them on hover or click.
_INLINE_NOTE = re.compile(r"modern-footnotes-footnote__note|footnote_tooltip|footnote-tooltip|easy-footnote-tooltip")
# Where a plugin that shows notes in place also lists them, behind a "[+]" toggle: the notes are
# taken from their place.
_REPEATED_NOTES = re.compile(r"footnotes_reference_container|footnote_container_prepare")
_EMPTY_BRACKETS = re.compile(r"\s*\[\s*\]\s*$")  # what "[↩]" leaves once its link is gone
_NOTES_HEADING = re.compile(r"^(?:foot)?notes?:?$|^anmerkungen:?$|^fußnoten:?$|^notas?:?$|^注:?$|^脚注:?$", re.I)


def footnotes(root: HtmlElement, references: list[HtmlElement], anchors: list[HtmlElement]) -> bool:
    """References as note markers and the notes after the body; True when anything changed.
    A reference whose note cannot be found keeps its number as text, "[1]"."""
    for link in anchors:
        if link.getparent() is not None and _is_backlink(link):
            link.drop_tree()
    for repeated in [e for e in root.iter("div") if _REPEATED_NOTES.search(e.get("class") or "")]:
        if repeated.getparent() is not None:
            repeated.drop_tree()
    lists = [e for e in root.iter("ol", "ul") if any("footnote" in name for name in classes_of(e))]
    by_id = {ident: item for notes in lists for item in notes.iter("li") for ident in _ids_of(item)}
    numbered: dict[int, HtmlElement] = {}  # identity of the note's element → its number
    made: list[tuple[int, HtmlElement]] = []
    changed = bool(lists)
    for reference in references:
        sup = reference if reference.tag == "sup" else next(reference.iterancestors("sup"), reference)
        if sup.getparent() is None or not has_ancestor(sup, root):
            continue  # replaced already, through its other half
        note = _note_of(sup, by_id)
        if note is None:
            label = sup.text_content().strip().strip("[]")
            if label and len(label) <= 4:
                replace_with_text(sup, f"[{label}]")
                changed = True
            continue
        number = numbered.get(id(note))
        if number is None:
            number = numbered[id(note)] = len(numbered) + 1
            made.append((number, note))
        replace_with_text(sup, f"{NOTE_REFERENCE}{number}{NOTE_CLOSE}")
        changed = True
    for notes in lists:
        heading = notes.getprevious()
        if heading is not None and _NOTES_HEADING.match(text_of(heading)):
            heading.drop_tree()
        parent = notes.getparent()
        if parent is not None:
            notes.drop_tree()
            if parent is not root and not text_of(parent) and parent.getparent() is not None:
                parent.drop_tree()  # a wrapper left empty
    if made:
        root.append(_notes_block(made))
    return changed


def _note_of(sup: HtmlElement, by_id: dict[str, HtmlElement]) -> HtmlElement | None:
    """The note a reference leads to: a list item it links to, or the note written after it."""
    for link in sup.iter("a"):
        target = (link.get("href") or "").partition("#")[2]
        if target and target in by_id:
            return by_id[target]
    following = sup.getnext()
    if following is not None and _INLINE_NOTE.search(following.get("class") or "") and not (sup.tail or "").strip():
        following.drop_tree()  # the text after it stays in place
        return following
    mark = sup.get("data-mfn")
    if mark is not None:  # Modern Footnotes: the note may not follow at once
        parent = sup.getparent()
        for candidate in parent.iter("span") if parent is not None else ():
            if candidate.get("data-mfn") == mark and _INLINE_NOTE.search(candidate.get("class") or ""):
                candidate.drop_tree()
                return candidate
    return None


def _notes_block(notes: list[tuple[int, HtmlElement]]) -> HtmlElement:
    block = lxml.html.Element("div", {"class": "wparchive-notes"})
    for number, note in notes:
        paragraph = lxml.html.Element("p")
        paragraph.text = f"{NOTE_DEFINITION}{number}{NOTE_CLOSE} " + (note.text or "").lstrip()
        for child in list(note):
            if _INLINE_NOTE.search(child.get("class") or "") is None:
                paragraph.append(child)
        if len(paragraph):
            paragraph[-1].tail = _EMPTY_BRACKETS.sub("", (paragraph[-1].tail or "").rstrip())
        else:
            paragraph.text = _EMPTY_BRACKETS.sub("", paragraph.text.rstrip())
        block.append(paragraph)
    return block


def _ids_of(item: HtmlElement) -> list[str]:
    """The ids a reference may link to: the item's, or those of anchors inside it (Easy Footnotes)."""
    return [ident for element in item.iter() if isinstance(element.tag, str) and (ident := element.get("id"))]


def _is_backlink(link: HtmlElement) -> bool:
    text = link.text_content().strip()
    names = " ".join(classes_of(link))
    return text in BACKLINKS or "back-link" in names or "to-top" in names or (
        not text and (link.get("href") or "").startswith("#") and "footnote" in names)
