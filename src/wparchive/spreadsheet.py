"""CSV cells as spreadsheets take them without running anything: one rule for `wparchive export
--format csv` and the CSV that the Datasette plugin streams. A leaf module."""

from __future__ import annotations

from typing import Any

# Excel, LibreOffice and Google Sheets take a cell starting with one of these for a formula (a tab or
# a carriage return may hide one after it).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"  # first in a file, it tells a spreadsheet that the CSV is UTF-8, not the system's legacy encoding


def spreadsheet_safe(value: Any) -> Any:
    """A cell as a spreadsheet shows it without running it: text starting with a FORMULA_STARTS
    character gets a "'" before it, as OWASP advises; other values are as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
