"""python -m wparchive: the same as the wparchive command."""

from .cli import cli

if __name__ == "__main__":  # worker processes import this module too; they must not run the CLI
    cli(prog_name="wparchive")
