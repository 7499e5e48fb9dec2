"""Issuing and checking six-digit one-time codes."""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from app.interfaces.clock import Clock
from app.interfaces.keyed_hasher import KeyedHasher
from app.interfaces.repositories.one_time_code_repository import OneTimeCodeRepository
from app.models.errors import InvalidCodeError
from app.models.one_time_code import CodePurpose, OneTimeCode
from app.utils.ids import new_id

CODE_DIGITS = 6


@dataclass(frozen=True, slots=True)
class CodePolicy:
    ttl_seconds: int
    max_attempts: int

    @property
    def ttl_minutes(self) -> int:
        return max(1, self.ttl_seconds // 60)


class OneTimeCodeService:
    """Codes come from ``secrets``, are stored only as a keyed hash, work once, expire,
    and burn after ``max_attempts`` wrong guesses. A new code replaces the old one."""

    def __init__(
        self,
        codes: OneTimeCodeRepository,
        hasher: KeyedHasher,
        clock: Clock,
        policy: CodePolicy,
    ) -> None:
        self._codes = codes
        self._hasher = hasher
        self._clock = clock
        self.policy = policy

    async def issue(self, user_id: str, purpose: CodePurpose) -> str:
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        now = self._clock.now()
        await self._codes.replace(
            OneTimeCode(
                id=new_id(),
                user_id=user_id,
                purpose=purpose,
                code_hash=self._hasher.digest(purpose.value, user_id, code),
                attempts=0,
                created_at=now,
                expires_at=now + timedelta(seconds=self.policy.ttl_seconds),
            )
        )
        return code

    async def check(self, user_id: str, purpose: CodePurpose, code: str) -> OneTimeCode:
        """The stored code if ``code`` matches it; a wrong guess is counted (and may burn it).

        Call outside a unit of work: a wrong guess must be counted even though the
        request fails.
        """
        stored = await self._codes.get(user_id, purpose)
        if stored is None or not stored.is_usable(self._clock.now(), self.policy.max_attempts):
            raise InvalidCodeError()
        if not self._hasher.matches(stored.code_hash, purpose.value, user_id, code):
            attempts = await self._codes.record_failure(stored.id)
            if attempts >= self.policy.max_attempts:
                await self._codes.delete(user_id, purpose)
            raise InvalidCodeError()
        return stored

    async def consume(self, code: OneTimeCode) -> None:
        """Use the code up; of concurrent requests with the right code only one succeeds."""
        if not await self._codes.consume(code.id, self._clock.now(), self.policy.max_attempts):
            raise InvalidCodeError()
