"""Login lockout counters in MongoDB."""

from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from app.db.mongo import Document
from app.interfaces.repositories.login_lockout_repository import LoginLockoutRepository
from app.models.login_lockout import LoginLockout
from app.repositories.mongo.base import MongoRepository, unavailable_as_domain_error

# Counters of pairs nobody tries any more are removed after this long.
RETENTION = timedelta(days=30)
_CLEARED = {"failures": 0, "lockouts": 0, "locked_until": None}


class MongoLoginLockoutRepository(MongoRepository, LoginLockoutRepository):
    """``$inc`` counts the attempt unless the pair is locked; a filtered update applies
    the lock once."""

    collection_name = "login_lockouts"

    async def get(self, key: str) -> LoginLockout | None:
        async with unavailable_as_domain_error():
            document = await self._collection.find_one({"_id": key}, session=self._session())
        return self._to_lockout(document) if document is not None else None

    async def record_attempt(
        self,
        key: str,
        account_key: str,
        now: datetime,
        max_failures: int,
        lock_seconds: list[int],
    ) -> LoginLockout | None:
        unlocked = {"$or": [{"locked_until": None}, {"locked_until": {"$lte": now}}]}
        async with unavailable_as_domain_error():
            try:
                counted = await self._collection.find_one_and_update(
                    {"_id": key, **unlocked},
                    {
                        "$inc": {"failures": 1},
                        "$set": {"account_key": account_key, "expires_at": now + RETENTION},
                        "$setOnInsert": {"lockouts": 0, "locked_until": None},
                    },
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                    session=self._session(),
                )
            except DuplicateKeyError:
                return None  # locked: the upsert found no unlocked pair and could not insert
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

    async def record_success(self, key: str) -> None:
        async with unavailable_as_domain_error():
            await self._collection.update_one(
                {"_id": key}, {"$set": _CLEARED}, session=self._session()
            )

    async def unlock(self, account_key: str, key: str, now: datetime, until: datetime) -> None:
        async with unavailable_as_domain_error():
            await self._collection.update_many(
                {"account_key": account_key}, {"$set": _CLEARED}, session=self._session()
            )
            await self._collection.update_one(
                {"_id": key},
                {
                    "$set": {
                        "account_key": account_key,
                        "unlocked_until": until,
                        "expires_at": max(until, now) + RETENTION,
                    },
                    "$setOnInsert": _CLEARED,
                },
                upsert=True,
                session=self._session(),
            )

    @staticmethod
    def _to_lockout(document: Document) -> LoginLockout:
        return LoginLockout(
            key=document["_id"],
            failures=document["failures"],
            lockouts=document["lockouts"],
            locked_until=document.get("locked_until"),
            unlocked_until=document.get("unlocked_until"),
        )
