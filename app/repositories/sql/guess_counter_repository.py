"""Wrong-guess counters in SQL."""

from datetime import datetime, timedelta

from sqlalchemy import case, update

from app.interfaces.repositories.guess_counter_repository import GuessCounterRepository
from app.models.guess_window import GuessWindow
from app.repositories.sql.base import SqlRepository, dialect_insert
from app.repositories.sql.tables import guess_counters


class SqlGuessCounterRepository(SqlRepository, GuessCounterRepository):
    """One upsert per guess: it counts on, or opens a new window, in a single statement."""

    async def hit(self, key: str, now: datetime, window_seconds: int) -> GuessWindow:
        closed = guess_counters.c.window_start <= now - timedelta(seconds=window_seconds)
        async with self._write() as conn:
            statement = dialect_insert(conn, guess_counters).values(
                key=key, window_start=now, count=1
            )
            row = (
                (
                    await conn.execute(
                        statement.on_conflict_do_update(
                            index_elements=["key"],
                            set_={
                                "count": case((closed, 1), else_=guess_counters.c.count + 1),
                                "window_start": case(
                                    (closed, now), else_=guess_counters.c.window_start
                                ),
                            },
                        ).returning(guess_counters.c.count, guess_counters.c.window_start)
                    )
                )
                .mappings()
                .one()
            )
        return GuessWindow(
            count=row["count"], resets_at=row["window_start"] + timedelta(seconds=window_seconds)
        )

    async def release(self, key: str) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(guess_counters)
                .where(guess_counters.c.key == key, guess_counters.c.count > 0)
                .values(count=guess_counters.c.count - 1)
            )
