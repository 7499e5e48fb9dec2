"""A ``limits`` storage on MongoDB through PyMongo's async API.

The library's own MongoDB storage is built on Motor, which MongoDB has retired; this
one implements the fixed-window operations with single-document atomic updates.
"""

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from limits.aio.storage import Storage
from pymongo import AsyncMongoClient, IndexModel, ReturnDocument
from pymongo.errors import PyMongoError

COLLECTION = "rate_limits"


class MongoRateLimitStorage(Storage):
    """Counters in a ``rate_limits`` collection; a TTL index removes expired windows."""

    STORAGE_SCHEME = ["pymongo+mongodb"]  # noqa: RUF012 - the base class declares it so

    def __init__(self, uri: str, client: Any | None = None, database: str | None = None) -> None:
        super().__init__(uri)
        self._uri = uri
        self._client = client
        self._database_name = database
        self._indexed = False

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return PyMongoError

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        collection = await self._collection()
        now = datetime.now(UTC)
        # Start a new window if the old one has run out, then count in it.
        await collection.update_one(
            {"_id": key, "expire_at": {"$lte": now}},
            {"$set": {"count": 0, "expire_at": now + timedelta(seconds=expiry)}},
        )
        document = await collection.find_one_and_update(
            {"_id": key},
            {
                "$inc": {"count": amount},
                "$setOnInsert": {"expire_at": now + timedelta(seconds=expiry)},
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(document["count"])

    async def get(self, key: str) -> int:
        document = await self._live(key)
        return int(document["count"]) if document else 0

    async def get_expiry(self, key: str) -> float:
        document = await self._live(key)
        if document is None:
            return time.time()
        expire_at: datetime = document["expire_at"]
        return expire_at.timestamp()

    async def check(self) -> bool:
        try:
            await (await self._collection()).find_one({"_id": "__ping__"})
        except PyMongoError:
            return False
        return True

    async def reset(self) -> int | None:
        result = await (await self._collection()).delete_many({})
        return int(result.deleted_count)

    async def clear(self, key: str) -> None:
        await (await self._collection()).delete_one({"_id": key})

    async def _live(self, key: str) -> dict[str, Any] | None:
        document: dict[str, Any] | None = await (await self._collection()).find_one(
            {"_id": key, "expire_at": {"$gt": datetime.now(UTC)}}
        )
        return document

    async def _collection(self) -> Any:
        if self._client is None:
            self._client = AsyncMongoClient(self._uri, tz_aware=True)
        database = (
            self._client[self._database_name]
            if self._database_name
            else self._client.get_default_database("rate_limits")
        )
        collection = database[COLLECTION]
        if not self._indexed:
            await collection.create_indexes([IndexModel("expire_at", expireAfterSeconds=0)])
            self._indexed = True
        return collection
