"""The email outbox in SQL."""

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, insert, or_, select, update

from app.interfaces.repositories.outbox_repository import OutboxRepository
from app.models.email import EmailKind, OutboxMessage, OutboxStatus
from app.repositories.sql.base import SqlRepository
from app.repositories.sql.tables import outbox_messages as outbox

MAX_ERROR_LENGTH = 1000
CLAIM_ATTEMPTS = 5
_BY_ID = select(outbox).where(outbox.c.id == bindparam("message_id"))


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(outbox.c.status == OutboxStatus.PENDING.value, outbox.c.next_attempt_at <= now),
        and_(outbox.c.status == OutboxStatus.SENDING.value, outbox.c.lease_until <= now),
    )


class SqlOutboxRepository(SqlRepository, OutboxRepository):
    """``OutboxRepository`` on SQL.

    A claim selects due ids (on PostgreSQL skipping rows another claimer has locked),
    then updates those ids that are *still* due: a row that another claimer took in
    the meantime drops out, so no message is ever returned to two claimers.
    """

    async def add(self, message: OutboxMessage) -> None:
        async with self._write() as conn:
            await conn.execute(insert(outbox).values(**self._to_row(message)))

    async def claim(
        self, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[OutboxMessage]:
        due_ids = (
            select(outbox.c.id)
            .where(_due(now))
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claim = (
            update(outbox)
            .values(
                status=OutboxStatus.SENDING.value,
                lease_owner=owner,
                lease_until=lease_until,
                attempts=outbox.c.attempts + 1,
                updated_at=now,
            )
            .returning(outbox)
        )
        for _ in range(CLAIM_ATTEMPTS):
            async with self._write() as conn:
                # Two statements, not UPDATE … WHERE id IN (subquery): PostgreSQL may
                # run the subquery once per row, and its LIMIT then stops limiting.
                ids = list((await conn.execute(due_ids)).scalars())
                if not ids:
                    return []
                result = await conn.execute(claim.where(outbox.c.id.in_(ids), _due(now)))
                rows = result.mappings().all()
            if rows:
                return sorted(
                    (self._to_message(row) for row in rows), key=lambda m: m.next_attempt_at
                )
            # Another claimer took every selected row in between: look again, so that
            # an empty answer always means nothing is due.
        return []

    async def mark_sent(self, message_id: str, owner: str, now: datetime) -> bool:
        return await self._finish(
            message_id, owner, status=OutboxStatus.SENT, sent_at=now, updated_at=now
        )

    async def mark_retry(
        self, message_id: str, owner: str, error: str, next_attempt_at: datetime, now: datetime
    ) -> bool:
        return await self._finish(
            message_id,
            owner,
            status=OutboxStatus.PENDING,
            last_error=error[:MAX_ERROR_LENGTH],
            next_attempt_at=next_attempt_at,
            updated_at=now,
        )

    async def mark_failed(self, message_id: str, owner: str, error: str, now: datetime) -> bool:
        return await self._finish(
            message_id,
            owner,
            status=OutboxStatus.FAILED,
            last_error=error[:MAX_ERROR_LENGTH],
            updated_at=now,
        )

    async def requeue_failed(self, now: datetime, message_ids: Sequence[str] | None) -> int:
        statement = (
            update(outbox)
            .where(outbox.c.status == OutboxStatus.FAILED.value)
            .values(
                status=OutboxStatus.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            )
        )
        if message_ids is not None:
            statement = statement.where(outbox.c.id.in_(set(message_ids)))
        async with self._write() as conn:
            result = await conn.execute(statement)
        return result.rowcount

    async def get(self, message_id: str) -> OutboxMessage | None:
        row = await self._first(_BY_ID, {"message_id": message_id})
        return self._to_message(row) if row is not None else None

    async def list_messages(
        self, status: OutboxStatus | None, limit: int, before_id: str | None
    ) -> list[OutboxMessage]:
        query = select(outbox).order_by(outbox.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(outbox.c.status == status.value)
        if before_id is not None:
            query = query.where(outbox.c.id < before_id)
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [self._to_message(row) for row in rows]

    async def count_by_status(self) -> dict[OutboxStatus, int]:
        query = select(outbox.c.status, func.count()).group_by(outbox.c.status)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        counts = dict.fromkeys(OutboxStatus, 0)
        for status, count in rows:
            counts[OutboxStatus(status)] = count
        return counts

    async def _finish(self, message_id: str, owner: str, **values: Any) -> bool:
        values["status"] = values["status"].value
        statement = (
            update(outbox)
            .where(
                outbox.c.id == message_id,
                outbox.c.lease_owner == owner,
                outbox.c.status == OutboxStatus.SENDING.value,
            )
            .values(lease_owner=None, lease_until=None, **values)
        )
        async with self._write() as conn:
            result = await conn.execute(statement)
        return result.rowcount == 1

    @staticmethod
    def _to_row(message: OutboxMessage) -> dict[str, Any]:
        row = asdict(message)
        row["kind"] = message.kind.value
        row["status"] = message.status.value
        return row

    @staticmethod
    def _to_message(row: Mapping[Any, Any]) -> OutboxMessage:
        values = {name: row[name] for name in OutboxMessage.__dataclass_fields__}
        values["kind"] = EmailKind(values["kind"])
        values["status"] = OutboxStatus(values["status"])
        return OutboxMessage(**values)
