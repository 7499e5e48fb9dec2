"""Users in MongoDB."""

import re
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from app.db.mongo import Document
from app.interfaces.repositories.user_repository import UserFilter, UserPage, UserRepository
from app.models.errors import EmailTakenError, LastSuperadminError
from app.models.role import Permission, Role
from app.models.user import User
from app.repositories.mongo.base import (
    DatabaseProvider,
    MongoRepository,
    unavailable_as_domain_error,
)
from app.repositories.mongo.lease import MongoLease
from app.repositories.user_mapping import removes_active_superadmin, user_from_record

FIELDS = (
    "email",
    "hashed_password",
    "full_name",
    "role",
    "permissions",
    "is_active",
    "is_verified",
    "created_at",
    "updated_at",
)
ACTIVE_SUPERADMIN: Document = {"role": Role.SUPERADMIN.value, "is_active": True}


class MongoUserRepository(MongoRepository, UserRepository):
    """``UserRepository`` on a ``users`` collection; ``_id`` is the user id.

    Deleting a user also deletes its sessions and codes: there are no foreign keys.
    Demoting, disabling or deleting a superadmin happens under the ``superadmins``
    lease (``MongoLease``), which keeps such writes from running side by side.
    """

    collection_name = "users"

    def __init__(self, database: DatabaseProvider) -> None:
        super().__init__(database)
        self._superadmins = MongoLease(database, "superadmins")

    async def add(self, user: User) -> User:
        async with unavailable_as_domain_error():
            try:
                await self._collection.insert_one(self._to_document(user), session=self._session())
            except DuplicateKeyError as exc:
                raise EmailTakenError() from exc
        return user

    async def get_by_id(self, user_id: str) -> User | None:
        return await self._find_one({"_id": user_id})

    async def get_by_email(self, email: str) -> User | None:
        return await self._find_one({"email": email})

    async def update(self, user_id: str, changes: dict[str, Any], now: datetime) -> User | None:
        values = self._to_values({**changes, "updated_at": now})
        if not removes_active_superadmin(changes):
            return await self._set({"_id": user_id}, values)
        async with self._superadmins.held():
            updated = await self._set(await self._unless_last_superadmin(user_id), values)
            if updated is None and await self._find_one({"_id": user_id}) is not None:
                raise LastSuperadminError()
        return updated

    async def delete(self, user_id: str) -> bool:
        session = self._session()
        database = self._database()
        async with self._superadmins.held():
            query = await self._unless_last_superadmin(user_id)
            async with unavailable_as_domain_error():
                result = await self._collection.delete_one(query, session=session)
            if result.deleted_count == 0 and await self._find_one({"_id": user_id}) is not None:
                raise LastSuperadminError()
        async with unavailable_as_domain_error():
            await database["sessions"].delete_many({"user_id": user_id}, session=session)
            await database["one_time_codes"].delete_many({"user_id": user_id}, session=session)
        return result.deleted_count > 0

    async def list_page(self, filters: UserFilter, limit: int, offset: int) -> UserPage:
        query = self._query(filters)
        async with unavailable_as_domain_error():
            total = await self._collection.count_documents(query, session=self._session())
            documents = await self._collection.find(
                query, sort=[("_id", 1)], skip=offset, limit=limit, session=self._session()
            ).to_list(None)
        return UserPage(items=[self._to_user(d) for d in documents], total=total)

    async def list_after(self, filters: UserFilter, limit: int, after_id: str | None) -> list[User]:
        query = self._query(filters)
        if after_id is not None:
            query["_id"] = {"$gt": after_id}
        async with unavailable_as_domain_error():
            documents = await self._collection.find(
                query, sort=[("_id", 1)], limit=limit, session=self._session()
            ).to_list(None)
        return [self._to_user(d) for d in documents]

    async def count(self) -> int:
        async with unavailable_as_domain_error():
            return await self._collection.count_documents({}, session=self._session())

    async def _unless_last_superadmin(self, user_id: str) -> Document:
        """The query of ``user_id`` that matches only if another superadmin stays active.

        Run under the lease. The others are read without the session: from what is
        committed, not from a transaction's snapshot, which may predate the last
        holder's commit.
        """
        other = {**ACTIVE_SUPERADMIN, "_id": {"$ne": user_id}}
        async with unavailable_as_domain_error():
            another = await self._collection.find_one(other)
        if another is not None:
            return {"_id": user_id}
        return {"_id": user_id, "$nor": [ACTIVE_SUPERADMIN]}

    async def _set(self, query: Document, values: Document) -> User | None:
        async with unavailable_as_domain_error():
            try:
                document = await self._collection.find_one_and_update(
                    query,
                    {"$set": values},
                    return_document=ReturnDocument.AFTER,
                    session=self._session(),
                )
            except DuplicateKeyError as exc:
                raise EmailTakenError() from exc
        return self._to_user(document) if document is not None else None

    async def _find_one(self, query: Document) -> User | None:
        async with unavailable_as_domain_error():
            document = await self._collection.find_one(query, session=self._session())
        return self._to_user(document) if document is not None else None

    @staticmethod
    def _query(filters: UserFilter) -> Document:
        query: Document = {}
        if filters.role is not None:
            query["role"] = filters.role.value
        if filters.is_active is not None:
            query["is_active"] = filters.is_active
        if filters.is_verified is not None:
            query["is_verified"] = filters.is_verified
        if filters.email_prefix:
            # An anchored, escaped prefix: uses the email index and has no wildcards.
            query["email"] = {"$regex": "^" + re.escape(filters.email_prefix)}
        return query

    @classmethod
    def _to_document(cls, user: User) -> Document:
        values = {name: getattr(user, name) for name in FIELDS}
        return {"_id": user.id, **cls._to_values(values)}

    @staticmethod
    def _to_values(values: dict[str, Any]) -> Document:
        document = dict(values)
        if "role" in document:
            document["role"] = Role(document["role"]).value
        if "permissions" in document:
            document["permissions"] = sorted(Permission(p).value for p in document["permissions"])
        return document

    @staticmethod
    def _to_user(document: Document) -> User:
        return user_from_record(document, document["_id"])
