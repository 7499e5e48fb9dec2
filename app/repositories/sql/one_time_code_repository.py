"""One-time codes and cool-downs in SQL."""

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from app.interfaces.repositories.one_time_code_repository import (
    CooldownRepository,
    OneTimeCodeRepository,
)
from app.models.one_time_code import CodePurpose, OneTimeCode
from app.repositories.sql.base import SqlRepository, dialect_insert
from app.repositories.sql.tables import cooldowns, one_time_codes

_BY_USER_AND_PURPOSE = select(one_time_codes).where(
    one_time_codes.c.user_id == bindparam("user_id"),
    one_time_codes.c.purpose == bindparam("purpose"),
)


class SqlOneTimeCodeRepository(SqlRepository, OneTimeCodeRepository):
    """``OneTimeCodeRepository`` on SQL; (user_id, purpose) is unique."""

    async def replace(self, code: OneTimeCode) -> None:
        values = {**asdict(code), "purpose": code.purpose.value}
        async with self._write() as conn:
            statement = dialect_insert(conn, one_time_codes).values(**values)
            await conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["user_id", "purpose"],
                    set_={name: statement.excluded[name] for name in values if name != "user_id"},
                )
            )

    async def get(self, user_id: str, purpose: CodePurpose) -> OneTimeCode | None:
        row = await self._first(
            _BY_USER_AND_PURPOSE, {"user_id": user_id, "purpose": purpose.value}
        )
        return self._to_code(row) if row is not None else None

    async def record_failure(self, code_id: str) -> int:
        statement = (
            update(one_time_codes)
            .where(one_time_codes.c.id == code_id)
            .values(attempts=one_time_codes.c.attempts + 1)
            .returning(one_time_codes.c.attempts)
        )
        async with self._write() as conn:
            attempts = (await conn.execute(statement)).scalar_one_or_none()
        return attempts or 0

    async def consume(self, code_id: str, now: datetime, max_attempts: int) -> bool:
        statement = delete(one_time_codes).where(
            one_time_codes.c.id == code_id,
            one_time_codes.c.expires_at > now,
            one_time_codes.c.attempts < max_attempts,
        )
        async with self._write() as conn:
            result = await conn.execute(statement)
        return result.rowcount == 1

    async def delete(self, user_id: str, purpose: CodePurpose) -> None:
        async with self._write() as conn:
            await conn.execute(
                delete(one_time_codes).where(
                    one_time_codes.c.user_id == user_id,
                    one_time_codes.c.purpose == purpose.value,
                )
            )

    @staticmethod
    def _to_code(row: Mapping[Any, Any]) -> OneTimeCode:
        return OneTimeCode(
            id=row["id"],
            user_id=row["user_id"],
            purpose=CodePurpose(row["purpose"]),
            code_hash=row["code_hash"],
            attempts=row["attempts"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
        )


class SqlCooldownRepository(SqlRepository, CooldownRepository):
    """``CooldownRepository`` on SQL: one conditional upsert per call."""

    async def acquire(self, key: str, now: datetime, cooldown_seconds: int) -> float | None:
        threshold = now - timedelta(seconds=cooldown_seconds)
        async with self._write() as conn:
            statement = dialect_insert(conn, cooldowns).values(key=key, last_at=now)
            taken = await conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["key"],
                    set_={"last_at": statement.excluded.last_at},
                    where=cooldowns.c.last_at <= threshold,
                )
            )
            if taken.rowcount == 1:
                return None
            last_at: datetime = (
                await conn.execute(select(cooldowns.c.last_at).where(cooldowns.c.key == key))
            ).scalar_one()
        return max(0.0, (last_at - threshold).total_seconds())

    async def touch(self, key: str, now: datetime) -> None:
        async with self._write() as conn:
            statement = dialect_insert(conn, cooldowns).values(key=key, last_at=now)
            await conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["key"], set_={"last_at": statement.excluded.last_at}
                )
            )
