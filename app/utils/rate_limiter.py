"""Rate limits with the ``limits`` library: fixed windows in memory, Redis or MongoDB."""

import math
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter

from app.interfaces.rate_limiter import RateLimit, RateLimiter
from app.models.errors import TooManyRequestsError
from app.utils.mongo_rate_limit_storage import MongoRateLimitStorage


def build_limits_storage(url: str) -> Storage:
    """``memory://``, ``redis://…`` (or ``rediss://``) or ``mongodb://…``."""
    if url.startswith(("mongodb://", "mongodb+srv://")):
        return MongoRateLimitStorage(url)
    if url.startswith(("redis://", "rediss://")):
        return RedisStorage(f"async+{url}")
    if url.startswith("memory://"):
        return MemoryStorage()
    raise ValueError(f"unsupported rate limit storage {url!r}")


class LimitsRateLimiter(RateLimiter):
    """Counts in fixed windows; the window's reset time becomes ``Retry-After``."""

    def __init__(self, storage: Storage, limits: Mapping[RateLimit, str]) -> None:
        self._strategy = FixedWindowRateLimiter(storage)
        self._items: dict[RateLimit, RateLimitItem] = {
            name: parse(value) for name, value in limits.items()
        }

    async def hit(self, limit: RateLimit, key: str) -> None:
        item = self._items[limit]
        if await self._strategy.hit(item, limit.value, key):
            return
        stats = await self._strategy.get_window_stats(item, limit.value, key)
        raise TooManyRequestsError(retry_after=max(1, math.ceil(stats.reset_time - time.time())))


class DisabledRateLimiter(RateLimiter):
    """RATE_LIMIT_ENABLED=false: nothing is counted (a Null Object)."""

    async def hit(self, limit: RateLimit, key: str) -> None:
        return None
