"""Rate limits below HTTP: the fixed-window limiter and its storages.

The MongoDB storage (``MongoRateLimitStorage``) is the project's own code, so its
contract is tested in full on the in-process fake, and on a real server when
TEST_MONGODB_URL is set. The same counting tests run on ``memory://`` always and on
Redis when TEST_REDIS_URL is set, so the three storages are held to one behaviour.
"""

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import coredis
import pytest
from limits.aio.storage import Storage
from pymongo import AsyncMongoClient

from app.interfaces.rate_limiter import RateLimit
from app.models.errors import AccountLockedError, TooManyRequestsError
from app.utils.mongo_rate_limit_storage import MongoRateLimitStorage
from app.utils.rate_limiter import DisabledRateLimiter, LimitsRateLimiter, build_limits_storage
from tests.backends import mongodb_server, with_database
from tests.fakes.async_mongomock import AsyncMongomockClient

# Redis is one store for every xdist worker: its tests run in one worker, in turn.
pytestmark = pytest.mark.xdist_group("redis")

REDIS_ENV = "TEST_REDIS_URL"
STORAGES = ("memory", "mongodb-fake", "redis", "mongodb")
# Time the test itself may take between a hit and a check of the window's expiry.
SLACK_SECONDS = 2.0


@dataclass
class LimitStorage:
    """A storage under test, with a token that makes its keys unique to one test."""

    kind: str
    storage: Storage
    token: str

    def key(self, name: str) -> str:
        return f"test/{self.token}/{name}"


def redis_server() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"set {REDIS_ENV} (redis://host:6379) to run against Redis")
    return url


async def delete_redis_keys(url: str, fragment: str) -> None:
    """Delete the keys whose name contains ``fragment`` (and no others)."""
    client = coredis.Redis.from_url(url, decode_responses=True)
    try:
        keys = [key async for key in client.scan_iter(match=f"*{fragment}*")]
        if keys:
            await client.delete(keys)
        left = [key async for key in client.scan_iter(match=f"*{fragment}*")]
        assert left == [], left
    finally:
        client.connection_pool.disconnect()


def close_redis_storage(storage: Storage) -> None:
    """Drop the connections of a ``limits`` Redis storage (it has no close method)."""
    storage.bridge.storage.connection_pool.disconnect()  # type: ignore[attr-defined]


@pytest.fixture(params=STORAGES)
async def limit_storage(request: pytest.FixtureRequest) -> AsyncIterator[LimitStorage]:
    token = uuid.uuid4().hex
    kind: str = request.param
    if kind == "memory":
        yield LimitStorage(kind, build_limits_storage("memory://"), token)
    elif kind == "mongodb-fake":
        client = AsyncMongomockClient()
        storage = MongoRateLimitStorage("mongodb://fake.invalid:27017", client, "limits_test")
        yield LimitStorage(kind, storage, token)
        await client.close()
    elif kind == "redis":
        url = redis_server()
        storage = build_limits_storage(url)
        used = LimitStorage(kind, storage, token)
        try:
            yield used
        finally:
            # Only this test's keys: the server may be shared, so no reset().
            close_redis_storage(storage)
            await delete_redis_keys(url, f"test/{token}/")
    else:
        name = f"test_limits_{token[:12]}"
        url = with_database(mongodb_server(), name)
        storage = MongoRateLimitStorage(url)
        try:
            yield LimitStorage(kind, storage, token)
        finally:
            client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(url)
            await client.drop_database(name)
            await client.close()


@pytest.fixture
def fake_mongo() -> AsyncMongomockClient:
    return AsyncMongomockClient()


def mongo_storage(client: AsyncMongomockClient) -> MongoRateLimitStorage:
    return MongoRateLimitStorage("mongodb://fake.invalid:27017", client, "limits_test")


# --- the storage contract: incr, get, get_expiry, clear ---------------------------------


async def test_incr_counts_within_one_window(limit_storage: LimitStorage) -> None:
    storage, key = limit_storage.storage, limit_storage.key("a")
    assert await storage.get(key) == 0
    assert [await storage.incr(key, 60) for _ in range(3)] == [1, 2, 3]
    assert await storage.get(key) == 3
    assert await storage.incr(key, 60, amount=4) == 7
    assert await storage.get(key) == 7


