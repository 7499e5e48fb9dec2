"""Contract for the audit log."""

from abc import ABC, abstractmethod

from app.models.audit import AuditEvent, AuditEventType


class AuditRepository(ABC):
    """Append-only storage of ``AuditEvent``: there is deliberately no update or delete.

    Events reference users by id only, without a foreign key, so they outlive the
    users they mention. Inside ``uow.atomic()`` an ``add`` commits (or rolls back)
    with the other writes, on the backends that have transactions.
    """

    @abstractmethod
    async def add(self, event: AuditEvent) -> None:
        """Append ``event``; its id must be new."""

    @abstractmethod
    async def list_events(
        self,
        user_id: str | None,
        event: AuditEventType | None,
        limit: int,
        before_id: str | None,
    ) -> list[AuditEvent]:
        """Up to ``limit`` (at least 1) events, newest (highest id) first.

        ``user_id`` keeps the events where that user is the subject or the actor;
        ``event`` keeps one type; ``before_id`` continues after the last event of the
        previous page (it need not match the filters, nor still exist). Raises
        ``ValueError`` when ``limit`` is below 1.
        """
