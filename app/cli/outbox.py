"""``python -m app outbox retry-failed``: send again the emails the outbox gave up on.

Only ids, statuses and counts are printed: message bodies hold one-time codes.
"""

import asyncio
from dataclasses import dataclass, field
from typing import Annotated

import typer
from alembic.util import CommandError
from pymongo.errors import PyMongoError
from sqlalchemy.exc import SQLAlchemyError

from app.cli.common import EXIT_REFUSED, fail, settings_or_exit
from app.config import ConfigurationError, Settings
from app.models.email import OutboxStatus
from app.models.errors import DomainError
from app.utils.clock import SystemClock

EXIT_FAILED = 1

outbox_cli = typer.Typer(
    help="Repair the email outbox.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


@dataclass(slots=True)
class _Outcome:
    count: int
    # One line per --id that is not a failed message, saying what it is instead.
    skipped: list[str] = field(default_factory=list)


def _messages(count: int) -> str:
    return f"{count} failed message" + ("" if count == 1 else "s")


async def _retry(settings: Settings, message_ids: list[str] | None, dry_run: bool) -> _Outcome:
    # Imported here: wiring the storage is slow, and `--help` needs none of it.
    from app.container import build_storage

    storage = build_storage(settings)
    try:
        await storage.open()
        outbox = storage.outbox
        skipped = []
        for message_id in message_ids or []:
            message = await outbox.get(message_id)
            if message is None:
                skipped.append(f"{message_id}: no such message")
            elif message.status is not OutboxStatus.FAILED:
                skipped.append(f"{message_id}: {message.status.value}, not failed")
        if not dry_run:
            count = await outbox.requeue_failed(SystemClock().now(), message_ids)
        elif message_ids is not None:
            count = len(message_ids) - len(skipped)
        else:
            count = (await outbox.count_by_status())[OutboxStatus.FAILED]
    finally:
        await storage.close()
    return _Outcome(count, skipped)


@outbox_cli.command("retry-failed")
def retry_failed(
    message_ids: Annotated[
        list[str] | None,
        typer.Option(
            "--id",
            metavar="ID",
            help="Requeue only this message (repeat for several); "
            "without it, every failed message is requeued.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be requeued; change nothing.")
    ] = False,
) -> None:
    """Put the emails the outbox gave up on back in the queue.

    Each failed message becomes pending again, due now, with its attempt counter
    back at 0 so it gets OUTBOX_MAX_ATTEMPTS tries again; its last error is kept
    until a new attempt replaces it. The email worker of the running app sends
    them. A verification or reset code in an old email may have expired: the user
    can ask for a new one. Applies pending migrations first, like the app at
    start-up.

    Exit status: 0 done (also when nothing had failed), 1 an --id is not a failed
    message (the other ids are still requeued) or the database could not be
    reached, 2 invalid settings.
    """
    settings = settings_or_exit()
    unique_ids = list(dict.fromkeys(message_ids)) if message_ids else None
    try:
        outcome = asyncio.run(_retry(settings, unique_ids, dry_run))
    except ConfigurationError as exc:
        fail(str(exc))
    except DomainError as exc:
        fail(exc.message, EXIT_FAILED)
    except (OSError, SQLAlchemyError, PyMongoError, CommandError) as exc:
        fail(f"Could not use the database: {exc}", EXIT_FAILED)
    for line in outcome.skipped:
        typer.echo(f"Skipped {line}.", err=True)
    if dry_run:
        typer.echo(f"Would requeue {_messages(outcome.count)}; nothing changed (--dry-run).")
    elif outcome.count:
        typer.echo(f"Requeued {_messages(outcome.count)}; the app's email worker sends them.")
    else:
        typer.echo("No failed messages; nothing requeued.")
    if outcome.skipped:
        raise typer.Exit(EXIT_REFUSED)
