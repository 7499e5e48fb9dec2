"""The command line, ``python -m app <command>``: a composition-level entry point like main.py."""

from app.cli.main import cli, main

__all__ = ["cli", "main"]
