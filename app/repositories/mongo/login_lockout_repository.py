"""Login lockout counters in MongoDB."""

from datetime import datetime, timedelta

from pymongo import ReturnDocument

from app.db.mongo import Document
from app.interfaces.repositories.login_lockout_repository import LoginLockoutRepository
from app.models.login_lockout import LoginLockout
from app.repositories.mongo.base import MongoRepository, unavailable_as_domain_error

# Counters of addresses nobody tries any more are removed after this long.
RETENTION = timedelta(days=30)


class MongoLoginLockoutRepository(MongoRepository, LoginLockoutRepository):
    """``$inc`` counts the failure; a filtered update applies the lock once."""

    collection_name = "login_lockouts"

    async def get(self, key: str) -> LoginLockout | None:
        async with unavailable_as_domain_error():
            document = await self._collection.find_one({"_id": key}, session=self._session())
        return self._to_lockout(document) if document is not None else None

    async def record_failure(
        self, key: str, now: datetime, max_failures: int, lock_seconds: list[int]
    ) -> LoginLockout:
        async with unavailable_as_domain_error():
            counted = await self._collection.find_one_and_update(
                {"_id": key},
                {
                    "$inc": {"failures": 1},
                    "$set": {"expires_at": now + RETENTION},
                    "$setOnInsert": {"lockouts": 0, "locked_until": None},
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
                session=self._session(),
            )
            document: Document = counted or {"_id": key, "failures": 1, "lockouts": 0}
            if document["failures"] >= max_failures:
                seconds = lock_seconds[min(document["lockouts"], len(lock_seconds) - 1)]
                locked = await self._collection.find_one_and_update(
                    {"_id": key, "failures": {"$gte": max_failures}},
                    {
                        "$set": {
                            "locked_until": now + timedelta(seconds=seconds),
                            "failures": 0,
                        },
                        "$inc": {"lockouts": 1},
                    },
                    return_document=ReturnDocument.AFTER,
                    session=self._session(),
                )
                document = locked or document
        return self._to_lockout(document)

    async def clear(self, key: str) -> None:
        async with unavailable_as_domain_error():
            await self._collection.delete_one({"_id": key}, session=self._session())

    @staticmethod
    def _to_lockout(document: Document) -> LoginLockout:
        return LoginLockout(
            key=document["_id"],
            failures=document["failures"],
            lockouts=document["lockouts"],
            locked_until=document.get("locked_until"),
        )
