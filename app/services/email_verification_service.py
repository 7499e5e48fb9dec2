"""Email verification by one-time code."""

from app.commands.base import EmailInvoker
from app.commands.email_commands import (
    BulkVerificationCommand,
    VerificationCodeCommand,
    WelcomeCommand,
)
from app.interfaces.clock import Clock
from app.interfaces.repositories.user_repository import UserFilter, UserRepository
from app.interfaces.unit_of_work import UnitOfWork
from app.models.audit import AuditEventType
from app.models.email_request import EmailRequestPurpose
from app.models.errors import NotFoundError
from app.models.one_time_code import CodePurpose
from app.models.user import User
from app.services.audit_trail import AuditTrail
from app.services.cooldown import EmailCooldown
from app.services.email_request_queue import EmailRequestQueue
from app.services.login_throttle import LoginThrottle
from app.services.one_time_code_service import OneTimeCodeService

PURPOSE = CodePurpose.VERIFY_EMAIL
BULK_PAGE_SIZE = 100


class EmailVerificationService:
    """Sends verification codes and marks addresses verified."""

    def __init__(
        self,
        users: UserRepository,
        codes: OneTimeCodeService,
        cooldown: EmailCooldown,
        invoker: EmailInvoker,
        uow: UnitOfWork,
        clock: Clock,
        audit: AuditTrail,
        throttle: LoginThrottle,
        queue: EmailRequestQueue,
    ) -> None:
        self._queue = queue
        self._throttle = throttle
        self._audit = audit
        self._users = users
        self._codes = codes
        self._cooldown = cooldown
        self._invoker = invoker
        self._uow = uow
        self._clock = clock

    async def send_code(self, user: User) -> None:
        """Queue a fresh code; joins the caller's unit of work (registration)."""
        async with self._uow.atomic():
            code = await self._codes.issue(user.id, PURPOSE)
            await self._invoker.execute(
                VerificationCodeCommand(user, code, self._codes.policy.ttl_minutes)
            )
            await self._cooldown.start(PURPOSE.value, user.email)

    async def resend(self, email: str) -> None:
        """Queue the request; ``send_requested`` decides in the background."""
        await self._cooldown.acquire(PURPOSE.value, email)
        await self._queue.enqueue(EmailRequestPurpose.VERIFY_EMAIL, email)

    async def send_requested(self, email: str) -> None:
        """A new code if the address has an active, unverified account; else nothing."""
        user = await self._users.get_by_email(email)
        if user is None or not user.is_active or user.is_verified:
            return
        async with self._uow.atomic():
            code = await self._codes.issue(user.id, PURPOSE)
            await self._invoker.execute(
                VerificationCodeCommand(user, code, self._codes.policy.ttl_minutes)
            )

    async def verify(self, email: str, code: str) -> User:
        user, stored = await self._codes.check(email, PURPOSE, code)
        async with self._uow.atomic():
            await self._codes.consume(stored)
            updated = await self._users.update(user.id, {"is_verified": True}, self._clock.now())
            if updated is None:
                raise NotFoundError("No user with this id.")
            if not user.is_verified:
                await self._invoker.execute(WelcomeCommand(updated))
                await self._audit.record(AuditEventType.EMAIL_VERIFIED, subject=updated)
            # The code proved the mailbox: whoever was guessing no longer keeps the owner out.
            await self._throttle.lift(email)
        return updated

    async def send_to_all_unverified(self) -> int:
        """A fresh code for every active, unverified user; returns how many were queued."""
        queued = 0
        after: str | None = None
        pending = UserFilter(is_active=True, is_verified=False)
        while True:
            users = await self._users.list_after(pending, BULK_PAGE_SIZE, after)
            if not users:
                return queued
            async with self._uow.atomic():
                items = [(user, await self._codes.issue(user.id, PURPOSE)) for user in users]
                queued += await self._invoker.execute(
                    BulkVerificationCommand(items, self._codes.policy.ttl_minutes)
                )
            after = users[-1].id
