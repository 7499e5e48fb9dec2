"""The email outbox in MongoDB."""

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from app.db.mongo import Document
from app.interfaces.repositories.outbox_repository import OutboxRepository
from app.models.email import EmailKind, OutboxMessage, OutboxStatus
from app.repositories.mongo.base import MongoRepository, unavailable_as_domain_error

MAX_ERROR_LENGTH = 1000


def _due(now: datetime) -> Document:
    return {
        "$or": [
            {"status": OutboxStatus.PENDING.value, "next_attempt_at": {"$lte": now}},
            {"status": OutboxStatus.SENDING.value, "lease_until": {"$lte": now}},
        ]
    }


class MongoOutboxRepository(MongoRepository, OutboxRepository):
    """``OutboxRepository`` on an ``outbox`` collection.

    Each claim is a ``find_one_and_update`` on a due message: atomic per document,
    so concurrent claimers (in any number of processes) never share a message.
    """

    collection_name = "outbox"

    async def add(self, message: OutboxMessage) -> None:
        async with unavailable_as_domain_error():
            await self._collection.insert_one(self._to_document(message), session=self._session())

    async def claim(
        self, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[OutboxMessage]:
        claimed: list[OutboxMessage] = []
        async with unavailable_as_domain_error():
            for _ in range(limit):
                document = await self._collection.find_one_and_update(
                    _due(now),
                    {
                        "$set": {
                            "status": OutboxStatus.SENDING.value,
                            "lease_owner": owner,
                            "lease_until": lease_until,
                            "updated_at": now,
                        },
                        "$inc": {"attempts": 1},
                    },
                    sort=[("next_attempt_at", 1), ("_id", 1)],
                    return_document=ReturnDocument.AFTER,
                    session=self._session(),
                )
                if document is None:
                    break
                claimed.append(self._to_message(document))
        return claimed

    async def mark_sent(self, message_id: str, owner: str, now: datetime) -> bool:
        return await self._finish(
            message_id, owner, status=OutboxStatus.SENT.value, sent_at=now, updated_at=now
        )

    async def mark_retry(
        self, message_id: str, owner: str, error: str, next_attempt_at: datetime, now: datetime
    ) -> bool:
        return await self._finish(
            message_id,
            owner,
            status=OutboxStatus.PENDING.value,
            last_error=error[:MAX_ERROR_LENGTH],
            next_attempt_at=next_attempt_at,
            updated_at=now,
        )

    async def mark_failed(self, message_id: str, owner: str, error: str, now: datetime) -> bool:
        return await self._finish(
            message_id,
            owner,
            status=OutboxStatus.FAILED.value,
            last_error=error[:MAX_ERROR_LENGTH],
            updated_at=now,
        )

    async def requeue_failed(self, now: datetime, message_ids: Sequence[str] | None) -> int:
        query: Document = {"status": OutboxStatus.FAILED.value}
        if message_ids is not None:
            query["_id"] = {"$in": list(set(message_ids))}
        async with unavailable_as_domain_error():
            result = await self._collection.update_many(
                query,
                {
                    "$set": {
                        "status": OutboxStatus.PENDING.value,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "lease_owner": None,
                        "lease_until": None,
                        "updated_at": now,
                    }
                },
                session=self._session(),
            )
        return result.modified_count

    async def get(self, message_id: str) -> OutboxMessage | None:
        async with unavailable_as_domain_error():
            document = await self._collection.find_one({"_id": message_id}, session=self._session())
        return self._to_message(document) if document is not None else None

    async def list_messages(
        self, status: OutboxStatus | None, limit: int, before_id: str | None
    ) -> list[OutboxMessage]:
        query: Document = {}
        if status is not None:
            query["status"] = status.value
        if before_id is not None:
            query["_id"] = {"$lt": before_id}
        async with unavailable_as_domain_error():
            documents = await self._collection.find(
                query, sort=[("_id", -1)], limit=limit, session=self._session()
            ).to_list(None)
        return [self._to_message(d) for d in documents]

    async def count_by_status(self) -> dict[OutboxStatus, int]:
        counts = dict.fromkeys(OutboxStatus, 0)
        async with unavailable_as_domain_error():
            cursor = await self._collection.aggregate(
                [{"$group": {"_id": "$status", "count": {"$sum": 1}}}], session=self._session()
            )
            for row in await cursor.to_list(None):
                counts[OutboxStatus(row["_id"])] = row["count"]
        return counts

    async def _finish(self, message_id: str, owner: str, **values: Any) -> bool:
        async with unavailable_as_domain_error():
            result = await self._collection.update_one(
                {
                    "_id": message_id,
                    "lease_owner": owner,
                    "status": OutboxStatus.SENDING.value,
                },
                {"$set": {"lease_owner": None, "lease_until": None, **values}},
                session=self._session(),
            )
        return result.modified_count == 1

    @staticmethod
    def _to_document(message: OutboxMessage) -> Document:
        document = asdict(message)
        document["_id"] = document.pop("id")
        document["kind"] = message.kind.value
        document["status"] = message.status.value
        return document

    @staticmethod
    def _to_message(document: Document) -> OutboxMessage:
        values: dict[str, Any] = {
            name: document.get(name) for name in OutboxMessage.__dataclass_fields__
        }
        values["id"] = document["_id"]
        values["kind"] = EmailKind(values["kind"])
        values["status"] = OutboxStatus(values["status"])
        return OutboxMessage(**values)
