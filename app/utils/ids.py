"""Time-ordered identifiers (UUID version 7, RFC 9562)."""

import secrets
import threading
import time
import uuid

_COUNTER_BITS = 12
_COUNTER_MAX = (1 << _COUNTER_BITS) - 1


class _Uuid7Generator:
    """UUIDv7 with a 12-bit counter in ``rand_a`` (RFC 9562 §6.2, method 1).

    Within one process every id sorts after the previous one, even inside one
    millisecond or when the wall clock steps back: the counter continues, and when
    it runs out the timestamp is advanced by one millisecond.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._millis = 0
        self._counter = 0

    def next(self) -> str:
        with self._lock:
            millis = time.time_ns() // 1_000_000
            if millis > self._millis:
                self._millis = millis
                # Start low in the range so a burst within the millisecond has room.
                self._counter = secrets.randbits(_COUNTER_BITS - 1)
            elif self._counter < _COUNTER_MAX:
                self._counter += 1
            else:
                self._millis += 1
                self._counter = 0
            millis, counter = self._millis, self._counter
        value = (millis & ((1 << 48) - 1)) << 80
        value |= 0x7 << 76
        value |= counter << 64
        value |= 0b10 << 62
        value |= secrets.randbits(62)
        return str(uuid.UUID(int=value))


_generator = _Uuid7Generator()


def new_id() -> str:
    """A UUIDv7 string: Unix milliseconds, a counter, then 62 random bits.

    Ids sort by creation time, which makes keyset pagination stable and keeps
    B-tree inserts at the right edge of the index.
    """
    return _generator.next()
