"""Sessions in SQL."""

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from app.interfaces.repositories.session_repository import SessionRepository
from app.models.session import Session
from app.models.user import User
from app.repositories.sql.base import SqlRepository
from app.repositories.sql.tables import sessions, users
from app.repositories.user_mapping import user_from_record

USER_PREFIX = "owner_"
# Built once: a cached statement skips SQLAlchemy's compilation on the hot path.
_SESSION_WITH_USER = (
    select(sessions, *(column.label(f"{USER_PREFIX}{column.name}") for column in users.c))
    .join(users, users.c.id == sessions.c.user_id, isouter=True)
    .where(sessions.c.id == bindparam("session_id"))
)

_BY_ID = select(sessions).where(sessions.c.id == bindparam("session_id"))


class SqlSessionRepository(SqlRepository, SessionRepository):
    """``SessionRepository`` on SQLAlchemy Core; rotation is one conditional UPDATE."""

    async def add(self, session: Session) -> Session:
        async with self._write() as conn:
            await conn.execute(insert(sessions).values(**asdict(session)))
        return session

    async def get(self, session_id: str) -> Session | None:
        row = await self._first(_BY_ID, {"session_id": session_id})
        return self._to_session(row) if row is not None else None

    async def get_with_user(self, session_id: str) -> tuple[Session, User | None] | None:
        row = await self._first(_SESSION_WITH_USER, {"session_id": session_id})
        if row is None:
            return None
        user = (
            user_from_record(row, row["user_id"], USER_PREFIX)
            if row[f"{USER_PREFIX}email"]
            else None
        )
        return self._to_session(row), user

    async def rotate(
        self,
        session_id: str,
        expected_jti: str,
        new_jti: str,
        now: datetime,
        expires_at: datetime,
    ) -> Session | None:
        statement = (
            update(sessions)
            .where(
                sessions.c.id == session_id,
                sessions.c.refresh_jti == expected_jti,
                sessions.c.revoked_at.is_(None),
                sessions.c.expires_at > now,
            )
            .values(
                refresh_jti=new_jti,
                previous_refresh_jti=expected_jti,
                rotated_at=now,
                last_used_at=now,
                expires_at=expires_at,
            )
            .returning(sessions)
        )
        async with self._write() as conn:
            row = (await conn.execute(statement)).mappings().first()
        return self._to_session(row) if row is not None else None

    async def list_active(self, user_id: str, now: datetime) -> list[Session]:
        query = (
            select(sessions)
            .where(
                sessions.c.user_id == user_id,
                sessions.c.revoked_at.is_(None),
                sessions.c.expires_at > now,
            )
            .order_by(sessions.c.created_at.desc(), sessions.c.id.desc())
        )
        async with self._read() as conn:
            rows = await conn.execute(query)
            return [self._to_session(row) for row in rows.mappings()]

    async def revoke(self, session_id: str, now: datetime, user_id: str | None = None) -> bool:
        statement = update(sessions).where(
            sessions.c.id == session_id,
            sessions.c.revoked_at.is_(None),
            sessions.c.expires_at > now,
        )
        if user_id is not None:
            statement = statement.where(sessions.c.user_id == user_id)
        async with self._write() as conn:
            result = await conn.execute(statement.values(revoked_at=now))
        return result.rowcount > 0

    async def revoke_all(
        self, user_id: str, now: datetime, except_session_id: str | None = None
    ) -> int:
        statement = update(sessions).where(
            sessions.c.user_id == user_id,
            sessions.c.revoked_at.is_(None),
            sessions.c.expires_at > now,
        )
        if except_session_id is not None:
            statement = statement.where(sessions.c.id != except_session_id)
        async with self._write() as conn:
            result = await conn.execute(statement.values(revoked_at=now))
        return result.rowcount

    @staticmethod
    def _to_session(row: Mapping[Any, Any]) -> Session:
        return Session(**{name: row[name] for name in Session.__dataclass_fields__})
