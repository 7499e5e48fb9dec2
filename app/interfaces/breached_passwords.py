"""Contract for asking whether a password has appeared in known data breaches."""

from abc import ABC, abstractmethod
from enum import StrEnum


class BreachCheckFailure(StrEnum):
    """Why a breach check got no answer; a bounded set, so it can label a metric."""

    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    BAD_RESPONSE = "bad_response"


class BreachCheckUnavailableError(Exception):
    """The breach service could not say; ``reason`` says why. Carries no password."""

    def __init__(self, reason: BreachCheckFailure) -> None:
        super().__init__(f"the breached-password service gave no answer: {reason}")
        self.reason = reason


class BreachedPasswordChecker(ABC):
    """Looks a password up in a corpus of breached passwords."""

    @abstractmethod
    async def times_breached(self, password: str) -> int:
        """How often the password appears in the corpus: 0 when it does not.

        Raises:
            BreachCheckUnavailableError: the corpus could not be asked.
        """
