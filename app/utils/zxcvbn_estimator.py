"""Password strength by zxcvbn, the Python port of Dropbox's estimator, off the event loop."""

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from zxcvbn import zxcvbn

from app.interfaces.password_strength import PasswordStrengthEstimator, StrengthEstimate

# zxcvbn tries every reading of l33t symbols ("4" as "a", "1" as "i" or "l"...) against
# every dictionary, so its cost grows with the square of the length times the number of
# readings. Measured on the development machine, the dearest inputs (distinct l33t
# symbols only) took ~15 ms at 12 characters, up to ~85 ms at 16, ~500 ms at 20 and
# over 10 s at 128. Ordinary passwords of 16 characters take about 1 ms. So only the
# first SCORED_CHARACTERS are scored: what is cut off cannot make a guessable start
# hard to guess, and 16 characters are enough to show more than 10^10 guesses.
SCORED_CHARACTERS: Final = 16

# zxcvbn keeps the user's words in a module-level dictionary for the length of a call,
# so two calls at once, in any thread of the process, could score against each other's
# words. Every call takes this lock.
_ZXCVBN_LOCK = threading.Lock()


class ZxcvbnStrengthEstimator(PasswordStrengthEstimator):
    """Scores with zxcvbn's frequency lists (leaked passwords, names, English words),
    keyboard patterns, dates, repeats and the given context words.

    A call costs about a millisecond of CPU, and up to ~85 ms for the dearest inputs, so
    every call runs on a thread of its own rather than on the event loop. One thread:
    the calls are serialised anyway (see the lock).
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zxcvbn")

    async def estimate(self, password: str, context_words: Sequence[str]) -> StrengthEstimate:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, _estimate, password[:SCORED_CHARACTERS], tuple(context_words)
        )

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _estimate(password: str, context_words: tuple[str, ...]) -> StrengthEstimate:
    with _ZXCVBN_LOCK:
        result = zxcvbn(password, user_inputs=context_words, max_length=SCORED_CHARACTERS)
    feedback = result["feedback"]
    return StrengthEstimate(
        score=result["score"],
        warning=feedback["warning"],
        suggestions=tuple(feedback["suggestions"]),
    )
