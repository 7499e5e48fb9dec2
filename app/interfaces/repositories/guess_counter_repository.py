"""Contract for counting wrong guesses per key over a window of time."""

from abc import ABC, abstractmethod
from datetime import datetime

from app.models.guess_window import GuessWindow


class GuessCounterRepository(ABC):
    """Counts wrong guesses (passwords, one-time codes) per key in fixed windows.

    A window opens at the first guess after the last one closed and lasts
    ``window_seconds``. Keys are keyed hashes, never addresses, so a key reveals
    nothing about which accounts exist; it lives in the database, so the count is
    shared by every process.
    """

    @abstractmethod
    async def hit(self, key: str, now: datetime, window_seconds: int) -> GuessWindow:
        """Count one guess atomically (opening a new window if the last one closed)."""

    @abstractmethod
    async def release(self, key: str) -> None:
        """Take back one counted guess (it turned out right); never below zero.

        Callers count a guess *before* checking it, so that concurrent guesses cannot
        all pass a limit that they would only have reached afterwards.
        """
