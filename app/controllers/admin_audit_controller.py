"""The audit log as superadmins see it."""

from app.controllers.pagination import split_page
from app.models.audit import AuditEventType
from app.schemas.audit import AuditEventRead, AuditList
from app.services.audit_trail import AuditTrail


class AdminAuditController:
    """Pages through the audit log, newest first."""

    def __init__(self, audit: AuditTrail) -> None:
        self._audit = audit

    async def list_events(
        self,
        user_id: str | None,
        event: AuditEventType | None,
        limit: int,
        cursor: str | None,
    ) -> AuditList:
        events = await self._audit.list_events(user_id, event, limit + 1, cursor)
        page, last = split_page(events, limit)
        return AuditList(
            items=[AuditEventRead.from_event(e) for e in page],
            next_cursor=last.id if last else None,
        )
