"""Contract for estimating how hard a password is to guess."""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

# Scores run from 0 (guessed at once) to MAX_SCORE (more than about 10^10 guesses).
MAX_SCORE: Final = 4


@dataclass(frozen=True, slots=True)
class StrengthEstimate:
    """A score from 0 to MAX_SCORE, with advice for the user when it is low.

    ``warning`` says what makes the password weak ("" when nothing in particular);
    ``suggestions`` say how to pick a better one. Neither repeats the password.
    """

    score: int
    warning: str = ""
    suggestions: tuple[str, ...] = ()


class PasswordStrengthEstimator(ABC):
    """Scores a password against dictionaries, patterns and the words of its context."""

    @abstractmethod
    async def estimate(self, password: str, context_words: Sequence[str]) -> StrengthEstimate:
        """Score ``password``; ``context_words`` (names, the email) count as easy to guess."""
