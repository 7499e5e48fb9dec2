"""The email request queue in MongoDB."""

from datetime import datetime

from pymongo import ReturnDocument

from app.db.mongo import Document
from app.interfaces.repositories.email_request_repository import EmailRequestRepository
from app.models.email_request import EmailRequest, EmailRequestPurpose
from app.repositories.mongo.base import MongoRepository, unavailable_as_domain_error


def _due(now: datetime) -> Document:
    return {"$or": [{"lease_until": None}, {"lease_until": {"$lte": now}}]}


class MongoEmailRequestRepository(MongoRepository, EmailRequestRepository):
    """A claim is one ``find_one_and_update`` on a due request: atomic on one document."""

    collection_name = "email_requests"

    async def add(self, request: EmailRequest) -> None:
        async with unavailable_as_domain_error():
            await self._collection.insert_one(
                {
                    "_id": request.id,
                    "purpose": request.purpose.value,
                    "email": request.email,
                    "requested_at": request.requested_at,
                    "lease_until": request.lease_until,
                },
                session=self._session(),
            )

    async def claim_next(self, now: datetime, lease_until: datetime) -> EmailRequest | None:
        async with unavailable_as_domain_error():
            document = await self._collection.find_one_and_update(
                _due(now),
                {"$set": {"lease_until": lease_until}},
                sort=[("requested_at", 1), ("_id", 1)],
                return_document=ReturnDocument.AFTER,
                session=self._session(),
            )
        return self._to_request(document) if document is not None else None

    async def complete(self, request_id: str) -> None:
        async with unavailable_as_domain_error():
            await self._collection.delete_one({"_id": request_id}, session=self._session())

    async def count_by_purpose(self) -> dict[EmailRequestPurpose, int]:
        counts = dict.fromkeys(EmailRequestPurpose, 0)
        async with unavailable_as_domain_error():
            cursor = await self._collection.aggregate(
                [{"$group": {"_id": "$purpose", "count": {"$sum": 1}}}], session=self._session()
            )
            for row in await cursor.to_list(None):
                counts[EmailRequestPurpose(row["_id"])] = row["count"]
        return counts

    @staticmethod
    def _to_request(document: Document) -> EmailRequest:
        return EmailRequest(
            id=document["_id"],
            purpose=EmailRequestPurpose(document["purpose"]),
            email=document["email"],
            requested_at=document["requested_at"],
            lease_until=document.get("lease_until"),
        )
