"""SqliteReader: key lookups run on the event loop, but the loop never waits for a lock."""

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
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


@dataclass
class InlineTrace:
    """What the reader's inline connections did: the threads that opened them and
    every statement they ran."""

    threads: list[int] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)


@pytest.fixture
def inline_trace(monkeypatch: pytest.MonkeyPatch) -> InlineTrace:
    trace = InlineTrace()
    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = real_connect(*args, **kwargs)
        # The inline connection is the one that must never wait for a lock.
        if kwargs.get("timeout") == 0:
            trace.threads.append(threading.get_ident())
            connection.set_trace_callback(trace.statements.append)
        return connection

    monkeypatch.setattr(sqlite3, "connect", connect)
    return trace


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


async def test_a_free_file_is_read_on_the_event_loop_thread(
    reader: SqliteReader, inline_trace: InlineTrace
) -> None:
    await reader.first(BY_ID, {"id": "a"})
    await reader.first(BY_ID, {"id": "a"})
    assert inline_trace.threads == [threading.get_ident()]
    assert any(statement.startswith("SELECT") for statement in inline_trace.statements)


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
        actual = await reader.first(statement, parameters)
        assert actual is not None
        # By type as well: True == 1 would hide a missing Boolean conversion.
        assert {key: (value, type(value)) for key, value in actual.items()} == {
            key: (value, type(value)) for key, value in expected.items()
        }
    engine.dispose()


async def test_a_failed_read_names_no_parameter(reader: SqliteReader) -> None:
    missing = Table("missing", MetaData(), Column("email", String, primary_key=True))
    statement = select(missing).where(missing.c.email == bindparam("email"))
    with pytest.raises(OperationalError) as raised:
        await reader.first(statement, {"email": "someone@example.com"})
    assert "someone@example.com" not in str(raised.value)


async def test_until_someone_commits_a_lookup_is_answered_without_running_it(
    database: Path, reader: SqliteReader, inline_trace: InlineTrace
) -> None:
    first = await reader.first(BY_ID, {"id": "a"})
    inline_trace.statements.clear()
    again = await reader.first(BY_ID, {"id": "a"})
    unchanged = list(inline_trace.statements)
    with sqlite3.connect(database) as writer:
        writer.execute("UPDATE things SET name = 'second' WHERE id = 'a'")
    inline_trace.statements.clear()
    after_commit = await reader.first(BY_ID, {"id": "a"})

    assert again == first
    assert unchanged == ["PRAGMA data_version"]
    assert after_commit == {"id": "a", "name": "second"}
    assert any(statement.startswith("SELECT") for statement in inline_trace.statements)


async def test_values_written_into_a_statement_are_part_of_what_is_cached(
    database: Path, reader: SqliteReader
) -> None:
    with sqlite3.connect(database) as writer:
        writer.execute("INSERT INTO things VALUES ('b', 'other')")
    # The same SQL text ("... WHERE id = ?") with different values in the statement.
    first = await reader.first(select(things).where(things.c.id == "a"))
    other = await reader.first(select(things).where(things.c.id == "b"))
    preset = await reader.first(select(things).where(things.c.id == bindparam("id", "b")))
    assert (first, other, preset) == (
        {"id": "a", "name": "first"},
        {"id": "b", "name": "other"},
        {"id": "b", "name": "other"},
    )


async def test_statements_it_cannot_run_as_the_engine_would_are_refused(
    reader: SqliteReader,
) -> None:
    with pytest.raises(ValueError, match="execution time"):
        await reader.first(select(things).where(things.c.id.in_(["a", "b"])))
    with pytest.raises(ValueError, match="share a name"):
        await reader.first(select(things.c.id, things.c.name.label("id")))


async def test_a_caller_cannot_change_what_the_next_caller_reads(
    database: Path, reader: SqliteReader
) -> None:
    row = await reader.first(BY_ID, {"id": "a"})
    assert row is not None
    row["name"] = "changed by a caller"
    assert await reader.first(BY_ID, {"id": "a"}) == {"id": "a", "name": "first"}

    tagged = Table(
        "tagged", MetaData(), Column("id", Integer, primary_key=True), Column("tags", JSON)
    )
    engine = create_engine(f"sqlite:///{database}")
    tagged.create(engine)
    with engine.begin() as conn:
        conn.execute(tagged.insert(), {"id": 1, "tags": ["a"]})
    engine.dispose()
    by_id = select(tagged).where(tagged.c.id == bindparam("id"))
    nested = await reader.first(by_id, {"id": 1})
    assert nested is not None
    nested["tags"].append("added by a caller")
    assert await reader.first(by_id, {"id": 1}) == {"id": 1, "tags": ["a"]}


async def test_threads_with_their_own_loops_each_read_on_their_own_connection(
    reader: SqliteReader, inline_trace: InlineTrace
) -> None:
    # More threads than SQLAlchemy's SingletonThreadPool keeps (5), each with a loop.
    threads = 8
    rounds = 20
    results: list[object] = []
    # All alive at once, so each has an identity (and a connection) of its own.
    together = threading.Barrier(threads)

    def worker() -> None:
        async def reads() -> None:
            together.wait()
            for _ in range(rounds):
                results.append(await reader.first(BY_ID, {"id": "a"}))

        asyncio.run(reads())

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    await asyncio.gather(*(asyncio.to_thread(thread.join) for thread in workers))
    assert results == [{"id": "a", "name": "first"}] * (threads * rounds)
    assert len(set(inline_trace.threads)) == threads
