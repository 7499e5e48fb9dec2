"""Contract for the per-client failed-login counters behind account lockout."""

from abc import ABC, abstractmethod
from datetime import datetime

from app.models.login_lockout import LoginLockout


class LoginLockoutRepository(ABC):
    """One row per account and client; lives in the database, so a lock holds across
    processes and restarts. ``key`` identifies the pair, ``account_key`` the account."""

    @abstractmethod
    async def get(self, key: str) -> LoginLockout | None: ...

    @abstractmethod
    async def record_attempt(
        self,
        key: str,
        account_key: str,
        now: datetime,
        max_failures: int,
        lock_seconds: list[int],
    ) -> LoginLockout | None:
        """Count an attempt atomically, before its password is checked; at
        ``max_failures`` lock the pair. None, and nothing counted, while it is locked.

        Counting first means concurrent attempts cannot all pass a limit they would
        only reach afterwards; a right password then forgets the count
        (``record_success``). The lock lasts ``lock_seconds[min(lockouts, len - 1)]``
        seconds (the caller passes the doubling, capped series) and resets the count.
        """

    @abstractmethod
    async def record_success(self, key: str) -> None:
        """Forget the pair's attempts and locks (a right password); an unlock stays."""

    @abstractmethod
    async def unlock(self, account_key: str, key: str, now: datetime, until: datetime) -> None:
        """Lift every client's lock on the account, and let the pair ``key`` past the
        account's spent guess budget until ``until`` (it proved the mailbox is its)."""
