"""DTOs of the audit log."""

from pydantic import BaseModel

from app.models.audit import AuditEvent, AuditEventType
from app.schemas.base import Timestamp


class AuditEventRead(BaseModel):
    id: str
    event: AuditEventType
    occurred_at: Timestamp
    actor_id: str | None
    subject_id: str | None
    subject_email: str | None
    ip_address: str | None
    user_agent: str | None
    details: dict[str, str]

    @classmethod
    def from_event(cls, event: AuditEvent) -> "AuditEventRead":
        return cls(
            id=event.id,
            event=event.event,
            occurred_at=event.occurred_at,
            actor_id=event.actor_id,
            subject_id=event.subject_id,
            subject_email=event.subject_email,
            ip_address=event.ip_address,
            user_agent=event.user_agent,
            details=event.details,
        )


class AuditList(BaseModel):
    items: list[AuditEventRead]
    next_cursor: str | None
