"""SqliteReader: key lookups run on the event loop, but the loop never waits for a lock."""

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, MetaData, String, Table, bindparam, event, select
from sqlalchemy.exc import OperationalError

from app.db.sqlite_reader import SqliteReader

metadata = MetaData()
things = Table("things", metadata, Column("id", String, primary_key=True), Column("name", String))
BY_ID = select(things).where(things.c.id == bindparam("id"))
LOCK_HELD_SECONDS = 0.3


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "reader.db"
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE things (id TEXT PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO things VALUES ('a', 'first')")
    conn.close()
    return path


@pytest.fixture
def reader(database: Path) -> Iterator[SqliteReader]:
    reader = SqliteReader(f"sqlite+aiosqlite:///{database}", busy_timeout_seconds=5)
    yield reader
    reader.close()


async def test_a_read_sees_what_another_connection_committed_last(
    database: Path, reader: SqliteReader
) -> None:
    assert (await reader.first(BY_ID, {"id": "a"})) == {"id": "a", "name": "first"}
    with sqlite3.connect(database) as writer:
        writer.execute("UPDATE things SET name = 'second' WHERE id = 'a'")
    row = await reader.first(BY_ID, {"id": "a"})
    assert row is not None
    assert row["name"] == "second"
    assert await reader.first(BY_ID, {"id": "missing"}) is None


async def test_a_free_file_is_read_on_the_event_loop_thread(reader: SqliteReader) -> None:
    seen: list[int] = []

    def record_thread(_connection: object, _record: object) -> None:
        seen.append(threading.get_ident())

    # Every connection any engine opens reports the thread that opened it.
    event.listen(Engine, "connect", record_thread)
    try:
        await reader.first(BY_ID, {"id": "a"})
        await reader.first(BY_ID, {"id": "a"})
    finally:
        event.remove(Engine, "connect", record_thread)
    assert seen == [threading.get_ident()]


async def test_a_locked_file_is_read_on_a_thread_while_the_loop_runs_on(
    database: Path, reader: SqliteReader
) -> None:
    # An exclusive lock in WAL mode is the one thing that makes a reader wait.
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE things SET name = 'locked' WHERE id = 'a'")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    async def release_later() -> None:
        await asyncio.sleep(LOCK_HELD_SECONDS)
        holder.execute("COMMIT")
        holder.close()

    ticker = asyncio.create_task(tick())
    releaser = asyncio.create_task(release_later())
    try:
        row = await reader.first(BY_ID, {"id": "a"})
    finally:
        ticker.cancel()
        await releaser
    assert row is not None
    assert row["name"] == "locked"
    # The loop kept running while the read waited: about LOCK_HELD_SECONDS / 0.01 ticks.
    assert ticks >= 10


async def test_errors_other_than_busy_are_raised(reader: SqliteReader) -> None:
    missing = Table("missing", MetaData(), Column("id", String, primary_key=True))
    with pytest.raises(OperationalError, match="no such table"):
        await reader.first(select(missing))