async def test_keys_are_counted_separately(limit_storage: LimitStorage) -> None:
    storage = limit_storage.storage
    a, b = limit_storage.key("a"), limit_storage.key("b")
    await storage.incr(a, 60)
    await storage.incr(a, 60)
    assert await storage.incr(b, 60) == 1
    assert await storage.get(a) == 2
    assert await storage.get(b) == 1


async def test_get_expiry_is_the_end_of_the_window_set_by_its_first_hit(
    limit_storage: LimitStorage,
) -> None:
    storage, key = limit_storage.storage, limit_storage.key("expiry")
    before = time.time()
    await storage.incr(key, 60)
    first_expiry = await storage.get_expiry(key)
    assert before + 60 - SLACK_SECONDS <= first_expiry <= time.time() + 60 + SLACK_SECONDS
    await asyncio.sleep(0.05)
    await storage.incr(key, 60)
    # A fixed window: later hits do not push the end of the window back.
    assert abs(await storage.get_expiry(key) - first_expiry) < 0.5


async def test_an_expired_window_starts_again_from_one(limit_storage: LimitStorage) -> None:
    storage, key = limit_storage.storage, limit_storage.key("window")
    assert await storage.incr(key, 1) == 1
    assert await storage.incr(key, 1) == 2
    await asyncio.sleep(1.2)
    assert await storage.get(key) == 0, "an expired window counts nothing"
    assert await storage.get_expiry(key) <= time.time() + 0.1
    started = time.time()
    assert await storage.incr(key, 1) == 1
    assert started + 0.5 <= await storage.get_expiry(key) <= time.time() + 1 + 0.1


async def test_clear_forgets_one_key_only(limit_storage: LimitStorage) -> None:
    storage = limit_storage.storage
    gone, kept = limit_storage.key("gone"), limit_storage.key("c")
    await storage.incr(gone, 60, amount=5)
    await storage.incr(kept, 60, amount=2)
    await storage.clear(gone)
    assert await storage.get(gone) == 0
    assert await storage.get(kept) == 2
    assert await storage.incr(gone, 60) == 1


async def test_concurrent_hits_are_each_counted_once(limit_storage: LimitStorage) -> None:
    storage, key = limit_storage.storage, limit_storage.key("burst")
    results = await asyncio.gather(*(storage.incr(key, 60) for _ in range(25)))
    assert sorted(results) == list(range(1, 26))
    assert await storage.get(key) == 25


async def test_check_reports_a_healthy_storage(limit_storage: LimitStorage) -> None:
    assert await limit_storage.storage.check() is True


# --- MongoDB-specific: reset, outages, the TTL index ------------------------------------


async def test_mongo_reset_deletes_every_counter(fake_mongo: AsyncMongomockClient) -> None:
    storage = mongo_storage(fake_mongo)
    for key in ("x", "y", "z"):
        await storage.incr(key, 60)
    assert await storage.reset() == 3
    assert [await storage.get(key) for key in ("x", "y", "z")] == [0, 0, 0]
    assert await storage.reset() == 0


async def test_mongo_storages_on_one_database_share_their_counters(
    fake_mongo: AsyncMongomockClient,
) -> None:
    """Two app processes on one MongoDB see one count: that is what the storage is for."""
    first, second = mongo_storage(fake_mongo), mongo_storage(fake_mongo)
    assert await first.incr("shared", 60) == 1
    assert await second.incr("shared", 60) == 2
    assert await first.get("shared") == 2
    assert abs(await first.get_expiry("shared") - await second.get_expiry("shared")) < 0.01


async def test_mongo_check_is_false_while_the_server_is_down(
    fake_mongo: AsyncMongomockClient,
) -> None:
    storage = mongo_storage(fake_mongo)
    await storage.incr("k", 60)
    fake_mongo.outage.down = True
    assert await storage.check() is False
    fake_mongo.outage.down = False
    assert await storage.check() is True
    assert await storage.get("k") == 1


async def test_mongo_get_expiry_of_an_unknown_key_is_now(fake_mongo: AsyncMongomockClient) -> None:
    storage = mongo_storage(fake_mongo)
    before = time.time()
    expiry = await storage.get_expiry("never-hit")
    assert before - 0.01 <= expiry <= time.time() + 0.01


# --- LimitsRateLimiter: what the routes call ---------------------------------------------


def limiter_on(storage: Storage, **limits: str) -> LimitsRateLimiter:
    return LimitsRateLimiter(storage, {RateLimit(name): value for name, value in limits.items()})


