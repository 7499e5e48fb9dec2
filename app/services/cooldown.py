"""Per-address cool-down between emails that a caller can trigger."""

import math

from app.interfaces.clock import Clock
from app.interfaces.keyed_hasher import KeyedHasher
from app.interfaces.repositories.one_time_code_repository import CooldownRepository
from app.models.errors import TooManyRequestsError
from app.models.user import normalise_email


class EmailCooldown:
    """Refuses a second request for the same address and purpose within the cool-down.

    It applies whether or not an account has the address, so a 429 reveals nothing;
    keys are keyed hashes, so the table never stores an address that has no account.
    """

    def __init__(
        self, cooldowns: CooldownRepository, hasher: KeyedHasher, clock: Clock, seconds: int
    ) -> None:
        self._cooldowns = cooldowns
        self._hasher = hasher
        self._clock = clock
        self._seconds = seconds

    async def acquire(self, purpose: str, email: str) -> None:
        if self._seconds == 0:
            return
        wait = await self._cooldowns.acquire(
            self._key(purpose, email), self._clock.now(), self._seconds
        )
        if wait is not None:
            raise TooManyRequestsError(
                retry_after=max(1, math.ceil(wait)),
                message="An email was sent to this address a moment ago; try again later.",
            )

    async def start(self, purpose: str, email: str) -> None:
        await self._cooldowns.touch(self._key(purpose, email), self._clock.now())

    def _key(self, purpose: str, email: str) -> str:
        return self._hasher.digest("cooldown", purpose, normalise_email(email))
