"""Sessions in MongoDB."""

from dataclasses import asdict
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument

from app.db.mongo import Document
from app.interfaces.repositories.session_repository import SessionRepository
from app.models.session import Session
from app.models.user import User
from app.repositories.mongo.base import MongoRepository, unavailable_as_domain_error
from app.repositories.mongo.user_repository import MongoUserRepository
from app.repositories.user_mapping import user_from_record


def _live(now: datetime) -> Document:
    return {"revoked_at": None, "expires_at": {"$gt": now}}


class MongoSessionRepository(MongoRepository, SessionRepository):
    """``SessionRepository`` on a ``sessions`` collection.

    Rotation is one ``find_one_and_update`` filtered on the expected jti: a single
    document update is atomic on a replica set too, so one rotation wins.
    """

    collection_name = "sessions"

    async def add(self, session: Session) -> Session:
        document = asdict(session)
        document["_id"] = document.pop("id")
        async with unavailable_as_domain_error():
            await self._collection.insert_one(document, session=self._session())
        return session

    async def get(self, session_id: str) -> Session | None:
        async with unavailable_as_domain_error():
            document = await self._collection.find_one({"_id": session_id}, session=self._session())
        return self._to_session(document) if document is not None else None

    async def get_with_user(self, session_id: str) -> tuple[Session, User | None] | None:
        async with unavailable_as_domain_error():
            document = await self._collection.find_one({"_id": session_id}, session=self._session())
            if document is None:
                return None
            owner = await self._database()[MongoUserRepository.collection_name].find_one(
                {"_id": document["user_id"]}, session=self._session()
            )
        user = user_from_record(owner, owner["_id"]) if owner is not None else None
        return self._to_session(document), user

    async def rotate(
        self,
        session_id: str,
        expected_jti: str,
        new_jti: str,
        now: datetime,
        expires_at: datetime,
    ) -> Session | None:
        async with unavailable_as_domain_error():
            document = await self._collection.find_one_and_update(
                {"_id": session_id, "refresh_jti": expected_jti, **_live(now)},
                {
                    "$set": {
                        "refresh_jti": new_jti,
                        "previous_refresh_jti": expected_jti,
                        "rotated_at": now,
                        "last_used_at": now,
                        "expires_at": expires_at,
                    }
                },
                return_document=ReturnDocument.AFTER,
                session=self._session(),
            )
        return self._to_session(document) if document is not None else None

    async def list_active(self, user_id: str, now: datetime) -> list[Session]:
        async with unavailable_as_domain_error():
            documents = await self._collection.find(
                {"user_id": user_id, **_live(now)},
                sort=[("created_at", -1), ("_id", -1)],
                session=self._session(),
            ).to_list(None)
        return [self._to_session(d) for d in documents]

    async def revoke(self, session_id: str, now: datetime, user_id: str | None = None) -> bool:
        query: Document = {"_id": session_id, **_live(now)}
        if user_id is not None:
            query["user_id"] = user_id
        async with unavailable_as_domain_error():
            result = await self._collection.update_one(
                query, {"$set": {"revoked_at": now}}, session=self._session()
            )
        return result.modified_count == 1

    async def revoke_all(
        self, user_id: str, now: datetime, except_session_id: str | None = None
    ) -> int:
        query: Document = {"user_id": user_id, **_live(now)}
        if except_session_id is not None:
            query["_id"] = {"$ne": except_session_id}
        async with unavailable_as_domain_error():
            result = await self._collection.update_many(
                query, {"$set": {"revoked_at": now}}, session=self._session()
            )
        return result.modified_count

    @staticmethod
    def _to_session(document: Document) -> Session:
        values: dict[str, Any] = {name: document.get(name) for name in Session.__dataclass_fields__}
        values["id"] = document["_id"]
        return Session(**values)
