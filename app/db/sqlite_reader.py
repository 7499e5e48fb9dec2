"""Single-row SQLite reads: on the event loop when the file is free, else on a thread."""

import asyncio
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from sqlalchemy import Engine, Select, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import ConnectionPoolEntry, SingletonThreadPool

READER_THREADS = 2
# The repositories' lookups are module constants: a dozen or so statements.
COMPILED_CACHE_SIZE = 64
# Rows of about 2 kB: a few MB per event-loop thread at most.
ROW_CACHE_SIZE = 2048
ROW_CACHE_KEY = "app.row_cache"
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
    index pages of a local file. Callers only pass single-row lookups by key, each
    built once at import (``SqlRepository._first``); each is compiled once and run on
    the driver's connection (``CompiledSelect``). Listings and writes stay on the
    async engine.

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
        self._compiled: dict[int, CompiledSelect] = {}

    async def first(
        self, statement: Select[Any], parameters: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        compiled = self._compile(statement)
        try:
            return _run(self._inline_engine, compiled, parameters, cached=True)
        except OperationalError as exc:
            if not _is_busy(exc):
                raise
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, _run, self._engine, compiled, parameters)

    def dispose(self) -> None:
        """Close the pooled connections; the next read opens new ones."""
        self._engine.dispose()
        self._inline_engine.dispose()

    async def close(self) -> None:
        self._executor.shutdown(wait=True)
        self.dispose()

    def _compile(self, statement: Select[Any]) -> "CompiledSelect":
        key = id(statement)
        compiled = self._compiled.get(key)
        # The entry holds its statement, so the id cannot have been reused.
        if compiled is None or compiled.statement is not statement:
            compiled = CompiledSelect(statement, self._engine.dialect)
            if len(self._compiled) >= COMPILED_CACHE_SIZE:
                self._compiled.pop(next(iter(self._compiled)))
            self._compiled[key] = compiled
        return compiled


class CompiledSelect:
    """A SELECT compiled once for SQLite and run on the driver's own connection.

    SQLAlchemy's execution path (connection object, cache key, result metadata,
    row and mapping objects) costs about 50 us per read, five times the query.
    This keeps what it computes once: the SQL, the parameters in order with their
    conversions, and each column's conversion (datetimes, booleans, JSON), taken
    from the same column types, so rows come out as the engine would return them.
    """

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.statement = statement
        self._compiled = compiled
        self.sql = compiled.string
        names = tuple(compiled.positiontup or ())
        self._parameters = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in names
        ]
        self._columns: list[tuple[str, Callable[[Any], Any] | None]] = []
        for column in statement.selected_columns:
            if column.key is None:
                raise ValueError(f"unnamed column in {self.sql!r}: label it")
            convert = column.type.dialect_impl(dialect).result_processor(dialect, None)
            self._columns.append((column.key, convert))

    def first(
        self, connection: DBAPIConnection, parameters: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        values = self._compiled.construct_params(parameters)
        arguments = [
            values[name] if convert is None else convert(values[name])
            for name, convert in self._parameters
        ]
        cursor = connection.cursor()
        try:
            cursor.execute(self.sql, arguments)
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        return {
            key: value if convert is None else convert(value)
            for (key, convert), value in zip(self._columns, row, strict=True)
        }


class RowCache:
    """The rows one connection has read, valid until anyone commits to the file.

    ``PRAGMA data_version`` changes whenever another connection, in this process or
    any other, commits to the database. While it stays the same, no row can have
    changed, so a lookup is answered from memory; the first read after any commit
    empties the cache. Unlike a cache with a time to live, this one never answers
    what the database would not: a logout or a deactivation in another worker is
    seen by the very next request here. Checking costs one pragma (~2 us) instead
    of a query and its conversions.
    """

    def __init__(self, size: int = ROW_CACHE_SIZE) -> None:
        self._size = size
        self._version: int | None = None
        self._rows: OrderedDict[Hashable, dict[str, Any] | None] = OrderedDict()

    def read(
        self,
        connection: DBAPIConnection,
        compiled: "CompiledSelect",
        parameters: dict[str, Any] | None,
    ) -> dict[str, Any] | None:
        cursor = connection.cursor()
        try:
            (version,) = cursor.execute("PRAGMA data_version").fetchone()
        finally:
            cursor.close()
        if version != self._version:
            self._rows.clear()
            self._version = version
        key = (compiled.sql, *sorted((parameters or {}).items()))
        if key in self._rows:
            self._rows.move_to_end(key)
        else:
            self._rows[key] = compiled.first(connection, parameters)
            if len(self._rows) > self._size:
                self._rows.popitem(last=False)
        row = self._rows[key]
        # A copy: callers own what they get, and the cached row stays as read.
        return dict(row) if row is not None else None


def _run(
    engine: Engine,
    compiled: CompiledSelect,
    parameters: dict[str, Any] | None,
    *,
    cached: bool = False,
) -> dict[str, Any] | None:
    try:
        connection = engine.raw_connection()
        try:
            if not cached:
                return compiled.first(connection, parameters)
            # data_version is per connection, so each connection has its own cache.
            cache = connection.info.setdefault(ROW_CACHE_KEY, RowCache())
            return cast(RowCache, cache).read(connection, compiled, parameters)
        finally:
            connection.close()
    except sqlite3.Error as exc:
        # The exception the engine would raise, so callers handle one kind; the
        # parameters (emails, keys) stay out of its message and so out of logs.
        raise DBAPIError.instance(
            compiled.sql, parameters, exc, sqlite3.Error, hide_parameters=True
        ) from exc


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
