"""What an export can be asked for, known without loading the exporters (YAML, WXR, WACZ, static
sites): the command line offers these choices and defaults to every command, and only `export`
needs the rest."""

from __future__ import annotations

FORMATS = ("csv", "json", "jsonl", "markdown", "wxr", "wacz")
WXR_MAX_MB = 15  # below the upload limits hosts commonly set (and PHP's default of 2 MB raised)
