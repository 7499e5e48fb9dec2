"""The outbox as admins see it."""

from app.controllers.pagination import cursor_id, split_page
from app.models.email import OutboxStatus
from app.schemas.email import OutboxEntryRead, OutboxList
from app.services.outbox_service import OutboxService


class AdminEmailController:
    """Lists queued emails without their bodies (which hold one-time codes)."""

    def __init__(self, outbox: OutboxService) -> None:
        self._outbox = outbox

    async def list_messages(
        self, status: OutboxStatus | None, limit: int, cursor: str | None
    ) -> OutboxList:
        before = cursor_id(cursor) if cursor else None
        messages = await self._outbox.list_messages(status, limit + 1, before)
        page, last = split_page(messages, limit)
        return OutboxList(
            items=[OutboxEntryRead.from_message(m) for m in page],
            next_cursor=last.id if last else None,
        )
