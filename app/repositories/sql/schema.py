"""Creating the SQL schema at start-up and checking the database answers."""

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from app.interfaces.health_probe import HealthProbe
from app.repositories.sql.tables import metadata


async def create_schema(engine: AsyncEngine) -> None:
    """Create missing tables; existing ones are left as they are."""
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


class SqlHealthProbe(HealthProbe):
    """Answers readiness by running ``SELECT 1``."""

    def __init__(self, engine: Callable[[], AsyncEngine]) -> None:
        self._engine = engine

    async def ping(self) -> None:
        async with self._engine().connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
