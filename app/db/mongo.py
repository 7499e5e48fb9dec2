"""The MongoDB client as a Singleton, like the SQL engine."""

from typing import Any, ClassVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

SERVER_SELECTION_TIMEOUT_MS = 5_000

Document = dict[str, Any]


class MongoConnection:
    """Holds the process's single ``AsyncMongoClient`` (it owns the connection pool).

    ``install`` puts a ready client in place instead, which is how the tests run the
    adapter on an in-process fake; ``close`` resets the Singleton.
    """

    _client: ClassVar[Any | None] = None
    _url: ClassVar[str | None] = None

    @classmethod
    def connect(cls, url: str) -> Any:
        if cls._client is not None:
            if cls._url not in (url, None):
                raise RuntimeError("a MongoDB client for another URL is already open")
            return cls._client
        cls._client = AsyncMongoClient(
            url, tz_aware=True, serverSelectionTimeoutMS=SERVER_SELECTION_TIMEOUT_MS
        )
        cls._url = url
        return cls._client

    @classmethod
    def install(cls, client: Any) -> None:
        cls._client, cls._url = client, None

    @classmethod
    def client(cls) -> Any:
        if cls._client is None:
            raise RuntimeError("MongoConnection.connect() has not been called")
        return cls._client

    @classmethod
    def database(cls, name: str) -> AsyncDatabase[Document]:
        if cls._client is None:
            raise RuntimeError("MongoConnection.connect() has not been called")
        database: AsyncDatabase[Document] = cls._client[name]
        return database

    @classmethod
    async def close(cls) -> None:
        client, cls._client, cls._url = cls._client, None, None
        if client is not None:
            await client.close()
