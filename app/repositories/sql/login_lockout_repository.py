"""Login lockout counters in SQL."""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, or_, select, update

from app.interfaces.repositories.login_lockout_repository import LoginLockoutRepository
from app.models.login_lockout import LoginLockout
from app.repositories.sql.base import SqlRepository, dialect_insert
from app.repositories.sql.tables import login_lockouts

_BY_KEY = select(login_lockouts).where(login_lockouts.c.key == bindparam("key"))
_CLEARED = {"failures": 0, "lockouts": 0, "locked_until": None}


class SqlLoginLockoutRepository(SqlRepository, LoginLockoutRepository):
    """An upsert counts the attempt unless the pair is locked; a conditional update
    applies the lock."""

    async def get(self, key: str) -> LoginLockout | None:
        row = await self._first(_BY_KEY, {"key": key})
        return self._to_lockout(row) if row is not None else None

    async def record_attempt(
        self,
        key: str,
        account_key: str,
        now: datetime,
        max_failures: int,
        lock_seconds: list[int],
    ) -> LoginLockout | None:
        unlocked = or_(
            login_lockouts.c.locked_until.is_(None), login_lockouts.c.locked_until <= now
        )
        async with self._write() as conn:
            statement = dialect_insert(conn, login_lockouts).values(
                key=key, account_key=account_key, failures=1, lockouts=0, updated_at=now
            )
            row = (
                (
                    await conn.execute(
                        statement.on_conflict_do_update(
                            index_elements=["key"],
                            set_={
                                "failures": login_lockouts.c.failures + 1,
                                "updated_at": now,
                            },
                            where=unlocked,
                        ).returning(login_lockouts)
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                return None  # locked: the conflicting row failed the WHERE, nothing counted
            if row["failures"] >= max_failures:
                lock = case(
                    *(
                        (login_lockouts.c.lockouts == index, now + timedelta(seconds=seconds))
                        for index, seconds in enumerate(lock_seconds)
                    ),
                    else_=now + timedelta(seconds=lock_seconds[-1]),
                )
                locked = (
                    (
                        await conn.execute(
                            update(login_lockouts)
                            .where(
                                login_lockouts.c.key == key,
                                login_lockouts.c.failures >= max_failures,
                            )
                            .values(
                                locked_until=lock,
                                lockouts=login_lockouts.c.lockouts + 1,
                                failures=0,
                            )
                            .returning(login_lockouts)
                        )
                    )
                    .mappings()
                    .first()
                )
                row = locked or row
        return self._to_lockout(row)

    async def record_success(self, key: str) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(login_lockouts).where(login_lockouts.c.key == key).values(**_CLEARED)
            )

    async def unlock(self, account_key: str, key: str, now: datetime, until: datetime) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(login_lockouts)
                .where(login_lockouts.c.account_key == account_key)
                .values(**_CLEARED, updated_at=now)
            )
            statement = dialect_insert(conn, login_lockouts).values(
                key=key,
                account_key=account_key,
                **_CLEARED,
                unlocked_until=until,
                updated_at=now,
            )
            await conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["key"], set_={"unlocked_until": until, "updated_at": now}
                )
            )

    @staticmethod
    def _to_lockout(row: Mapping[Any, Any]) -> LoginLockout:
        return LoginLockout(
            key=row["key"],
            failures=row["failures"],
            lockouts=row["lockouts"],
            locked_until=row["locked_until"],
            unlocked_until=row["unlocked_until"],
        )
