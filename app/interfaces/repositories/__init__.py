"""Repository contracts, shaped so a document store can implement them too:
string ids, no joins, and compare-and-set updates where concurrency matters.
Datetimes are aware UTC and kept to the millisecond (MongoDB's precision)."""

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
