"""The system clock."""

from datetime import UTC, datetime


class SystemClock:
    """The real UTC clock (implements ``app.interfaces.clock.Clock``).

    Times are cut to whole milliseconds, the precision of MongoDB's dates, so an
    entity reads back exactly as it was written on every backend.
    """

    def now(self) -> datetime:
        now = datetime.now(UTC)
        return now.replace(microsecond=now.microsecond // 1000 * 1000)
