"""Single-row SQLite reads: on the event loop when the file is free, else on a thread."""

import asyncio
import copy
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import Select, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import ConnectionPoolEntry

READER_THREADS = 2
# The repositories' lookups are module constants: a dozen or so statements.
COMPILED_CACHE_SIZE = 64
# Rows of about 2 kB: a few MB per event-loop thread at most.
ROW_CACHE_SIZE = 2048
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


class Cursors(Protocol):
    """A pysqlite connection, pooled or not."""

    def cursor(self) -> Any: ...


class SqliteReader:
    """Reads one row by key without the aiosqlite round trips.

    SQLite has no network: a lookup by primary key or unique index takes a few
    microseconds. Through aiosqlite, the same lookup costs several hundred, because
    every step (checkout, cursor, execute, fetch, close) is its own trip to the
    connection's thread and back through the event loop, and even one trip (a
    hand-over of the GIL and a wake-up of the loop) costs more than the query.

    So the read runs inline, on the event-loop thread's own connection, with SQLite's
    busy timeout at zero: in WAL mode a reader does not wait for the writer, and in
    the rare moments it would (recovery, a checkpoint resetting the log) SQLite
    answers "busy" at once and the read is handed to a worker thread that may wait.
    The loop never waits on a lock; what it may wait on is the page cache, for a
    handful of index pages of a local file. Callers only pass single-row lookups by
    key, each built once at import (``SqlRepository._first``); each is compiled once
    and run on the driver's connection (``CompiledSelect``), and its rows are kept
    until anyone commits (``RowCache``). Listings and writes stay on the async engine.

    pysqlite starts a transaction only before a write, so a read holds no snapshot
    open after it returns and every read sees the latest commit.
    """

    def __init__(
        self, url: str, *, busy_timeout_seconds: float, threads: int = READER_THREADS
    ) -> None:
        sync_url = make_url(url).set(drivername="sqlite+pysqlite")
        self._path = sync_url.database or ""
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
        # Each thread that runs an event loop gets its own inline connection; a
        # dispose() bumps the generation so that every thread reopens its own.
        self._local = threading.local()
        self._generation = 0
        self._compiled: dict[int, CompiledSelect] = {}

    async def first(
        self, statement: Select[Any], parameters: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        compiled = self._compile(statement)
        arguments = compiled.arguments(parameters)
        try:
            with _as_engine_error(compiled.sql):
                return self._inline().read(compiled, arguments)
        except OperationalError as exc:
            if not _is_busy(exc):
                raise
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._read_pooled, compiled, arguments)

    def dispose(self) -> None:
        """Close the connections; the next read opens new ones."""
        self._engine.dispose()
        self._generation += 1
        # This thread's connection closes now; any other thread's on its next read,
        # by that thread (sqlite3 connections belong to the thread that opened them).
        inline: InlineConnection | None = getattr(self._local, "inline", None)
        if inline is not None:
            inline.close()
            self._local.inline = None

    async def close(self) -> None:
        # A read waiting for a lock may hold a thread for the busy timeout.
        await asyncio.to_thread(self._executor.shutdown)
        self.dispose()

    def _inline(self) -> "InlineConnection":
        inline: InlineConnection | None = getattr(self._local, "inline", None)
        if inline is None or inline.generation != self._generation:
            if inline is not None:
                inline.close()
            inline = InlineConnection(self._path, self._generation)
            self._local.inline = inline
        return inline

    def _read_pooled(
        self, compiled: "CompiledSelect", arguments: tuple[Any, ...]
    ) -> dict[str, Any] | None:
        with _as_engine_error(compiled.sql):
            connection = self._engine.raw_connection()
            try:
                return compiled.first(connection, arguments)
            finally:
                connection.close()

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


