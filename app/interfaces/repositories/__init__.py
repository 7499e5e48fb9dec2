"""Repository contracts, shaped so a document store can implement them too:
string ids, no joins, and compare-and-set updates where concurrency matters.
Datetimes are aware UTC and kept to the millisecond (MongoDB's precision).

No string holds NUL (U+0000): PostgreSQL cannot store it. Every method of every
repository, lookups and listings as well as writes, raises ``InvalidInputError``
before touching the store when an argument holds one at any depth (an entity's
field, a key or value of a change set, a filter); it never answers "not found"."""

from app.interfaces.repositories.audit_repository import AuditRepository
from app.interfaces.repositories.one_time_code_repository import (
    CooldownRepository,
    OneTimeCodeRepository,
)
from app.interfaces.repositories.outbox_repository import OutboxRepository
from app.interfaces.repositories.session_repository import SessionRepository
from app.interfaces.repositories.user_repository import UserFilter, UserPage, UserRepository

__all__ = [
    "AuditRepository",
    "CooldownRepository",
    "OneTimeCodeRepository",
    "OutboxRepository",
    "SessionRepository",
    "UserFilter",
    "UserPage",
    "UserRepository",
]
