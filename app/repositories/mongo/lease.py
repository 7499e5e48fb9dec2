"""A named lease: a MongoDB document that one writer at a time holds for a short while."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial

from pymongo.errors import DuplicateKeyError

from app.models.errors import StorageUnavailableError
from app.repositories.mongo.base import (
    DatabaseProvider,
    after_unit_of_work,
    unavailable_as_domain_error,
)

LEASE_SECONDS = 5.0
_POLL_SECONDS = 0.01


class MongoLease:
    """Mutual exclusion across processes, without multi-document transactions.

    ``held()`` takes the document ``{_id: name}`` of the ``leases`` collection, waiting
    while another holder's lease runs, and gives it back on exit; inside a transaction
    only once the transaction has ended, so the next holder sees its writes. A lease
    whose holder died expires after ``LEASE_SECONDS``. It works outside any transaction
    (no session): the others must see it at once.

    The limits are those of any lease: a holder stalled for longer than
    ``LEASE_SECONDS`` loses it without knowing, and the expiry compares the clocks of
    the hosts that take it.
    """

    collection_name = "leases"

    def __init__(
        self, database: DatabaseProvider, name: str, seconds: float = LEASE_SECONDS
    ) -> None:
        self._database = database
        self._name = name
        self._seconds = seconds

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        holder = uuid.uuid4().hex
        await self._acquire(holder)
        try:
            yield
        finally:
            await after_unit_of_work(partial(self._release, holder))

    async def _acquire(self, holder: str) -> None:
        # A dead holder's lease expires within ``seconds``: waiting twice as long
        # only fails when other writers keep taking it first.
        deadline = time.monotonic() + 2 * self._seconds
        while not await self._try_acquire(holder):
            if time.monotonic() > deadline:
                raise StorageUnavailableError()
            await asyncio.sleep(_POLL_SECONDS)

    async def _try_acquire(self, holder: str) -> bool:
        now = datetime.now(UTC)
        leases = self._database()[self.collection_name]
        async with unavailable_as_domain_error():
            try:
                # Matches an expired lease. A missing one is inserted; a running one
                # does not match either, so the upsert inserts its ``_id`` again and
                # the server refuses the duplicate.
                await leases.update_one(
                    {"_id": self._name, "expires_at": {"$lte": now}},
                    {
                        "$set": {
                            "holder": holder,
                            "expires_at": now + timedelta(seconds=self._seconds),
                        }
                    },
                    upsert=True,
                )
            except DuplicateKeyError:
                return False
        return True

    async def _release(self, holder: str) -> None:
        leases = self._database()[self.collection_name]
        async with unavailable_as_domain_error():
            # Only our own: an expired lease may already be someone else's.
            await leases.delete_one({"_id": self._name, "holder": holder})
