"""Single-row SQLite reads in one trip to a worker thread."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import RowMapping, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.expression import Executable

READER_THREADS = 2


class SqliteReader:
    """Runs a whole read (pool checkout, execute, fetch, return) as one call on a thread.

    SQLite has no network: a lookup by primary key takes a few microseconds. Through
    aiosqlite, the same lookup costs several hundred, because every step (checkout,
    cursor, execute, fetch, close) is its own trip to the connection's thread and
    back through the event loop. This reader makes one trip. It serves the hot path
    (the session and user checked on every authenticated request) outside any unit of
    work; writes and transactions stay on the async engine.

    pysqlite starts a transaction only before a write, so a read holds no snapshot
    open after it returns and every read sees the latest commit (WAL mode).
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

    async def first(
        self, statement: Executable, parameters: dict[str, Any] | None = None
    ) -> RowMapping | None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._first, statement, parameters)

    def _first(self, statement: Executable, parameters: dict[str, Any] | None) -> RowMapping | None:
        with self._engine.connect() as conn:
            return conn.execute(statement, parameters).mappings().first()

    def dispose(self) -> None:
        """Close the pooled connections; the next read opens new ones."""
        self._engine.dispose()

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._engine.dispose()


def configure_sqlite(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    """Set up every new SQLite connection, async or not, the same way."""
    # WAL lets readers run beside the single writer; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
