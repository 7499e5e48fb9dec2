"""The SQL engine as a Singleton: created once per process, disposed on shutdown."""

from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_BUSY_TIMEOUT_SECONDS = 30


class Database:
    """Holds the process's single ``AsyncEngine``.

    A connection pool is only useful when it is shared, so every repository gets the
    engine from here. ``connect`` with another URL while an engine is open is an
    error rather than a silent second pool; ``dispose`` resets the Singleton, which
    is what the app's shutdown and the tests rely on.
    """

    _engine: ClassVar[AsyncEngine | None] = None
    _url: ClassVar[str | None] = None

    @classmethod
    def connect(cls, url: str) -> AsyncEngine:
        if cls._engine is not None:
            if cls._url != url:
                raise RuntimeError("a database engine for another URL is already open")
            return cls._engine
        cls._engine = create_async_engine(url, **cls._engine_options(url))
        cls._url = url
        if cls._engine.dialect.name == "sqlite":
            event.listen(cls._engine.sync_engine, "connect", _configure_sqlite)
        return cls._engine

    @classmethod
    def engine(cls) -> AsyncEngine:
        if cls._engine is None:
            raise RuntimeError("Database.connect() has not been called")
        return cls._engine

    @classmethod
    async def dispose(cls) -> None:
        engine, cls._engine, cls._url = cls._engine, None, None
        if engine is not None:
            await engine.dispose()

    @staticmethod
    def _engine_options(url: str) -> dict[str, Any]:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:" and not database.startswith("file:"):
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            return {
                "connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                # pysqlite opens a transaction only before a write, and every write
                # here commits or rolls back in its own block: a returned connection
                # has nothing to roll back, so skip that round trip to the thread.
                "pool_reset_on_return": None,
            }
        return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}


def _configure_sqlite(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers run beside the single writer; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
