"""Unlock by email: the owner's way past a login budget that someone else spent."""

import secrets
from datetime import timedelta

from app.commands.base import EmailInvoker
from app.commands.email_commands import AccountUnlockCommand
from app.interfaces.clock import Clock
from app.interfaces.keyed_hasher import KeyedHasher
from app.interfaces.repositories.one_time_code_repository import CooldownRepository
from app.interfaces.repositories.user_repository import UserRepository
from app.interfaces.unit_of_work import UnitOfWork
from app.models.audit import AuditEventType
from app.models.email_request import EmailRequestPurpose
from app.models.errors import InvalidCodeError
from app.models.user import normalise_email
from app.services.audit_trail import AuditTrail
from app.services.cooldown import EmailCooldown
from app.services.email_request_queue import EmailRequestQueue
from app.services.login_throttle import LoginThrottle

PURPOSE = "unlock"
_SEPARATOR = "."
# An hour, no less than the per-address email limits' periods: whenever they refuse
# the owner another email, one sent within the hour (maybe at an attacker's request,
# but to the owner's mailbox) still holds a token that works.
TOKEN_TTL_SECONDS = 3_600


class UnlockTokens:
    """Tokens of the form ``<expiry>.<nonce>.<mac>``: the MAC, keyed by the server
    secret, binds them to one address and expiry.

    128 random bits and a 256-bit MAC cannot be guessed, so unlike six-digit codes
    they need no guess budget, which an attacker could spend to keep the owner out;
    and a new token does not void the older ones, so an attacker asking for more
    cannot void the one the owner is about to use. Each works once: its nonce takes
    a slot in the cool-down store that outlives the token.
    """

    def __init__(
        self,
        hasher: KeyedHasher,
        spent: CooldownRepository,
        clock: Clock,
        ttl_seconds: int = TOKEN_TTL_SECONDS,
    ) -> None:
        self._hasher = hasher
        self._spent = spent
        self._clock = clock
        self.ttl_seconds = ttl_seconds

    def mint(self, email: str) -> str:
        expires = int((self._clock.now() + timedelta(seconds=self.ttl_seconds)).timestamp())
        nonce = secrets.token_urlsafe(16)
        mac = self._hasher.digest(PURPOSE, normalise_email(email), str(expires), nonce)
        return _SEPARATOR.join((str(expires), nonce, mac))

    async def redeem(self, email: str, token: str) -> bool:
        """True once for a genuine, unexpired token of this address."""
        parts = token.split(_SEPARATOR)
        if len(parts) != 3:
            return False
        expires, nonce, mac = parts
        now = self._clock.now()
        if not expires.isdigit() or int(expires) <= now.timestamp():
            return False
        if not self._hasher.matches(mac, PURPOSE, normalise_email(email), expires, nonce):
            return False
        slot = self._hasher.digest("unlock-spent", nonce)
        return await self._spent.acquire(slot, now, self.ttl_seconds) is None


class AccountUnlockService:
    """Sends unlock tokens and redeems them for the client that presents one."""

    def __init__(
        self,
        users: UserRepository,
        tokens: UnlockTokens,
        cooldown: EmailCooldown,
        invoker: EmailInvoker,
        throttle: LoginThrottle,
        audit: AuditTrail,
        queue: EmailRequestQueue,
        uow: UnitOfWork,
    ) -> None:
        self._uow = uow
        self._queue = queue
        self._users = users
        self._tokens = tokens
        self._cooldown = cooldown
        self._invoker = invoker
        self._throttle = throttle
        self._audit = audit

    async def request(self, email: str) -> None:
        """Queue the request; ``send_requested`` decides in the background."""
        await self._cooldown.acquire(PURPOSE, email)
        await self._queue.enqueue(EmailRequestPurpose.UNLOCK_ACCOUNT, email)

    async def send_requested(self, email: str) -> None:
        """Email a token if an active account has this address; else nothing."""
        user = await self._users.get_by_email(email)
        if user is None or not user.is_active:
            return
        await self._invoker.execute(
            AccountUnlockCommand(
                user, self._tokens.mint(email), max(1, self._tokens.ttl_seconds // 60)
            )
        )

    async def unlock(self, email: str, token: str) -> None:
        # One unit of work: a token is never spent without the unlock it paid for.
        async with self._uow.atomic():
            if not await self._tokens.redeem(email, token):
                raise InvalidCodeError("The unlock token is wrong, expired or already used.")
            await self._throttle.lift(email)
            user = await self._users.get_by_email(email)
            await self._audit.record(
                AuditEventType.ACCOUNT_UNLOCKED, subject=user, actor=user, subject_email=email
            )
