"""``python -m app migrate``."""

import asyncio

import typer
from alembic.util import CommandError
from pymongo.errors import PyMongoError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from app.cli.common import fail, settings_or_exit
from app.config import ConfigurationError, Settings

EXIT_FAILED = 1


async def _open_and_close(settings: Settings) -> None:
    # Imported here: wiring every layer is slow, and `keys` and `--help` need none of it.
    from app.container import build_storage

    storage = build_storage(settings)
    try:
        await storage.open()  # SQL: migrate to the newest revision; MongoDB: create indexes
    finally:
        await storage.close()


def _describe(settings: Settings) -> str:
    if settings.mongo_url is not None:
        return f"MongoDB database {settings.mongo_database!r}: indexes are in place."
    url = make_url(settings.database_url).render_as_string(hide_password=True)
    return f"{url}: the schema is at the newest migration."


def migrate() -> None:
    """Bring the database schema up to date, then exit.

    SQL databases (SQLite, PostgreSQL) get every pending Alembic migration; MongoDB
    gets its collections' indexes. Safe to run again: it does nothing when the
    schema is current. The app does the same at start-up; this runs it on its own,
    for example as a deployment step before the new version starts.

    Exit status: 0 done, 1 the database refused or could not be reached, 2 invalid
    settings.
    """
    settings = settings_or_exit()
    try:
        asyncio.run(_open_and_close(settings))
    except ConfigurationError as exc:
        fail(str(exc))
    except (OSError, SQLAlchemyError, PyMongoError, CommandError) as exc:
        fail(f"Migration failed: {exc}", EXIT_FAILED)
    typer.echo(_describe(settings))
