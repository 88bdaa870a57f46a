"""What every cleaning worker needs, loaded once in the process the workers are forked from
(parallel.py's forkserver) and shared by them: the parser, the Markdown converter, and py3langid's language
model, which alone is about 75 MB a process (py3langid 0.4) when each loads its own."""

from __future__ import annotations

import gc

import html_to_markdown  # noqa: F401 - imported to be shared
import lxml.html  # noqa: F401 - imported to be shared

from . import detect_language

detect_language("Loaded once here, so that the workers forked from this process share the model. " * 2)

# What is loaded so far lives as long as the workers: out of the collector's sight, its pages are not
# copied into each worker when a collection there walks the objects (gc.freeze's documented use).
gc.freeze()
