"""``MongoLease``, the MongoDB adapter's guard of the last superadmin, on the fake and a server."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from functools import partial

import pytest

from app.db.mongo import MongoConnection
from app.repositories.mongo.base import DatabaseProvider
from app.repositories.mongo.lease import MongoLease
from tests.backends import mongodb_server, with_database
from tests.fakes.async_mongomock import AsyncMongomockClient

SHORT_LEASE_SECONDS = 0.3


@pytest.fixture(params=["mongodb-fake", "mongodb"])
async def database(request: pytest.FixtureRequest) -> AsyncIterator[DatabaseProvider]:
    if request.param == "mongodb-fake":
        name = "lease"
        fake = AsyncMongomockClient()
        # Calls that never wait would never let the other holder in.
        fake.interleaving.on = True
        MongoConnection.install(fake)
    else:
        name = f"lease_{uuid.uuid4().hex[:12]}"
        MongoConnection.connect(with_database(mongodb_server(), name))
    try:
        yield partial(MongoConnection.database, name)
    finally:
        if request.param == "mongodb":
            await MongoConnection.client().drop_database(name)
        await MongoConnection.close()


async def test_a_second_holder_waits_until_the_first_gives_the_lease_back(
    database: DatabaseProvider,
) -> None:
    events: list[str] = []
    first_in = asyncio.Event()

    async def first() -> None:
        async with MongoLease(database, "guard").held():
            events.append("first in")
            first_in.set()
            await asyncio.sleep(0.2)
            events.append("first out")

    async def second() -> None:
        await first_in.wait()
        async with MongoLease(database, "guard").held():
            events.append("second in")

    await asyncio.wait_for(asyncio.gather(first(), second()), timeout=10)

    assert events == ["first in", "first out", "second in"]


async def test_leases_of_different_names_do_not_wait_for_each_other(
    database: DatabaseProvider,
) -> None:
    async with MongoLease(database, "one").held():
        async with asyncio.timeout(1):
            async with MongoLease(database, "two").held():
                pass


async def test_a_lease_its_holder_never_gave_back_expires(database: DatabaseProvider) -> None:
    async with AsyncExitStack() as stack:
        # A holder that died: it took the lease and never comes back.
        await stack.enter_async_context(MongoLease(database, "guard", SHORT_LEASE_SECONDS).held())
        started = time.monotonic()
        async with asyncio.timeout(5):
            async with MongoLease(database, "guard", SHORT_LEASE_SECONDS).held():
                waited = time.monotonic() - started

    assert waited >= SHORT_LEASE_SECONDS * 0.9


async def test_a_late_holder_cannot_give_back_the_lease_someone_took_over(
    database: DatabaseProvider,
) -> None:
    stalled = MongoLease(database, "guard", SHORT_LEASE_SECONDS).held()
    await stalled.__aenter__()
    async with MongoLease(database, "guard", 5).held():
        # The stalled holder wakes up after its lease expired and gives "it" back.
        await stalled.__aexit__(None, None, None)
        third = asyncio.create_task(_hold_once(database))
        await asyncio.sleep(0.3)
        assert not third.done()
    await asyncio.wait_for(third, timeout=5)


async def _hold_once(database: DatabaseProvider) -> None:
    async with MongoLease(database, "guard").held():
        pass
