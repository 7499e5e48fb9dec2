"""Contract for the failed-login counters behind account lockout."""

from abc import ABC, abstractmethod
from datetime import datetime

from app.models.login_lockout import LoginLockout


class LoginLockoutRepository(ABC):
    """Lives in the database, so a lock holds across processes and restarts."""

    @abstractmethod
    async def get(self, key: str) -> LoginLockout | None: ...

    @abstractmethod
    async def record_failure(
        self, key: str, now: datetime, max_failures: int, lock_seconds: list[int]
    ) -> LoginLockout:
        """Count a failure atomically; at ``max_failures`` lock the key.

        The lock lasts ``lock_seconds[min(lockouts, len - 1)]`` seconds (the caller
        passes the doubling, capped series) and resets the failure count.
        """

    @abstractmethod
    async def clear(self, key: str) -> None:
        """Forget the key's failures and lockouts (after a successful login)."""
