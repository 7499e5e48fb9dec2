"""Alembic owns the SQL schema: the migrations must build exactly what the models describe."""

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import Database
from app.repositories.sql.migrator import alembic_config, upgrade_to_head
from app.repositories.sql.tables import metadata

TABLES = {
    "users",
    "sessions",
    "one_time_codes",
    "cooldowns",
    "outbox_messages",
    "audit_events",
    "login_lockouts",
    "guess_counters",
    "email_requests",
}


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    server = os.environ.get("TEST_POSTGRES_URL")
    if not server:
        pytest.skip("set TEST_POSTGRES_URL (postgresql+asyncpg://...) to run against PostgreSQL")
    # A database of its own: the migrations create and drop every table.
    name = f"migrations_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_migrations_match_the_models(database_url: str) -> None:
    engine = Database.connect(database_url)
    try:
        await upgrade_to_head(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == TABLES
            assert await conn.run_sync(_differences) == []
    finally:
        await Database.dispose()


async def test_upgrade_is_idempotent_and_downgrade_removes_everything(database_url: str) -> None:
    engine = Database.connect(database_url)
    try:
        await upgrade_to_head(engine)
        await upgrade_to_head(engine)

        def downgrade(connection: Connection) -> None:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "base")

        async with engine.begin() as conn:
            await conn.run_sync(downgrade)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()
        await upgrade_to_head(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == TABLES
    finally:
        await Database.dispose()
