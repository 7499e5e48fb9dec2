"""The system clock."""

from datetime import UTC, datetime


class SystemClock:
    """The real UTC clock (implements ``app.interfaces.clock.Clock``)."""

    def now(self) -> datetime:
        return datetime.now(UTC)
