"""An in-process MongoDB for the tests: mongomock behind PyMongo's async API.

This is the one sanctioned fake (no MongoDB server can be installed here). It wraps
only the calls the adapters make, with PyMongo's signatures, so the adapters' real
queries and updates run against mongomock's implementation of MongoDB semantics.
Each call runs to completion without yielding, which makes every single-document
operation atomic, as it is on a real server.
"""

import asyncio
from typing import Any

import mongomock
from pymongo import ReturnDocument
from pymongo.errors import ServerSelectionTimeoutError


class Outage:
    """When ``down``, every call fails as PyMongo does when no server answers."""

    def __init__(self) -> None:
        self.down = False

    def check(self) -> None:
        if self.down:
            raise ServerSelectionTimeoutError("fake MongoDB is down")


class Interleaving:
    """When ``on``, every call first lets the other tasks run, as a round trip does.

    Off, a request whose calls never wait runs to its end before another starts; tests
    of races between requests turn it on, so that their steps interleave as they do on
    a server. The call itself still runs without yielding: each stays atomic.
    """

    def __init__(self) -> None:
        self.on = False

    async def pause(self) -> None:
        if self.on:
            await asyncio.sleep(0)


class AsyncCursor:
    def __init__(self, documents: list[dict[str, Any]]) -> None:
        self._documents = documents

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        return self._documents if length is None else self._documents[:length]

    def __aiter__(self) -> "AsyncCursor":
        self._iterator = iter(self._documents)
        return self

    async def __anext__(self) -> dict[str, Any]:
        try:
            return next(self._iterator)
        except StopIteration:
            raise StopAsyncIteration from None


class AsyncCollection:
    def __init__(
        self, collection: mongomock.Collection, outage: Outage, interleaving: Interleaving
    ) -> None:
        self._collection = collection
        self._outage = outage
        self._interleaving = interleaving

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_"):
            object.__getattribute__(self, "_outage").check()
        return object.__getattribute__(self, name)

    async def insert_one(self, document: dict[str, Any], session: Any = None) -> Any:
        await self._interleaving.pause()
        return self._collection.insert_one(document)

    async def find_one(self, query: dict[str, Any], session: Any = None) -> Any:
        await self._interleaving.pause()
        return self._collection.find_one(query)

    def find(
        self,
        query: dict[str, Any],
        sort: list[tuple[str, int]] | None = None,
        skip: int = 0,
        limit: int = 0,
        session: Any = None,
    ) -> AsyncCursor:
        cursor = self._collection.find(query)
        if sort:
            cursor = cursor.sort(sort)
        if skip:
            cursor = cursor.skip(skip)
        if limit:
            cursor = cursor.limit(limit)
        return AsyncCursor(list(cursor))

    async def find_one_and_update(
        self,
        query: dict[str, Any],
        update: dict[str, Any],
        sort: list[tuple[str, int]] | None = None,
        upsert: bool = False,
        return_document: bool = ReturnDocument.BEFORE,
        session: Any = None,
    ) -> Any:
        await self._interleaving.pause()
        return self._collection.find_one_and_update(
            query, update, sort=sort, upsert=upsert, return_document=return_document
        )

    async def update_one(
        self,
        query: dict[str, Any],
        update: dict[str, Any],
        upsert: bool = False,
        session: Any = None,
    ) -> Any:
        await self._interleaving.pause()
        return self._collection.update_one(query, update, upsert=upsert)

    async def update_many(
        self, query: dict[str, Any], update: dict[str, Any], session: Any = None
    ) -> Any:
        await self._interleaving.pause()
        return self._collection.update_many(query, update)

    async def replace_one(
        self,
        query: dict[str, Any],
        document: dict[str, Any],
        upsert: bool = False,
        session: Any = None,
    ) -> Any:
        await self._interleaving.pause()
        return self._collection.replace_one(query, document, upsert=upsert)

    async def delete_one(self, query: dict[str, Any], session: Any = None) -> Any:
        await self._interleaving.pause()
        return self._collection.delete_one(query)

    async def delete_many(self, query: dict[str, Any], session: Any = None) -> Any:
        await self._interleaving.pause()
        return self._collection.delete_many(query)

    async def count_documents(self, query: dict[str, Any], session: Any = None) -> int:
        await self._interleaving.pause()
        count: int = self._collection.count_documents(query)
        return count

    async def aggregate(self, pipeline: list[dict[str, Any]], session: Any = None) -> AsyncCursor:
        await self._interleaving.pause()
        return AsyncCursor(list(self._collection.aggregate(pipeline)))

    async def create_indexes(self, indexes: list[Any]) -> list[str]:
        names = []
        for index in indexes:
            document = dict(index.document)
            keys = list(document.pop("key").items())
            document.pop("expireAfterSeconds", None)  # mongomock keeps no TTL monitor
            names.append(self._collection.create_index(keys, **document))
        return names


class AsyncDatabase:
    def __init__(
        self, database: mongomock.Database, outage: Outage, interleaving: Interleaving
    ) -> None:
        self._database = database
        self._outage = outage
        self._interleaving = interleaving

    def __getitem__(self, name: str) -> AsyncCollection:
        return AsyncCollection(self._database[name], self._outage, self._interleaving)

    async def command(self, name: str) -> dict[str, Any]:
        self._outage.check()
        if name in ("ping", "hello"):
            # A standalone server: no "setName", so no multi-document transactions.
            return {"ok": 1.0}
        raise NotImplementedError(name)


class AsyncMongomockClient:
    """Stands in for ``pymongo.AsyncMongoClient`` (install it with MongoConnection.install)."""

    def __init__(self) -> None:
        self._client = mongomock.MongoClient(tz_aware=True)
        self.outage = Outage()
        self.interleaving = Interleaving()
        self.admin = AsyncDatabase(self._client["admin"], self.outage, self.interleaving)

    def __getitem__(self, name: str) -> AsyncDatabase:
        return AsyncDatabase(self._client[name], self.outage, self.interleaving)

    async def close(self) -> None:
        self._client.close()
