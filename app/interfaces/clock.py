"""Contract for reading the time, so services can be tested at any instant."""

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    """Anything with a ``now()`` that returns an aware UTC datetime."""

    def now(self) -> datetime: ...
