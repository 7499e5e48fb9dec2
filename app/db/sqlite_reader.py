"""Single-row SQLite reads: on the event loop when the file is free, else on a thread."""

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import RowMapping, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import ConnectionPoolEntry, SingletonThreadPool
from sqlalchemy.sql.expression import Executable

READER_THREADS = 2
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


class SqliteReader:
    """Reads one row by key without the aiosqlite round trips.

    SQLite has no network: a lookup by primary key or unique index takes a few
    microseconds. Through aiosqlite, the same lookup costs several hundred, because
    every step (checkout, cursor, execute, fetch, close) is its own trip to the
    connection's thread and back through the event loop, and even one trip (a
    hand-over of the GIL and a wake-up of the loop) costs more than the query.

    So the read runs inline, on the event loop's own connection, with SQLite's busy
    timeout at zero: in WAL mode a reader does not wait for the writer, and in the
    rare moments it would (recovery, a checkpoint resetting the log) SQLite answers
    "busy" at once and the read is handed to a worker thread that may wait. The loop
    never waits on a lock; what it may wait on is the page cache, for a handful of
    index pages of a local file. Callers only pass single-row lookups by key
    (``SqlRepository._first``); listings and writes stay on the async engine.

    pysqlite starts a transaction only before a write, so a read holds no snapshot
    open after it returns and every read sees the latest commit.
    """

    def __init__(
        self, url: str, *, busy_timeout_seconds: float, threads: int = READER_THREADS
    ) -> None:
        sync_url = make_url(url).set(drivername="sqlite+pysqlite")
        self._engine = create_engine(
            sync_url,
            # The pool hands connections between the reader's threads.
            connect_args={"timeout": busy_timeout_seconds, "check_same_thread": False},
            pool_size=threads,
            max_overflow=0,
            # Nothing to roll back after a read (see above); skip the round trip.
            pool_reset_on_return=None,
        )
        event.listen(self._engine, "connect", configure_sqlite)
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="sqlite-read")
        # One connection per event-loop thread, which must never wait for a lock.
        self._inline_engine = create_engine(
            sync_url,
            connect_args={"timeout": 0},
            poolclass=SingletonThreadPool,
            pool_reset_on_return=None,
        )
        event.listen(self._inline_engine, "connect", configure_sqlite)

    async def first(
        self, statement: Executable, parameters: dict[str, Any] | None = None
    ) -> RowMapping | None:
        try:
            return _first(self._inline_engine, statement, parameters)
        except OperationalError as exc:
            if not _is_busy(exc):
                raise
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, _first, self._engine, statement, parameters
        )

    def dispose(self) -> None:
        """Close the pooled connections; the next read opens new ones."""
        self._engine.dispose()
        self._inline_engine.dispose()

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.dispose()


def _first(
    engine: Engine, statement: Executable, parameters: dict[str, Any] | None
) -> RowMapping | None:
    with engine.connect() as conn:
        return conn.execute(statement, parameters).mappings().first()


def _is_busy(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    # Extended codes (SQLITE_BUSY_RECOVERY, ...) keep the primary code in the low byte.
    return code is not None and code & 0xFF in _BUSY_CODES


def configure_sqlite(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    """Set up every new SQLite connection, async or not, the same way."""
    # WAL lets readers run beside the single writer; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
