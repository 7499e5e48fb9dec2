"""What every SQL repository shares: the engine provider and the ambient transaction."""

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Select, Table
from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.row_reader import RowReader
from app.interfaces.unit_of_work import UnitOfWork
from app.models.errors import StorageUnavailableError
from app.repositories.nul_guard import NulRefusingRepository

# The connection of the unit of work running in this task, if any. A ContextVar
# keeps concurrent requests apart: each asyncio task sees only its own.
_current_connection: ContextVar[AsyncConnection | None] = ContextVar(
    "sql_unit_of_work_connection", default=None
)


@asynccontextmanager
async def unavailable_as_domain_error() -> AsyncIterator[None]:
    """A database that cannot be reached becomes the domain's 503, never a stack trace.

    The engine's pool pings connections before use, and the PostgreSQL reader retries
    a read once on a fresh connection, so once the database is back the next request
    succeeds: the app recovers by itself.
    """
    try:
        yield
    except DBAPIError as exc:
        if isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated:
            raise StorageUnavailableError() from exc
        raise
    except (OSError, PoolTimeoutError) as exc:
        raise StorageUnavailableError() from exc


class SqlRepository(NulRefusingRepository):
    """Base of the SQL adapters: joins the current unit of work or runs on its own."""

    def __init__(
        self,
        engine: Callable[[], AsyncEngine],
        reader: Callable[[], RowReader | None] = lambda: None,
    ) -> None:
        # Providers, not objects: the engine is opened in the app's lifespan.
        self._engine = engine
        self._reader = reader

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction: the unit of work's, or a new one committed on exit."""
        current = _current_connection.get()
        if current is not None:
            yield current
            return
        async with unavailable_as_domain_error(), self._engine().begin() as conn:
            yield conn

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        current = _current_connection.get()
        if current is not None:
            yield current
            return
        async with unavailable_as_domain_error(), self._engine().connect() as conn:
            yield conn

    async def _first(
        self, statement: Select[Any], parameters: dict[str, Any]
    ) -> Mapping[Any, Any] | None:
        """The first row of a lookup by key, on the database's fast reader unless in a unit of work.

        ``statement`` is built once, at import, with ``bindparam`` placeholders that
        ``parameters`` fill: the SQLite reader compiles each statement once per process.
        """
        reader = self._reader() if _current_connection.get() is None else None
        if reader is not None:
            async with unavailable_as_domain_error():
                return await reader.first(statement, parameters)
        async with self._read() as conn:
            row: Mapping[Any, Any] | None = (
                (await conn.execute(statement, parameters)).mappings().first()
            )
            return row


class SqlUnitOfWork(UnitOfWork):
    """One transaction around every repository call made inside ``atomic()``."""

    def __init__(self, engine: Callable[[], AsyncEngine]) -> None:
        self._engine = engine

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        if _current_connection.get() is not None:
            yield  # nested: the outer unit of work commits
            return
        async with unavailable_as_domain_error(), self._engine().begin() as conn:
            token = _current_connection.set(conn)
            try:
                yield
            finally:
                _current_connection.reset(token)


def dialect_insert(conn: AsyncConnection, table: Table) -> SqliteInsert | PostgresInsert:
    """An INSERT that supports ``ON CONFLICT``: SQLite and PostgreSQL share the syntax."""
    if conn.dialect.name == "postgresql":
        return postgres_insert(table)
    return sqlite_insert(table)


def savepoint(conn: AsyncConnection) -> AbstractAsyncContextManager[object]:
    """A SAVEPOINT on PostgreSQL; SQLite needs none, and pysqlite's would commit early."""
    if conn.dialect.name == "postgresql":
        return conn.begin_nested()
    return nullcontext()
