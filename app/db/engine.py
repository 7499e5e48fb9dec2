"""The SQL engine as a Singleton: created once per process, disposed on shutdown."""

from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.db.postgres_reader import PostgresReader
from app.db.row_reader import RowReader
from app.db.sqlite_reader import SqliteReader, configure_sqlite

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
    _reader: ClassVar[RowReader | None] = None

    @classmethod
    def connect(cls, url: str) -> AsyncEngine:
        if cls._engine is not None:
            if cls._url != url:
                raise RuntimeError("a database engine for another URL is already open")
            return cls._engine
        # Statements carry emails, password hashes and lookup keys: an error that
        # reaches a log must not quote them.
        cls._engine = create_async_engine(url, hide_parameters=True, **cls._engine_options(url))
        cls._url = url
        if cls._engine.dialect.name == "sqlite":
            event.listen(cls._engine.sync_engine, "connect", configure_sqlite)
            if _is_file(url):
                reader = SqliteReader(url, busy_timeout_seconds=SQLITE_BUSY_TIMEOUT_SECONDS)
                cls._reader = reader

                # Whoever drops the engine's connections (a lost volume, a test) means
                # the reader's too.
                def dispose_reader(_engine: Engine) -> None:
                    reader.dispose()

                event.listen(cls._engine.sync_engine, "engine_disposed", dispose_reader)
        elif cls._engine.dialect.name == "postgresql":
            cls._reader = PostgresReader(url)
        return cls._engine

    @classmethod
    def engine(cls) -> AsyncEngine:
        if cls._engine is None:
            raise RuntimeError("Database.connect() has not been called")
        return cls._engine

    @classmethod
    def reader(cls) -> RowReader | None:
        """The fast path for single-row reads; None where the engine serves them."""
        return cls._reader

    @classmethod
    async def dispose(cls) -> None:
        engine, cls._engine, cls._url = cls._engine, None, None
        reader, cls._reader = cls._reader, None
        if engine is not None:
            await engine.dispose()
        if reader is not None:
            await reader.close()

    @staticmethod
    def _engine_options(url: str) -> dict[str, Any]:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            if _is_file(url):
                Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
            return {
                "connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                # pysqlite opens a transaction only before a write, and every write
                # here commits or rolls back in its own block: a returned connection
                # has nothing to roll back, so skip that round trip to the thread.
                "pool_reset_on_return": None,
            }
        return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}


def _is_file(url: str) -> bool:
    database = make_url(url).database or ""
    return bool(database) and database != ":memory:" and not database.startswith("file:")
