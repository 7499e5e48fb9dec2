"""Forgotten passwords: a code by email, then a new password."""

from app.commands.base import EmailInvoker
from app.commands.email_commands import PasswordChangedCommand, PasswordResetCodeCommand
from app.interfaces.clock import Clock
from app.interfaces.password_hasher import PasswordHasher
from app.interfaces.repositories.session_repository import SessionRepository
from app.interfaces.repositories.user_repository import UserRepository
from app.interfaces.unit_of_work import UnitOfWork
from app.models.audit import AuditEventType
from app.models.email_request import EmailRequestPurpose
from app.models.errors import NotFoundError
from app.models.one_time_code import CodePurpose
from app.services.audit_trail import AuditTrail
from app.services.cooldown import EmailCooldown
from app.services.email_request_queue import EmailRequestQueue
from app.services.login_throttle import LoginThrottle
from app.services.one_time_code_service import OneTimeCodeService
from app.services.password_policy import PasswordPolicy

PURPOSE = CodePurpose.RESET_PASSWORD


class PasswordResetService:
    """Forgot-password and reset-password."""

    def __init__(
        self,
        users: UserRepository,
        sessions: SessionRepository,
        hasher: PasswordHasher,
        codes: OneTimeCodeService,
        cooldown: EmailCooldown,
        invoker: EmailInvoker,
        uow: UnitOfWork,
        clock: Clock,
        password_policy: PasswordPolicy,
        audit: AuditTrail,
        throttle: LoginThrottle,
        queue: EmailRequestQueue,
    ) -> None:
        self._queue = queue
        self._throttle = throttle
        self._audit = audit
        self._password_policy = password_policy
        self._users = users
        self._sessions = sessions
        self._hasher = hasher
        self._codes = codes
        self._cooldown = cooldown
        self._invoker = invoker
        self._uow = uow
        self._clock = clock

    async def forgot(self, email: str) -> None:
        """Queue the request; ``send_requested`` decides in the background."""
        await self._cooldown.acquire(PURPOSE.value, email)
        await self._queue.enqueue(EmailRequestPurpose.RESET_PASSWORD, email)

    async def send_requested(self, email: str) -> None:
        """A reset code if an active account has this address; else nothing."""
        user = await self._users.get_by_email(email)
        if user is None or not user.is_active:
            return
        async with self._uow.atomic():
            code = await self._codes.issue(user.id, PURPOSE)
            await self._invoker.execute(
                PasswordResetCodeCommand(user, code, self._codes.policy.ttl_minutes)
            )

    async def reset(self, email: str, code: str, new_password: str) -> None:
        user, stored = await self._codes.check(email, PURPOSE, code)
        await self._password_policy.check(new_password, user.email, user.full_name)
        hashed = await self._hasher.hash(new_password)
        now = self._clock.now()
        async with self._uow.atomic():
            await self._codes.consume(stored)
            # The code arrived by email, which proves the address as well.
            updated = await self._users.update(
                user.id, {"hashed_password": hashed, "is_verified": True}, now
            )
            if updated is None:
                raise NotFoundError("No user with this id.")
            await self._sessions.revoke_all(user.id, now)
            await self._invoker.execute(PasswordChangedCommand(updated, now))
            await self._audit.record(AuditEventType.PASSWORD_RESET, subject=updated)
            # The code proved the mailbox: whoever was guessing no longer keeps the owner out.
            await self._throttle.lift(email)
