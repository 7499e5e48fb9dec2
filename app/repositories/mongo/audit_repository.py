"""The audit log in MongoDB."""

from typing import Any

from app.db.mongo import Document
from app.interfaces.repositories.audit_repository import AuditRepository
from app.models.audit import AuditEvent, AuditEventType
from app.repositories.mongo.base import MongoRepository, unavailable_as_domain_error

FIELDS = (
    "event",
    "occurred_at",
    "actor_id",
    "subject_id",
    "subject_email",
    "ip_address",
    "user_agent",
    "details",
)


class MongoAuditRepository(MongoRepository, AuditRepository):
    """``AuditRepository`` on an ``audit_events`` collection; ``_id`` is the event id.

    Deleting a user leaves its events in place. The indexes (subject, actor and event,
    each followed by ``_id`` descending) serve the filtered, newest-first listings;
    a filter on the user is an ``$or`` of the subject and actor indexes.
    """

    collection_name = "audit_events"

    async def add(self, event: AuditEvent) -> None:
        async with unavailable_as_domain_error():
            await self._collection.insert_one(self._to_document(event), session=self._session())

    async def list_events(
        self,
        user_id: str | None,
        event: AuditEventType | None,
        limit: int,
        before_id: str | None,
    ) -> list[AuditEvent]:
        if limit < 1:
            # Checked here too: MongoDB reads a limit of 0 as "no limit".
            raise ValueError("limit must be at least 1")
        query: Document = {}
        if user_id is not None:
            query["$or"] = [{"subject_id": user_id}, {"actor_id": user_id}]
        if event is not None:
            query["event"] = AuditEventType(event).value
        if before_id is not None:
            query["_id"] = {"$lt": before_id}
        async with unavailable_as_domain_error():
            documents = await self._collection.find(
                query, sort=[("_id", -1)], limit=limit, session=self._session()
            ).to_list(None)
        return [self._to_event(d) for d in documents]

    @staticmethod
    def _to_document(event: AuditEvent) -> Document:
        document: Document = {name: getattr(event, name) for name in FIELDS}
        document["_id"] = event.id
        document["event"] = event.event.value
        document["details"] = dict(event.details)
        return document

    @staticmethod
    def _to_event(document: Document) -> AuditEvent:
        values: dict[str, Any] = {name: document.get(name) for name in FIELDS}
        return AuditEvent(
            id=document["_id"],
            event=AuditEventType(values.pop("event")),
            details=dict(values.pop("details") or {}),
            **values,
        )
