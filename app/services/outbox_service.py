"""Reading the outbox for admins."""

from app.interfaces.repositories.outbox_repository import OutboxRepository
from app.models.email import OutboxMessage, OutboxStatus


class OutboxService:
    """What admins may see of queued email: state, never bodies."""

    def __init__(self, outbox: OutboxRepository) -> None:
        self._outbox = outbox

    async def list_messages(
        self, status: OutboxStatus | None, limit: int, before_id: str | None
    ) -> list[OutboxMessage]:
        return await self._outbox.list_messages(status, limit, before_id)
