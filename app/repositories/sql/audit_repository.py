"""The audit log in SQL."""

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from sqlalchemy import insert, or_, select

from app.interfaces.repositories.audit_repository import AuditRepository
from app.models.audit import AuditEvent, AuditEventType
from app.repositories.sql.base import SqlRepository
from app.repositories.sql.tables import audit_events


class SqlAuditRepository(SqlRepository, AuditRepository):
    """``AuditRepository`` on an ``audit_events`` table; ``details`` is a JSON column.

    Listing walks the primary key backwards (ids are time-ordered); the user and event
    filters use their indexes.
    """

    async def add(self, event: AuditEvent) -> None:
        async with self._write() as conn:
            await conn.execute(insert(audit_events).values(**self._to_row(event)))

    async def list_events(
        self,
        user_id: str | None,
        event: AuditEventType | None,
        limit: int,
        before_id: str | None,
    ) -> list[AuditEvent]:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = select(audit_events).order_by(audit_events.c.id.desc()).limit(limit)
        if user_id is not None:
            query = query.where(
                or_(audit_events.c.subject_id == user_id, audit_events.c.actor_id == user_id)
            )
        if event is not None:
            query = query.where(audit_events.c.event == AuditEventType(event).value)
        if before_id is not None:
            query = query.where(audit_events.c.id < before_id)
        async with self._read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [self._to_event(row) for row in rows]

    @staticmethod
    def _to_row(event: AuditEvent) -> dict[str, Any]:
        row = asdict(event)
        row["event"] = event.event.value
        return row

    @staticmethod
    def _to_event(row: Mapping[Any, Any]) -> AuditEvent:
        values = {name: row[name] for name in AuditEvent.__dataclass_fields__}
        values["event"] = AuditEventType(values["event"])
        values["details"] = dict(values["details"] or {})
        return AuditEvent(**values)
