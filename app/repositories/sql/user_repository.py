"""Users in SQL."""

from collections.abc import Mapping
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, func, select, true, update
from sqlalchemy.exc import IntegrityError

from app.interfaces.repositories.user_repository import UserFilter, UserPage, UserRepository
from app.models.errors import EmailTakenError
from app.models.role import Permission, Role
from app.models.user import User
from app.repositories.sql.base import SqlRepository, dialect_insert, savepoint
from app.repositories.sql.tables import users
from app.repositories.user_mapping import user_from_record

_BY_ID = select(users).where(users.c.id == bindparam("user_id"))
_BY_EMAIL = select(users).where(users.c.email == bindparam("email"))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlUserRepository(SqlRepository, UserRepository):
    """``UserRepository`` on SQLAlchemy Core; ``permissions`` is a JSON list column."""

    async def add(self, user: User) -> User:
        # ON CONFLICT DO NOTHING instead of catching the violation: on PostgreSQL a
        # failed statement would poison a surrounding unit of work's transaction.
        async with self._write() as conn:
            statement = dialect_insert(conn, users).values(**self._to_row(user))
            inserted = await conn.execute(statement.on_conflict_do_nothing().returning(users.c.id))
            if inserted.first() is None:
                raise EmailTakenError()
        return user

    async def get_by_id(self, user_id: str) -> User | None:
        return await self._one(_BY_ID, user_id=user_id)

    async def get_by_email(self, email: str) -> User | None:
        return await self._one(_BY_EMAIL, email=email)

    async def update(self, user_id: str, changes: dict[str, Any], now: datetime) -> User | None:
        values = self._to_row_values({**changes, "updated_at": now})
        statement = update(users).where(users.c.id == user_id).values(**values).returning(users)
        async with self._write() as conn:
            try:
                # A savepoint keeps a unique violation from poisoning a surrounding
                # PostgreSQL transaction (only an email change can cause one).
                async with savepoint(conn) if "email" in values else nullcontext():
                    row = (await conn.execute(statement)).mappings().first()
            except IntegrityError as exc:
                raise EmailTakenError() from exc
        return self._to_user(row) if row is not None else None

    async def delete(self, user_id: str) -> bool:
        async with self._write() as conn:
            result = await conn.execute(delete(users).where(users.c.id == user_id))
        return result.rowcount > 0

    async def list_page(self, filters: UserFilter, limit: int, offset: int) -> UserPage:
        condition = self._condition(filters)
        async with self._read() as conn:
            total = (
                await conn.execute(select(func.count()).select_from(users).where(condition))
            ).scalar_one()
            rows = await conn.execute(
                select(users).where(condition).order_by(users.c.id).limit(limit).offset(offset)
            )
            items = [self._to_user(row) for row in rows.mappings()]
        return UserPage(items=items, total=total)

    async def list_after(self, filters: UserFilter, limit: int, after_id: str | None) -> list[User]:
        condition = self._condition(filters)
        if after_id is not None:
            condition = condition & (users.c.id > after_id)
        query: Select[Any] = select(users).where(condition).order_by(users.c.id).limit(limit)
        async with self._read() as conn:
            rows = await conn.execute(query)
            return [self._to_user(row) for row in rows.mappings()]

    async def count(self) -> int:
        async with self._read() as conn:
            return (await conn.execute(select(func.count()).select_from(users))).scalar_one()

    async def _one(self, query: Select[Any], **parameters: str) -> User | None:
        row = await self._first(query, parameters)
        return self._to_user(row) if row is not None else None

    @staticmethod
    def _condition(filters: UserFilter) -> ColumnElement[bool]:
        condition: ColumnElement[bool] = true()
        if filters.role is not None:
            condition = condition & (users.c.role == filters.role.value)
        if filters.is_active is not None:
            condition = condition & (users.c.is_active == filters.is_active)
        if filters.is_verified is not None:
            condition = condition & (users.c.is_verified == filters.is_verified)
        if filters.email_prefix:
            pattern = _escape_like(filters.email_prefix) + "%"
            condition = condition & users.c.email.like(pattern, escape="\\")
        return condition

    @classmethod
    def _to_row(cls, user: User) -> dict[str, Any]:
        return cls._to_row_values(
            {
                "id": user.id,
                "email": user.email,
                "hashed_password": user.hashed_password,
                "full_name": user.full_name,
                "role": user.role,
                "permissions": user.permissions,
                "is_active": user.is_active,
                "is_verified": user.is_verified,
                "created_at": user.created_at,
                "updated_at": user.updated_at,
            }
        )

    @staticmethod
    def _to_row_values(values: Mapping[Any, Any]) -> dict[str, Any]:
        row = dict(values)
        if "role" in row:
            row["role"] = Role(row["role"]).value
        if "permissions" in row:
            row["permissions"] = sorted(Permission(p).value for p in row["permissions"])
        return row

    @staticmethod
    def _to_user(row: Mapping[Any, Any]) -> User:
        return user_from_record(row, row["id"])
