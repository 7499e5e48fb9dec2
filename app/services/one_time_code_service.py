"""Issuing and checking six-digit one-time codes."""

import asyncio
import math
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from app.interfaces.clock import Clock
from app.interfaces.keyed_hasher import KeyedHasher
from app.interfaces.repositories.guess_counter_repository import GuessCounterRepository
from app.interfaces.repositories.one_time_code_repository import OneTimeCodeRepository
from app.interfaces.repositories.user_repository import UserRepository
from app.models.errors import CodeGuessesExhaustedError, DomainError, InvalidCodeError
from app.models.one_time_code import CodePurpose, OneTimeCode
from app.models.user import User, normalise_email
from app.utils.ids import new_id

CODE_DIGITS = 6
# An id no account or code has (ids are UUIDv7, never all zeros).
NO_ACCOUNT = "00000000-0000-0000-0000-000000000000"
# Wrong guesses per address are counted in fixed windows of an hour holding half the
# hourly bound: any sixty minutes overlap at most two windows.
GUESS_WINDOW_SECONDS = 3_600
# A refused code is answered no sooner than this after the request began. The same
# statements run for every address, but reading back a user or a code that exists
# still costs tens of microseconds more than finding none; this hides it.
REFUSAL_MIN_SECONDS = 0.025
# The event loop wakes a sleeper on whole milliseconds counted from when it went to
# sleep, which would carry the work's sub-millisecond part through the floor; a random
# wider than that spreads it evenly whatever the work took.
REFUSAL_JITTER_SECONDS = 0.002
_jitter = secrets.SystemRandom()


@dataclass(frozen=True, slots=True)
class CodePolicy:
    ttl_seconds: int
    max_attempts: int
    guesses_per_hour: int

    @property
    def ttl_minutes(self) -> int:
        return max(1, self.ttl_seconds // 60)

    @property
    def guesses_per_window(self) -> int:
        return max(1, self.guesses_per_hour // 2)


class Checked(NamedTuple):
    """A code that matched, and the account it was sent to."""

    user: User
    code: OneTimeCode


@asynccontextmanager
async def _refusals_take_the_same_time() -> AsyncIterator[None]:
    """Hold a domain error raised inside until the refusal floor has passed."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        yield
    except DomainError:
        deadline = started + REFUSAL_MIN_SECONDS + _jitter.uniform(0, REFUSAL_JITTER_SECONDS)
        await asyncio.sleep(max(0.0, deadline - loop.time()))
        raise


class OneTimeCodeService:
    """Codes come from ``secrets``, are stored only as a keyed hash, work once, expire,
    and burn after ``max_attempts`` wrong guesses. A new code replaces the old one.

    Wrong guesses are also counted per address and purpose across codes, so asking
    for a new code gives no fresh guesses: at most ``guesses_per_hour`` an hour.
    """

    def __init__(
        self,
        codes: OneTimeCodeRepository,
        guesses: GuessCounterRepository,
        users: UserRepository,
        hasher: KeyedHasher,
        clock: Clock,
        policy: CodePolicy,
    ) -> None:
        self._codes = codes
        self._guesses = guesses
        self._users = users
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

    async def check(self, email: str, purpose: CodePurpose, code: str) -> Checked:
        """The active account of ``email`` and its stored code, if ``code`` matches it.

        A wrong guess is counted (and may burn the code); an address without an active
        account fails like a wrong code, after the same work, and no sooner than
        ``REFUSAL_MIN_SECONDS``. Call outside a unit of work: a wrong guess must be
        counted even though the request fails.
        """
        async with _refusals_take_the_same_time():
            found = await self._users.get_by_email(email)
            user = found if found is not None and found.is_active else None
            stored = await self._check(email, user.id if user else NO_ACCOUNT, purpose, code)
            if user is None:
                raise InvalidCodeError()
            return Checked(user, stored)

    async def _check(self, email: str, owner: str, purpose: CodePurpose, code: str) -> OneTimeCode:
        now = self._clock.now()
        key = self._hasher.digest("code-guesses", purpose.value, normalise_email(email))
        # Counted before the check, so that concurrent guesses cannot all pass the
        # budget; a right code takes its count back.
        window = await self._guesses.hit(key, now, GUESS_WINDOW_SECONDS)
        if window.count > self.policy.guesses_per_window:
            raise CodeGuessesExhaustedError(
                retry_after=max(1, math.ceil((window.resets_at - now).total_seconds()))
            )
        # Without an account the same reads and writes run on an id that matches no
        # row, so a wrong code costs the same time whether or not the address is known.
        stored = await self._codes.get(owner, purpose)
        if (
            stored is not None
            and stored.is_usable(now, self.policy.max_attempts)
            and self._hasher.matches(stored.code_hash, purpose.value, owner, code)
        ):
            await self._guesses.release(key)
            return stored
        attempts = await self._codes.record_failure(stored.id if stored else NO_ACCOUNT)
        if attempts >= self.policy.max_attempts:
            await self._codes.delete(owner, purpose)
        raise InvalidCodeError()

    async def consume(self, code: OneTimeCode) -> None:
        """Use the code up; of concurrent requests with the right code only one succeeds."""
        if not await self._codes.consume(code.id, self._clock.now(), self.policy.max_attempts):
            raise InvalidCodeError()
