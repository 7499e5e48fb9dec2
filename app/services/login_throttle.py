"""Account lockout: consecutive wrong passwords lock an email address for a while."""

import math
from dataclasses import dataclass

from app.interfaces.clock import Clock
from app.interfaces.keyed_hasher import KeyedHasher
from app.interfaces.repositories.login_lockout_repository import LoginLockoutRepository
from app.models.errors import AccountLockedError


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    max_failures: int
    base_seconds: int
    max_seconds: int

    def lock_series(self) -> list[int]:
        """Each lock doubles the last, up to the cap: 60, 120, 240, … max."""
        series = [min(self.base_seconds, self.max_seconds)]
        while series[-1] < self.max_seconds:
            series.append(min(series[-1] * 2, self.max_seconds))
        return series


class LoginThrottle:
    """Tracks failures per address (known or not, so a lock reveals nothing)."""

    def __init__(
        self,
        lockouts: LoginLockoutRepository,
        hasher: KeyedHasher,
        clock: Clock,
        policy: LockoutPolicy,
    ) -> None:
        self._lockouts = lockouts
        self._hasher = hasher
        self._clock = clock
        self._policy = policy

    async def ensure_not_locked(self, email: str) -> None:
        state = await self._lockouts.get(self._key(email))
        now = self._clock.now()
        if state is not None and state.locked_until is not None and state.is_locked(now):
            retry = math.ceil((state.locked_until - now).total_seconds())
            raise AccountLockedError(retry_after=max(1, retry))

    async def record_failure(self, email: str) -> bool:
        """Count a wrong password; True when this failure locked the address."""
        state = await self._lockouts.record_failure(
            self._key(email),
            self._clock.now(),
            self._policy.max_failures,
            self._policy.lock_series(),
        )
        return state.failures == 0 and state.is_locked(self._clock.now())

    async def record_success(self, email: str) -> None:
        await self._lockouts.clear(self._key(email))

    def _key(self, email: str) -> str:
        return self._hasher.digest("login", email.strip().lower())
