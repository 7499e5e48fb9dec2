"""How many wrong guesses a key has spent in its current window."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class GuessWindow:
    """A fixed window that opens at a key's first wrong guess and lasts a set time.

    ``count`` is the wrong guesses in it so far (0 once the window has run out);
    ``resets_at`` is when the next window may open.
    """

    count: int
    resets_at: datetime
