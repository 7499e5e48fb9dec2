"""Single-row PostgreSQL reads in one round trip."""

import asyncio
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

READER_CONNECTIONS = 20


class PostgresReader:
    """Reads one row by key on its own autocommit connections, in arrival order.

    Through the main engine a read costs four round trips: the pool's pre-ping,
    BEGIN, the SELECT, and the ROLLBACK when the connection goes back. A lone SELECT
    needs no transaction of ours (PostgreSQL runs it in one of its own, which sees
    the latest commit), so these connections run in autocommit and go back to the
    pool as they are: one round trip per read.

    Reads wait for a connection in a FIFO queue of their own. The pool's queue lets
    a newcomer take a connection that was just handed to a waiter, and under steady
    load some reads waited seconds while the median waited milliseconds; the
    semaphore keeps them in order.

    Instead of a ping before every use, a read whose connection turns out dead (the
    server restarted, a proxy dropped it) is tried once more. By then SQLAlchemy has
    invalidated every connection the pool opened before the failure, so the retry
    runs on a fresh one and the caller never sees the restart; if the server is still
    down, the retry's error is the caller's. Only single-row lookups come here
    (``SqlRepository._first``), so running one twice is harmless.
    """

    def __init__(self, url: str, connections: int = READER_CONNECTIONS) -> None:
        self._engine = create_async_engine(
            url,
            isolation_level="AUTOCOMMIT",
            pool_size=connections,
            max_overflow=0,
            pool_reset_on_return=None,
            # Lookups are by email among others: keep values out of error messages.
            hide_parameters=True,
        )
        self._turns = asyncio.Semaphore(connections)

    async def first(
        self, statement: Select[Any], parameters: dict[str, Any] | None = None
    ) -> Mapping[Any, Any] | None:
        async with self._turns:
            try:
                return await self._first(statement, parameters)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
            return await self._first(statement, parameters)

    async def _first(
        self, statement: Select[Any], parameters: dict[str, Any] | None
    ) -> Mapping[Any, Any] | None:
        async with self._engine.connect() as conn:
            row: Mapping[Any, Any] | None = (
                (await conn.execute(statement, parameters)).mappings().first()
            )
            return row

    async def close(self) -> None:
        await self._engine.dispose()