class InlineConnection:
    """One event-loop thread's own connection, which never waits for a lock, and its rows."""

    def __init__(self, path: str, generation: int) -> None:
        self.generation = generation
        # check_same_thread stays on: only the thread that opened it may use or close it.
        self._connection = sqlite3.connect(path, timeout=0)
        configure_connection(self._connection)
        self._rows = RowCache()

    def read(self, compiled: "CompiledSelect", arguments: tuple[Any, ...]) -> dict[str, Any] | None:
        return self._rows.read(self._connection, compiled, arguments)

    def close(self) -> None:
        self._connection.close()


class CompiledSelect:
    """A SELECT compiled once for SQLite and run on the driver's own connection.

    SQLAlchemy's execution path (connection object, cache key, result metadata,
    row and mapping objects) costs about 50 us per read, five times the query.
    This keeps what it computes once: the SQL, the parameters in order with their
    conversions, and each column's conversion (datetimes, booleans, JSON), taken
    from the same column types, so rows come out as the engine would return them.
    Statements this cannot run as the engine would are refused when compiled.
    """

    def __init__(self, statement: Select[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.statement = statement
        self._compiled = compiled
        self.sql = compiled.string
        # IN lists and literal-execute values are rendered at execution time.
        if any(bind.expanding or bind.literal_execute for bind in compiled.binds.values()):
            raise ValueError(f"parameters rendered at execution time in {self.sql!r}")
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
        if len({key for key, _ in self._columns}) != len(self._columns):
            raise ValueError(f"two columns share a name in {self.sql!r}: label them")

    def arguments(self, parameters: dict[str, Any] | None) -> tuple[Any, ...]:
        """What the driver receives: bound values (also those written into the
        statement) in order, converted as the engine would."""
        values = self._compiled.construct_params(parameters)
        return tuple(
            values[name] if convert is None else convert(values[name])
            for name, convert in self._parameters
        )

    def first(self, connection: Cursors, arguments: tuple[Any, ...]) -> dict[str, Any] | None:
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
    of a query and its conversions. The version is per connection, so each
    connection has a cache of its own.
    """

    def __init__(self, size: int = ROW_CACHE_SIZE) -> None:
        self._size = size
        self._version: int | None = None
        self._rows: OrderedDict[tuple[CompiledSelect, tuple[Any, ...]], dict[str, Any] | None] = (
            OrderedDict()
        )

    def read(
        self,
        connection: sqlite3.Connection,
        compiled: CompiledSelect,
        arguments: tuple[Any, ...],
    ) -> dict[str, Any] | None:
        (version,) = connection.execute("PRAGMA data_version").fetchone()
        if version != self._version:
            self._rows.clear()
            self._version = version
        # The statement and exactly what the driver would receive name the row.
        key = (compiled, arguments)
        if key in self._rows:
            self._rows.move_to_end(key)
        else:
            self._rows[key] = compiled.first(connection, arguments)
            if len(self._rows) > self._size:
                self._rows.popitem(last=False)
        row = self._rows[key]
        if row is None:
            return None
        # A copy, nested values too: callers own what they get, the cache keeps its own.
        return {
            key: copy.deepcopy(value) if isinstance(value, list | dict) else value
            for key, value in row.items()
        }


@contextmanager
def _as_engine_error(sql: str) -> Iterator[None]:
    """Driver errors become the exception the engine would raise, so callers handle
    one kind; the parameters (emails, keys) stay out of it and so out of logs."""
    try:
        yield
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, None, exc, sqlite3.Error, hide_parameters=True) from exc


def _is_busy(exc: OperationalError) -> bool:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    # Extended codes (SQLITE_BUSY_RECOVERY, ...) keep the primary code in the low byte.
    return code is not None and code & 0xFF in _BUSY_CODES


def configure_connection(connection: Cursors) -> None:
    """Set up every SQLite connection, async or not, pooled or not, the same way."""
    # WAL lets readers run beside the single writer; foreign keys are off by default.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def configure_sqlite(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    """The ``connect`` event listener form of ``configure_connection``."""
    configure_connection(dbapi_connection)
