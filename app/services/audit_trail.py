"""Recording security-relevant events, and reading them back for superadmins."""

from app.interfaces.clock import Clock
from app.interfaces.repositories.audit_repository import AuditRepository
from app.interfaces.request_context import RequestContext
from app.models.audit import AuditEvent, AuditEventType
from app.models.user import User
from app.utils.ids import new_id


class AuditTrail:
    """Appends events with who acted (None: an anonymous caller), on whom, from where
    and when.

    Inside a unit of work an event commits with the change it records; failures
    (wrong password, token reuse) are recorded outside one, so they are never rolled
    back with the request that failed.
    """

    def __init__(self, audit: AuditRepository, context: RequestContext, clock: Clock) -> None:
        self._audit = audit
        self._context = context
        self._clock = clock

    async def record(
        self,
        event: AuditEventType,
        *,
        subject: User | None = None,
        subject_id: str | None = None,
        subject_email: str | None = None,
        actor: User | None = None,
        details: dict[str, str] | None = None,
    ) -> None:
        client = self._context.client()
        await self._audit.add(
            AuditEvent(
                id=new_id(),
                event=event,
                occurred_at=self._clock.now(),
                actor_id=actor.id if actor else None,
                subject_id=subject.id if subject else subject_id,
                subject_email=subject.email if subject else subject_email,
                ip_address=client.ip_address,
                user_agent=client.user_agent,
                details=details or {},
            )
        )

    async def list_events(
        self,
        user_id: str | None,
        event: AuditEventType | None,
        limit: int,
        before_id: str | None,
    ) -> list[AuditEvent]:
        return await self._audit.list_events(user_id, event, limit, before_id)
