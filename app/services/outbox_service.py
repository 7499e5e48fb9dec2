"""Reading the outbox for admins and for monitoring."""

from app.interfaces.repositories.outbox_repository import OutboxRepository
from app.models.email import OutboxMessage, OutboxStatus


class OutboxService:
    """What admins and monitoring may see of queued email: state, never bodies."""

    def __init__(self, outbox: OutboxRepository) -> None:
        self._outbox = outbox

    async def list_messages(
        self, status: OutboxStatus | None, limit: int, before_id: str | None
    ) -> list[OutboxMessage]:
        return await self._outbox.list_messages(status, limit, before_id)

    async def depth(self) -> dict[OutboxStatus, int]:
        """How many messages are in each status."""
        return await self._outbox.count_by_status()
