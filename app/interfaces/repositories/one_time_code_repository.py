"""Contract for one-time codes and for the cool-down between sending them."""

from abc import ABC, abstractmethod
from datetime import datetime

from app.models.one_time_code import CodePurpose, OneTimeCode


class OneTimeCodeRepository(ABC):
    """At most one live code per user and purpose; a new one replaces the old."""

    @abstractmethod
    async def replace(self, code: OneTimeCode) -> None:
        """Store ``code`` as the only code of its user and purpose."""

    @abstractmethod
    async def get(self, user_id: str, purpose: CodePurpose) -> OneTimeCode | None: ...

    @abstractmethod
    async def record_failure(self, code_id: str) -> int:
        """Count a wrong guess atomically; return the attempts now recorded (0 if gone)."""

    @abstractmethod
    async def consume(self, code_id: str, now: datetime, max_attempts: int) -> bool:
        """Delete the code if it is still usable; True for exactly one concurrent caller."""

    @abstractmethod
    async def delete(self, user_id: str, purpose: CodePurpose) -> None: ...


class CooldownRepository(ABC):
    """Remembers when something was last done for a key (a keyed hash, never an email)."""

    @abstractmethod
    async def acquire(self, key: str, now: datetime, cooldown_seconds: int) -> float | None:
        """Take the slot if the last one is older than the cool-down.

        Returns None when taken, otherwise the seconds left to wait. Atomic: of
        concurrent callers at most one gets the slot.
        """

    @abstractmethod
    async def touch(self, key: str, now: datetime) -> None:
        """Start a cool-down unconditionally."""
