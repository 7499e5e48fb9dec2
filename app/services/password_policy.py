"""The rules a new password must meet beyond its length: hard to guess, not the email's name,
not breached."""

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Final

from app.interfaces.breached_passwords import BreachCheckUnavailableError, BreachedPasswordChecker
from app.interfaces.metrics import PasswordPolicyMetrics
from app.interfaces.password_strength import MAX_SCORE, PasswordStrengthEstimator, StrengthEstimate
from app.models.errors import WeakPasswordError

logger = logging.getLogger(__name__)

# Words shorter than this are left out of the context: "ab@example.com" would otherwise
# make every password containing "ab" look weaker.
MIN_CONTEXT_WORD_LENGTH: Final = 3
_WORD_SEPARATORS: Final = re.compile(r"[\W_]+")
_FALLBACK_SUGGESTION: Final = "Add another word or two. Uncommon words are better."


def context_words(email: str, full_name: str | None, product_words: Iterable[str]) -> list[str]:
    """The words an attacker who knows the account would try first.

    The email's local part and domain, the full name, and ``product_words`` (the
    application's name): each whole, and each split into its words, all lower-case,
    without duplicates and without words shorter than MIN_CONTEXT_WORD_LENGTH.
    """
    local_part, _, domain = email.rpartition("@")
    phrases = [local_part, domain, full_name or "", *product_words]
    words: dict[str, None] = {}
    for phrase in phrases:
        for word in (phrase, *_WORD_SEPARATORS.split(phrase)):
            word = word.strip().lower()
            if len(word) >= MIN_CONTEXT_WORD_LENGTH:
                words[word] = None
    return list(words)


def _letters_and_digits(text: str) -> str:
    return _WORD_SEPARATORS.sub("", text).casefold()


class PasswordPolicy:
    """Refuses passwords that are easy to guess for anyone, or for someone who knows the account.

    1. The password must not contain the local part of the account's email (the part
       before the "@"), its full name or one of ``product_words`` (the service's name),
       compared on letters and digits only and without regard to case: "John-Smith!"
       contains "john.smith". zxcvbn rates these words as easy to guess, but it charges
       each further piece of a password at least 10^4 guesses, so "x-" + local part +
       "-x" would reach score 3; and it sees only the first characters of a password.
       Phrases shorter than MIN_CONTEXT_WORD_LENGTH letters and digits are not checked.
    2. Its strength estimate must reach ``min_score`` (0 to MAX_SCORE), with the words
       of ``context_words`` counted as known to the attacker. The estimator's frequency
       lists come from real leaked passwords, so common passwords score 0 to 2.
    3. It must not be in the corpus of ``breaches``. When the corpus cannot be asked,
       the password is accepted, with a warning in the log and a count in ``metrics``:
       a breach service that is down must not stop sign-ups and password changes.

    Length (8 to 128 characters) is enforced by the request schemas, not here. The error
    messages never repeat the password.
    """

    def __init__(
        self,
        estimator: PasswordStrengthEstimator,
        breaches: BreachedPasswordChecker,
        metrics: PasswordPolicyMetrics,
        min_score: int,
        product_words: Sequence[str] = (),
    ) -> None:
        if not 0 <= min_score <= MAX_SCORE:
            raise ValueError(f"min_score must be between 0 and {MAX_SCORE}")
        self._estimator = estimator
        self._breaches = breaches
        self._metrics = metrics
        self._min_score = min_score
        self._product_words = tuple(product_words)

    async def check(self, password: str, email: str, full_name: str | None = None) -> None:
        """Return if the password may be used for this account; raise otherwise.

        Raises:
            WeakPasswordError: the password contains the email's local part, the name
                or the service's name, scores below the minimum, or has been breached;
                the message says why and what to do.
        """
        letters = _letters_and_digits(password)
        for phrase in (email.rsplit("@", 1)[0], full_name or "", *self._product_words):
            word = _letters_and_digits(phrase)
            if len(word) >= MIN_CONTEXT_WORD_LENGTH and word in letters:
                raise WeakPasswordError(
                    "The password must not contain your name, the part of your email "
                    "address before the @, or the name of this service."
                )
        estimate = await self._estimator.estimate(
            password, context_words(email, full_name, self._product_words)
        )
        if estimate.score < self._min_score:
            raise WeakPasswordError(self._too_guessable(estimate))
        # Last: only a password that passed the rest costs a request.
        await self._ensure_not_breached(password)

    async def _ensure_not_breached(self, password: str) -> None:
        try:
            breached = await self._breaches.times_breached(password) > 0
        except BreachCheckUnavailableError as exc:
            self._metrics.breach_check_failed(exc.reason)
            logger.warning(
                "The breached-password check got no answer (%s); the new password was "
                "accepted without it",
                exc.reason.value,
            )
            return
        if breached:
            raise WeakPasswordError(
                "This password has appeared in a data breach, so attackers try it early; "
                "choose a different one."
            )

    def _too_guessable(self, estimate: StrengthEstimate) -> str:
        advice = [estimate.warning] if estimate.warning else []
        advice += estimate.suggestions or (_FALLBACK_SUGGESTION,)
        return (
            f"This password is too easy to guess: it scores {estimate.score} of {MAX_SCORE} "
            f"on strength, and {self._min_score} is required. " + " ".join(advice)
        )
