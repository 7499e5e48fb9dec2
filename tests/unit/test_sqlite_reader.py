"""SqliteReader: key lookups run on the event loop, but the loop never waits for a lock."""

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    select,
)
from sqlalchemy.exc import OperationalError

from app.db.sqlite_reader import SqliteReader
from app.repositories.sql.tables import UtcDateTime

metadata = MetaData()
things = Table("things", metadata, Column("id", String, primary_key=True), Column("name", String))
BY_ID = select(things).where(things.c.id == bindparam("id"))
LOCK_HELD_SECONDS = 0.3
PLUS_TWO = timezone(timedelta(hours=2))


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
async def reader(database: Path) -> AsyncIterator[SqliteReader]:
    reader = SqliteReader(f"sqlite+aiosqlite:///{database}", busy_timeout_seconds=5)
    yield reader
    await reader.close()


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


async def test_rows_come_out_exactly_as_the_engine_returns_them(
    database: Path, reader: SqliteReader
) -> None:
    typed = Table(
        "typed",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("at", UtcDateTime()),
        Column("flag", Boolean),
        Column("tags", JSON),
        Column("note", String),
    )
    first = datetime(2026, 11, 26, 8, 54, 31, 176_000, tzinfo=UTC)
    engine = create_engine(f"sqlite:///{database}")
    typed.create(engine)
    with engine.begin() as conn:
        conn.execute(
            typed.insert(),
            [
                {"id": 1, "at": first, "flag": True, "tags": ["a", "b"], "note": None},
                {"id": 2, "at": first + timedelta(days=1), "flag": False, "tags": [], "note": "x"},
            ],
        )
    by_id = select(typed).where(typed.c.id == bindparam("id"))
    # A datetime parameter needs the engine's conversion on the way in as well.
    labelled = select(typed.c.id, typed.c.at.label("when"), typed.c.flag).where(
        typed.c.at > bindparam("after")
    )
    cases = [
        (by_id, {"id": 1}),
        (by_id, {"id": 2}),
        (labelled, {"after": first}),
        # Stored as UTC text: a parameter in another zone must be converted to match.
        (labelled, {"after": (first - timedelta(seconds=1)).astimezone(PLUS_TWO)}),
    ]
    for statement, parameters in cases:
        with engine.connect() as conn:
            expected = conn.execute(statement, parameters).mappings().first()
        assert expected is not None
        assert await reader.first(statement, parameters) == dict(expected)
    engine.dispose()


async def test_a_failed_read_names_no_parameter(reader: SqliteReader) -> None:
    missing = Table("missing", MetaData(), Column("email", String, primary_key=True))
    statement = select(missing).where(missing.c.email == bindparam("email"))
    with pytest.raises(OperationalError) as raised:
        await reader.first(statement, {"email": "someone@example.com"})
    assert "someone@example.com" not in str(raised.value)


async def test_until_someone_commits_a_lookup_is_answered_without_running_it(
    database: Path, reader: SqliteReader
) -> None:
    statements: list[str] = []

    def trace(connection: sqlite3.Connection, _record: object) -> None:
        connection.set_trace_callback(statements.append)

    event.listen(Engine, "connect", trace)
    try:
        first = await reader.first(BY_ID, {"id": "a"})
        statements.clear()
        again = await reader.first(BY_ID, {"id": "a"})
        unchanged = list(statements)
        with sqlite3.connect(database) as writer:
            writer.execute("UPDATE things SET name = 'second' WHERE id = 'a'")
        statements.clear()
        after_commit = await reader.first(BY_ID, {"id": "a"})
    finally:
        event.remove(Engine, "connect", trace)

    assert again == first
    assert unchanged == ["PRAGMA data_version"]
    assert after_commit == {"id": "a", "name": "second"}
    assert any(statement.startswith("SELECT") for statement in statements)


async def test_a_caller_cannot_change_what_the_next_caller_reads(reader: SqliteReader) -> None:
    row = await reader.first(BY_ID, {"id": "a"})
    assert row is not None
    row["name"] = "changed by a caller"
    assert await reader.first(BY_ID, {"id": "a"}) == {"id": "a", "name": "first"}
