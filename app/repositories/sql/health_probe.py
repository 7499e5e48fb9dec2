"""Checking that the SQL database answers."""

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from app.interfaces.health_probe import HealthProbe


class SqlHealthProbe(HealthProbe):
    """Answers readiness by running ``SELECT 1``."""

    def __init__(self, engine: Callable[[], AsyncEngine]) -> None:
        self._engine = engine

    async def ping(self) -> None:
        async with self._engine().connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
