"""Users in SQL."""

from collections.abc import Mapping
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, exists, func, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.interfaces.repositories.user_repository import UserFilter, UserPage, UserRepository
from app.models.errors import EmailTakenError, LastSuperadminError
from app.models.role import Permission, Role
from app.models.user import User
from app.repositories.sql.base import SqlRepository, dialect_insert, savepoint
from app.repositories.sql.tables import users
from app.repositories.user_mapping import removes_active_superadmin, user_from_record

_BY_ID = select(users).where(users.c.id == bindparam("user_id"))
_BY_EMAIL = select(users).where(users.c.email == bindparam("email"))

_ACTIVE_SUPERADMIN = (users.c.role == Role.SUPERADMIN.value) & (users.c.is_active == true())
# In id order, so two writers queue on the same first row instead of deadlocking. NO KEY
# UPDATE leaves a session's or code's foreign key check (KEY SHARE) free to go on.
_LOCK_SUPERADMINS = (
    select(users.c.id)
    .where(_ACTIVE_SUPERADMIN)
    .order_by(users.c.id)
    .with_for_update(key_share=True)
)
_other = users.alias("other")


def _keeps_a_superadmin(user_id: str) -> ColumnElement[bool]:
    """True for a row that may be demoted, disabled or deleted without losing the last one."""
    another = exists().where(
        _other.c.id != user_id,
        _other.c.role == Role.SUPERADMIN.value,
        _other.c.is_active == true(),
    )
    return ~_ACTIVE_SUPERADMIN | another


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
        guarded = removes_active_superadmin(changes)
        condition = users.c.id == user_id
        if guarded:
            condition = condition & _keeps_a_superadmin(user_id)
        statement = update(users).where(condition).values(**values).returning(users)
        async with self._write() as conn:
            if guarded:
                await self._lock_superadmins(conn)
            try:
                # A savepoint keeps a unique violation from poisoning a surrounding
                # PostgreSQL transaction (only an email change can cause one).
                async with savepoint(conn) if "email" in values else nullcontext():
                    row = (await conn.execute(statement)).mappings().first()
            except IntegrityError as exc:
                raise EmailTakenError() from exc
            if row is None and guarded and await self._exists(conn, user_id):
                raise LastSuperadminError()
        return self._to_user(row) if row is not None else None

    async def delete(self, user_id: str) -> bool:
        statement = delete(users).where(users.c.id == user_id, _keeps_a_superadmin(user_id))
        async with self._write() as conn:
            await self._lock_superadmins(conn)
            result = await conn.execute(statement)
            if result.rowcount == 0 and await self._exists(conn, user_id):
                raise LastSuperadminError()
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

    @staticmethod
    async def _lock_superadmins(conn: AsyncConnection) -> None:
        """Hold the active superadmins' rows until the transaction ends (PostgreSQL).

        Under READ COMMITTED the guard's ``EXISTS`` alone reads a snapshot: two writers
        would each still see the other's row as active. Locked first, the second writer
        waits for the first to commit, and its statement then reads what it committed.
        SQLite needs no lock: its single writer runs the conditional statement alone.
        """
        if conn.dialect.name == "postgresql":
            await conn.execute(_LOCK_SUPERADMINS)

    @staticmethod
    async def _exists(conn: AsyncConnection, user_id: str) -> bool:
        found = await conn.execute(select(users.c.id).where(users.c.id == user_id))
        return found.first() is not None

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
