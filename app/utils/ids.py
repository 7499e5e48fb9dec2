"""Time-ordered identifiers (UUID version 7, RFC 9562)."""

import secrets
import time
import uuid


def new_id() -> str:
    """A UUIDv7 string: 48 bits of Unix milliseconds, then 74 random bits.

    Ids sort by creation time, which makes keyset pagination stable and keeps
    B-tree inserts at the right edge of the index.
    """
    millis = time.time_ns() // 1_000_000
    rand_a = secrets.randbits(12)
    rand_b = secrets.randbits(62)
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= rand_a << 64
    value |= 0b10 << 62
    value |= rand_b
    return str(uuid.UUID(int=value))
