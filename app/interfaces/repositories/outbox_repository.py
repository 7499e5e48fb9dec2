"""Contract for the durable email outbox."""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime

from app.models.email import OutboxMessage, OutboxStatus


class OutboxRepository(ABC):
    """Queued emails. Claiming is atomic, so several workers never send one message twice."""

    @abstractmethod
    async def add(self, message: OutboxMessage) -> None: ...

    @abstractmethod
    async def claim(
        self, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[OutboxMessage]:
        """Lease up to ``limit`` due messages to ``owner`` and count an attempt on each.

        Due: pending with ``next_attempt_at <= now``, or sending with an expired lease.
        A message is handed to exactly one of any number of concurrent claimers.
        """

    @abstractmethod
    async def mark_sent(self, message_id: str, owner: str, now: datetime) -> bool:
        """Record delivery; False when ``owner`` no longer holds the lease."""

    @abstractmethod
    async def mark_retry(
        self, message_id: str, owner: str, error: str, next_attempt_at: datetime, now: datetime
    ) -> bool:
        """Release the lease and schedule another attempt."""

    @abstractmethod
    async def mark_failed(self, message_id: str, owner: str, error: str, now: datetime) -> bool:
        """Give up on the message; it stays visible to admins."""

    @abstractmethod
    async def requeue_failed(self, now: datetime, message_ids: Sequence[str] | None) -> int:
        """Queue failed messages again, due at ``now``; return how many were requeued.

        ``None`` requeues every failed message, a sequence only the failed ones among
        those ids (others are left alone; an empty sequence requeues nothing). A
        requeued message is pending with no lease and ``attempts`` back at 0, so it
        gets the full number of attempts again. ``last_error`` is kept: it tells why
        the message had failed until a new attempt records another error.
        """

    @abstractmethod
    async def get(self, message_id: str) -> OutboxMessage | None: ...

    @abstractmethod
    async def list_messages(
        self, status: OutboxStatus | None, limit: int, before_id: str | None
    ) -> list[OutboxMessage]:
        """Newest first; ``before_id`` continues after the last message of a page."""

    @abstractmethod
    async def count_by_status(self) -> dict[OutboxStatus, int]: ...
