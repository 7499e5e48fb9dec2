"""One-time codes and cool-downs in MongoDB."""

from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from app.db.mongo import Document
from app.interfaces.repositories.one_time_code_repository import (
    CooldownRepository,
    OneTimeCodeRepository,
)
from app.models.one_time_code import CodePurpose, OneTimeCode
from app.repositories.mongo.base import MongoRepository, unavailable_as_domain_error

# How long a cool-down document is kept: longer than any allowed cool-down (1 hour),
# after which the TTL index removes it.
RETENTION = timedelta(days=1)


def _slot(user_id: str, purpose: CodePurpose) -> str:
    # One document per (user, purpose): replacing it can never leave two live codes.
    return f"{user_id}:{purpose.value}"


class MongoOneTimeCodeRepository(MongoRepository, OneTimeCodeRepository):
    """``OneTimeCodeRepository`` on a ``one_time_codes`` collection (TTL on expires_at)."""

    collection_name = "one_time_codes"

    async def replace(self, code: OneTimeCode) -> None:
        document = {
            "_id": _slot(code.user_id, code.purpose),
            "code_id": code.id,
            "user_id": code.user_id,
            "purpose": code.purpose.value,
            "code_hash": code.code_hash,
            "attempts": code.attempts,
            "created_at": code.created_at,
            "expires_at": code.expires_at,
        }
        async with unavailable_as_domain_error():
            await self._collection.replace_one(
                {"_id": document["_id"]}, document, upsert=True, session=self._session()
            )

    async def get(self, user_id: str, purpose: CodePurpose) -> OneTimeCode | None:
        async with unavailable_as_domain_error():
            document = await self._collection.find_one(
                {"_id": _slot(user_id, purpose)}, session=self._session()
            )
        return self._to_code(document) if document is not None else None

    async def record_failure(self, code_id: str) -> int:
        async with unavailable_as_domain_error():
            document = await self._collection.find_one_and_update(
                {"code_id": code_id},
                {"$inc": {"attempts": 1}},
                return_document=ReturnDocument.AFTER,
                session=self._session(),
            )
        return int(document["attempts"]) if document is not None else 0

    async def consume(self, code_id: str, now: datetime, max_attempts: int) -> bool:
        async with unavailable_as_domain_error():
            result = await self._collection.delete_one(
                {
                    "code_id": code_id,
                    "expires_at": {"$gt": now},
                    "attempts": {"$lt": max_attempts},
                },
                session=self._session(),
            )
        return result.deleted_count == 1

    async def delete(self, user_id: str, purpose: CodePurpose) -> None:
        async with unavailable_as_domain_error():
            await self._collection.delete_one(
                {"_id": _slot(user_id, purpose)}, session=self._session()
            )

    @staticmethod
    def _to_code(document: Document) -> OneTimeCode:
        return OneTimeCode(
            id=document["code_id"],
            user_id=document["user_id"],
            purpose=CodePurpose(document["purpose"]),
            code_hash=document["code_hash"],
            attempts=document["attempts"],
            created_at=document["created_at"],
            expires_at=document["expires_at"],
        )


class MongoCooldownRepository(MongoRepository, CooldownRepository):
    """``CooldownRepository`` on a ``cooldowns`` collection (TTL on expires_at)."""

    collection_name = "cooldowns"

    async def acquire(self, key: str, now: datetime, cooldown_seconds: int) -> float | None:
        threshold = now - timedelta(seconds=cooldown_seconds)
        fields = {"last_at": now, "expires_at": now + RETENTION}
        async with unavailable_as_domain_error():
            taken = await self._collection.find_one_and_update(
                {"_id": key, "last_at": {"$lte": threshold}},
                {"$set": fields},
                session=self._session(),
            )
            if taken is not None:
                return None
            try:
                await self._collection.insert_one({"_id": key, **fields}, session=self._session())
            except DuplicateKeyError:
                current = await self._collection.find_one({"_id": key}, session=self._session())
                if current is None:  # expired and removed in between: the slot is free
                    return await self.acquire(key, now, cooldown_seconds)
                last_at: datetime = current["last_at"]
                return max(0.0, (last_at - threshold).total_seconds())
        return None

    async def touch(self, key: str, now: datetime) -> None:
        async with unavailable_as_domain_error():
            await self._collection.update_one(
                {"_id": key},
                {"$set": {"last_at": now, "expires_at": now + RETENTION}},
                upsert=True,
                session=self._session(),
            )
