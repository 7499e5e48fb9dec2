"""What every command shares: loading the settings and reporting errors."""

import shlex
from typing import NoReturn

import typer

from app.config import ConfigurationError, Settings, load_settings

# Exit codes: 0 done, 1 refused (nothing to do, or files in the way), 2 invalid input.
EXIT_REFUSED = 1
EXIT_INVALID = 2


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    """Print ``message`` on stderr and end the command with ``code``."""
    typer.echo(message, err=True)
    raise typer.Exit(code)


def settings_or_exit() -> Settings:
    """The settings from the environment and `.env`; exit 2 naming the bad setting."""
    try:
        return load_settings()
    except ConfigurationError as exc:
        fail(str(exc))


def env_line(name: str, value: str) -> str:
    """``NAME=value`` as a `.env` line, quoted only when the value needs it."""
    return f"{name}={shlex.quote(value)}"


def duration(seconds: int) -> str:
    """``seconds`` for people: "900 s (15 minutes)", "1209600 s (14 days)"."""
    for unit, size in (("days", 86_400), ("hours", 3_600), ("minutes", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds} s ({seconds // size} {unit})"
    return f"{seconds} s"
