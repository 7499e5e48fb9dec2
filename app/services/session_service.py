"""Listing and ending sessions, the caller's own and (for admins) anyone's."""

from app.interfaces.clock import Clock
from app.interfaces.repositories.session_repository import SessionRepository
from app.interfaces.repositories.user_repository import UserRepository
from app.models.audit import AuditEventType
from app.models.auth import Principal
from app.models.errors import NotFoundError
from app.models.session import Session
from app.models.user import User
from app.services.access_policy import AccessPolicy
from app.services.audit_trail import AuditTrail


class SessionService:
    """Session management for users and admins."""

    def __init__(
        self,
        sessions: SessionRepository,
        users: UserRepository,
        policy: AccessPolicy,
        clock: Clock,
        audit: AuditTrail,
    ) -> None:
        self._audit = audit
        self._sessions = sessions
        self._users = users
        self._policy = policy
        self._clock = clock

    async def list_own(self, principal: Principal) -> list[Session]:
        return await self._sessions.list_active(principal.user.id, self._clock.now())

    async def revoke_own(self, principal: Principal, session_id: str) -> None:
        revoked = await self._sessions.revoke(
            session_id, self._clock.now(), user_id=principal.user.id
        )
        if not revoked:
            raise NotFoundError("No active session with this id.")

    async def list_for_user(self, actor: User, user_id: str) -> list[Session]:
        await self._managed_user(actor, user_id)
        return await self._sessions.list_active(user_id, self._clock.now())

    async def revoke_all_for_user(self, actor: User, user_id: str) -> int:
        target = await self._managed_user(actor, user_id)
        revoked = await self._sessions.revoke_all(user_id, self._clock.now())
        await self._audit.record(
            AuditEventType.SESSIONS_REVOKED,
            subject=target,
            actor=actor,
            details={"count": str(revoked)},
        )
        return revoked

    async def _managed_user(self, actor: User, user_id: str) -> User:
        target = await self._users.get_by_id(user_id)
        if target is None:
            raise NotFoundError("No user with this id.")
        self._policy.ensure_can_manage(actor, target)
        return target