async def test_limiter_allows_the_limit_then_refuses_with_retry_after(
    limit_storage: LimitStorage,
) -> None:
    limiter = limiter_on(limit_storage.storage, login_per_ip="3/minute")
    key = limit_storage.key("a")
    for _ in range(3):
        await limiter.hit(RateLimit.LOGIN_PER_IP, key)
    with pytest.raises(TooManyRequestsError) as refused:
        await limiter.hit(RateLimit.LOGIN_PER_IP, key)
    assert not isinstance(refused.value, AccountLockedError)
    assert refused.value.code == "rate_limited"
    assert isinstance(refused.value.retry_after, int)
    assert 60 - SLACK_SECONDS <= refused.value.retry_after <= 60
    # Refusals keep being refused; another key is untouched.
    with pytest.raises(TooManyRequestsError):
        await limiter.hit(RateLimit.LOGIN_PER_IP, key)
    await limiter.hit(RateLimit.LOGIN_PER_IP, limit_storage.key("b"))


async def test_each_limit_counts_in_its_own_namespace(limit_storage: LimitStorage) -> None:
    limiter = limiter_on(
        limit_storage.storage, login_per_ip="1/minute", login_per_account="1/minute"
    )
    key = limit_storage.key("c")
    await limiter.hit(RateLimit.LOGIN_PER_IP, key)
    # The same key under another limit is a different counter.
    await limiter.hit(RateLimit.LOGIN_PER_ACCOUNT, key)
    with pytest.raises(TooManyRequestsError):
        await limiter.hit(RateLimit.LOGIN_PER_IP, key)
    with pytest.raises(TooManyRequestsError):
        await limiter.hit(RateLimit.LOGIN_PER_ACCOUNT, key)


async def test_retry_after_counts_down_and_the_window_reopens(
    limit_storage: LimitStorage,
) -> None:
    limiter = limiter_on(limit_storage.storage, code_per_address="2/2seconds")
    key = limit_storage.key("window")
    await limiter.hit(RateLimit.CODE_PER_ADDRESS, key)
    await limiter.hit(RateLimit.CODE_PER_ADDRESS, key)
    with pytest.raises(TooManyRequestsError) as first:
        await limiter.hit(RateLimit.CODE_PER_ADDRESS, key)
    assert first.value.retry_after == 2
    await asyncio.sleep(1.1)
    with pytest.raises(TooManyRequestsError) as second:
        await limiter.hit(RateLimit.CODE_PER_ADDRESS, key)
    assert second.value.retry_after == 1, "never 0: a client must wait at least a second"
    await asyncio.sleep(1.0)
    await limiter.hit(RateLimit.CODE_PER_ADDRESS, key)
    await limiter.hit(RateLimit.CODE_PER_ADDRESS, key)
    with pytest.raises(TooManyRequestsError):
        await limiter.hit(RateLimit.CODE_PER_ADDRESS, key)


async def test_limiter_on_mongo_is_shared_by_two_limiters(
    fake_mongo: AsyncMongomockClient,
) -> None:
    """Two app instances with one MongoDB rate-limit store enforce one limit between them."""
    first = limiter_on(mongo_storage(fake_mongo), register_per_ip="3/hour")
    second = limiter_on(mongo_storage(fake_mongo), register_per_ip="3/hour")
    await first.hit(RateLimit.REGISTER_PER_IP, "198.51.100.1")
    await second.hit(RateLimit.REGISTER_PER_IP, "198.51.100.1")
    await first.hit(RateLimit.REGISTER_PER_IP, "198.51.100.1")
    with pytest.raises(TooManyRequestsError) as refused:
        await second.hit(RateLimit.REGISTER_PER_IP, "198.51.100.1")
    assert 3600 - SLACK_SECONDS <= refused.value.retry_after <= 3600


async def test_the_disabled_limiter_never_refuses() -> None:
    limiter = DisabledRateLimiter()
    for _ in range(1000):
        await limiter.hit(RateLimit.LOGIN_PER_IP, "198.51.100.1")


def test_build_limits_storage_picks_the_storage_by_scheme() -> None:
    assert type(build_limits_storage("mongodb://db.invalid:27017/x")) is MongoRateLimitStorage
    assert type(build_limits_storage("memory://")).__name__ == "MemoryStorage"
    assert type(build_limits_storage("redis://cache.invalid:6379")).__name__ == "RedisStorage"
    with pytest.raises(ValueError, match="unsupported"):
        build_limits_storage("memcached://cache.invalid:11211")
