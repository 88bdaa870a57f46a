"""python -m wparchive: the same as the wparchive command."""

from .cli import cli

cli(prog_name="wparchive")
