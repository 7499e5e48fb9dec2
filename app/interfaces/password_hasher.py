"""Contract for hashing and verifying passwords."""

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of a verification; ``new_hash`` is set when the stored hash is outdated."""

    valid: bool
    new_hash: str | None = None


class PasswordHasher(ABC):
    """Hashes passwords off the event loop."""

    @abstractmethod
    async def hash(self, password: str) -> str: ...

    @abstractmethod
    async def verify(self, password: str, hashed: str) -> VerifyResult: ...

    @abstractmethod
    async def verify_dummy(self, password: str) -> None:
        """Spend the time of a real verification, for accounts that do not exist."""
