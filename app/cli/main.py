"""The Typer application and ``main``, the entry point of ``python -m app``."""

from collections.abc import Sequence

import typer

from app.cli.keys import keys_cli
from app.cli.migrate import migrate
from app.cli.outbox import outbox_cli
from app.cli.serve import serve
from app.cli.superuser import create_superuser

PROG_NAME = "python -m app"

cli = typer.Typer(
    help="Administration commands of the auth backend. Settings come from the "
    "environment and .env, as for the app.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    # A pretty traceback would show local variables: passwords and keys among them.
    pretty_exceptions_enable=False,
)
cli.command("create-superuser")(create_superuser)
cli.command("migrate")(migrate)
cli.command("serve")(serve)
cli.add_typer(keys_cli, name="keys")
cli.add_typer(outbox_cli, name="outbox")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command with ``argv`` (default: ``sys.argv[1:]``); return its exit status."""
    command = typer.main.get_command(cli)
    try:
        command.main(
            args=list(argv) if argv is not None else None,
            prog_name=PROG_NAME,
            standalone_mode=True,
        )
    except SystemExit as exc:
        if exc.code is None:
            return 0
        return exc.code if isinstance(exc.code, int) else 1
    return 0
