"""The indexes the MongoDB adapters rely on, created idempotently at start-up."""

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from app.db.mongo import Document

INDEXES: dict[str, list[IndexModel]] = {
    "users": [IndexModel([("email", ASCENDING)], unique=True, name="email_unique")],
    "sessions": [
        IndexModel([("user_id", ASCENDING), ("created_at", DESCENDING)], name="by_user"),
        # MongoDB deletes a session once it has expired; revoked ones go with it.
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expire"),
    ],
    "one_time_codes": [
        IndexModel([("code_id", ASCENDING)], name="by_code_id"),
        IndexModel([("user_id", ASCENDING)], name="by_user"),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expire"),
    ],
    "cooldowns": [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expire")],
    "login_lockouts": [
        IndexModel([("account_key", ASCENDING)], name="by_account"),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expire"),
    ],
    "email_requests": [IndexModel([("requested_at", ASCENDING)], name="oldest_first")],
    "guess_counters": [
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expire")
    ],
    "outbox": [
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="due"),
        IndexModel([("status", ASCENDING), ("lease_until", ASCENDING)], name="leased"),
    ],
    # Newest-first listings (``_id`` is a time-ordered id) of one user or one event type.
    "audit_events": [
        IndexModel([("subject_id", ASCENDING), ("_id", DESCENDING)], name="by_subject"),
        IndexModel([("actor_id", ASCENDING), ("_id", DESCENDING)], name="by_actor"),
        IndexModel([("event", ASCENDING), ("_id", DESCENDING)], name="by_event"),
    ],
}


async def ensure_indexes(database: AsyncDatabase[Document]) -> None:
    """Create missing indexes; existing ones with the same definition are left alone."""
    for collection, indexes in INDEXES.items():
        await database[collection].create_indexes(indexes)
