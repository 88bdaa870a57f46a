"""Code as syntax-highlighting plugins leave it, made one plain <pre> with its language.

Each plugin marks code up its own way: SyntaxHighlighter Evolved writes <pre class="brush: php">
(and its script, on a saved page, a table of numbered lines), WP-Syntax and Crayon a table with a
column of line numbers, Prism and highlight.js a class "language-x" on the code, Enlighter an
attribute. Taken as they are, line numbers join the code, each line becomes a table row, and the
language is lost; made plain, the Markdown gets one fenced block with its language.
"""

from __future__ import annotations

import re

import lxml.html
from lxml.html import HtmlElement

from .render import LANGUAGE, LANGUAGE_ATTRIBUTE, classes_of

# Elements that hold a plugin's whole code widget (toolbar, numbers, code): rebuilt as one <pre>.
WIDGET_CLASSES = frozenset({"syntaxhighlighter", "wp_syntax", "crayon-syntax", "hljs-ln"})
_LANGUAGE_CLASS = re.compile(r"^(?:language|lang|brush|highlight-source|sourceCode)-([\w+#.-]{1,30})$", re.I)
_BRUSH = re.compile(r"\bbrush:\s*([\w+#.-]{1,30})", re.I)
# Classes that name no language (highlight.js and Prism add them beside the language's).
_NOT_LANGUAGES = frozenset({"hljs", "notranslate", "syntaxhighlighter", "wp_syntax", "code", "plain", "text",
                            "line-numbers", "nohighlight", "prettyprint", "linenums", "collapse", "toolbar",
                            "crayon-syntax", "crayon-theme", "wp-block-code", "hljs-ln"})
_GUTTER_CLASSES = frozenset({"gutter", "line_numbers", "crayon-nums", "hljs-ln-numbers", "line-numbers"})


def is_code_widget(classes: list[str]) -> bool:
    return not WIDGET_CLASSES.isdisjoint(classes)


def plain_code_widget(widget: HtmlElement) -> HtmlElement:
    """A plugin's code widget as <pre> holding its code, one line per line, without line numbers."""
    classes = classes_of(widget)
    language = _language_of(widget) or _widget_language(widget, classes)
    plain = next((t for t in widget.iter("textarea") if "crayon-plain" in classes_of(t)), None)
    if plain is not None:  # Crayon keeps the code as written, for copying
        code = plain.text or ""
    else:
        lines = [line for line in widget.iter("div", "td", "li") if _is_code_line(line)]
        if lines:
            code = "\n".join(_line_text(line) for line in lines)
        else:
            code_cell = next((e for e in widget.iter("td", "pre") if _is_code_cell(e)), widget)
            code = code_cell.text_content()
    pre = lxml.html.Element("pre")
    pre.text = code.replace("\u00a0", " ").strip("\n")
    if language:
        pre.set(LANGUAGE_ATTRIBUTE, language)
    return pre


def mark_language(pre: HtmlElement) -> bool:
    """Note on a <pre> the language its plugin named (class, brush or attribute), for the fence;
    whether it named one."""
    pre.attrib.pop(LANGUAGE_ATTRIBUTE, None)  # only ours: the site's own would be read as ours
    language = _language_of(pre)
    if language is None:
        inner = next(pre.iter("code"), None)
        language = _language_of(inner) if inner is not None else None
    if language:
        pre.set(LANGUAGE_ATTRIBUTE, language)
    return language is not None


def _language_of(element: HtmlElement) -> str | None:
    for name in ("data-enlighter-language", "data-language", "data-lang", "lang"):
        value = element.get(name)
        if value and element.tag in ("pre", "code") and LANGUAGE.fullmatch(value.strip()):
            return value.strip().lower()
    value = element.get("class") or ""
    if (brush := _BRUSH.search(value)) is not None:
        return brush.group(1).lower()
    for name in value.split():
        if (match := _LANGUAGE_CLASS.match(name)) is not None and match.group(1).lower() not in _NOT_LANGUAGES:
            return match.group(1).lower()
    if (element.tag == "pre" and "wp_syntax" not in value) or (element.tag == "code" and "hljs" in value.split()):
        # WP-Syntax and GeSHi name the language alone, <pre class="php">, and highlight.js beside
        # its own class, <code class="hljs bash">
        names = [n for n in value.split() if LANGUAGE.fullmatch(n) and n.lower() not in _NOT_LANGUAGES]
        if len(names) == 1 and not names[0].startswith(("wp-", "is-", "has-")):
            return names[0].lower()
    return None


def _widget_language(widget: HtmlElement, classes: list[str]) -> str | None:
    if "syntaxhighlighter" in classes:  # <div class="syntaxhighlighter  php">
        names = [n for n in classes if n not in _NOT_LANGUAGES and LANGUAGE.fullmatch(n)]
        return names[0].lower() if names else None
    for element in widget.iter("pre", "code", "span"):
        if "crayon-language" in classes_of(element):
            text = element.text_content().strip()
            return text.lower() if LANGUAGE.fullmatch(text) else None
        language = _language_of(element)
        if language:
            return language
    return None


def _is_code_line(element: HtmlElement) -> bool:
    classes = classes_of(element)
    if "line" in classes or "crayon-line" in classes or "hljs-ln-code" in classes:
        return not any(not _GUTTER_CLASSES.isdisjoint(classes_of(a)) for a in element.iterancestors())
    return False


def _is_code_cell(element: HtmlElement) -> bool:
    classes = classes_of(element)
    return ("code" in classes or "crayon-code" in classes or "hljs-ln-code" in classes
            or (element.tag == "pre" and not any(not _GUTTER_CLASSES.isdisjoint(classes_of(a))
                                                  for a in element.iterancestors())))


def _line_text(line: HtmlElement) -> str:
    return line.text_content().replace("\u00a0", " ").rstrip("\n")
