"""A clock for tests: time moves only when a test says so."""

from datetime import UTC, datetime, timedelta


class ManualClock:
    """A clock that only moves when told to (implements ``app.interfaces.clock.Clock``).

    It starts on a whole millisecond, like ``SystemClock``: the precision every backend
    (MongoDB included) stores, so entities read back exactly as they were written.
    """

    def __init__(self, start: datetime | None = None) -> None:
        now = start or datetime.now(UTC)
        self._now = now.replace(microsecond=now.microsecond // 1000 * 1000)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now
