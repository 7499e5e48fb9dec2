"""PostgresReader: one round trip per read, and a restart of the server goes unnoticed."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Column, MetaData, String, Table, bindparam, func, select
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.db.postgres_reader import PostgresReader
from tests.backends import empty_postgres_database

metadata = MetaData()
things = Table("things", metadata, Column("id", String, primary_key=True), Column("name", String))
BY_ID = select(things).where(things.c.id == bindparam("id"))
CONNECTIONS = 2


@pytest.fixture
async def direct() -> AsyncIterator[AsyncEngine]:
    async with empty_postgres_database("reader") as url:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.exec_driver_sql("CREATE TABLE things (id text PRIMARY KEY, name text)")
            await conn.exec_driver_sql("INSERT INTO things VALUES ('a', 'first')")
        yield engine
        await engine.dispose()


@pytest.fixture
async def reader(direct: AsyncEngine) -> AsyncIterator[PostgresReader]:
    reader = PostgresReader(direct.url.render_as_string(hide_password=False), CONNECTIONS)
    yield reader
    await reader.close()


async def _reader_backends(direct: AsyncEngine) -> list[tuple[int, str]]:
    """Process id and state of every other connection to the database."""
    async with direct.connect() as conn:
        rows = await conn.exec_driver_sql(
            "SELECT pid, state FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [(row.pid, row.state) for row in rows]


async def test_reads_see_the_latest_commit_and_leave_no_transaction_open(
    direct: AsyncEngine, reader: PostgresReader
) -> None:
    assert await reader.first(BY_ID, {"id": "a"}) == {"id": "a", "name": "first"}
    async with direct.connect() as conn:
        await conn.exec_driver_sql("UPDATE things SET name = 'second' WHERE id = 'a'")
    row = await reader.first(BY_ID, {"id": "a"})
    assert row is not None
    assert row["name"] == "second"
    assert await reader.first(BY_ID, {"id": "missing"}) is None
    # Autocommit: the pooled connection is idle, not "idle in transaction".
    assert [state for _pid, state in await _reader_backends(direct)] == ["idle"]


async def test_a_connection_killed_by_the_server_is_replaced_without_an_error(
    direct: AsyncEngine, reader: PostgresReader
) -> None:
    await reader.first(BY_ID, {"id": "a"})
    (pid, _state), *_ = await _reader_backends(direct)
    async with direct.connect() as conn:
        await conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")

    row = await reader.first(BY_ID, {"id": "a"})

    assert row is not None
    assert row["name"] == "first"
    assert pid not in {other for other, _state in await _reader_backends(direct)}


async def test_more_readers_than_connections_all_get_their_turn(
    direct: AsyncEngine, reader: PostgresReader
) -> None:
    slow = select(func.pg_sleep(0.05).label("slept"), things.c.name).where(
        things.c.id == bindparam("id")
    )
    rows = await asyncio.gather(*(reader.first(slow, {"id": "a"}) for _ in range(CONNECTIONS * 4)))
    assert [row["name"] if row else None for row in rows] == ["first"] * (CONNECTIONS * 4)
    assert len(await _reader_backends(direct)) == CONNECTIONS


async def test_errors_that_are_not_a_lost_connection_are_raised_without_parameters(
    reader: PostgresReader,
) -> None:
    missing = Table("missing", MetaData(), Column("email", String, primary_key=True))
    statement = select(missing).where(missing.c.email == bindparam("email"))
    with pytest.raises(ProgrammingError, match="does not exist") as raised:
        await reader.first(statement, {"email": "someone@example.com"})
    assert "someone@example.com" not in str(raised.value)
