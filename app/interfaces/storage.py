"""Contract for a storage backend: every repository of one database, and its lifecycle."""

from abc import ABC, abstractmethod

from app.interfaces.health_probe import HealthProbe
from app.interfaces.repositories.audit_repository import AuditRepository
from app.interfaces.repositories.email_request_repository import EmailRequestRepository
from app.interfaces.repositories.guess_counter_repository import GuessCounterRepository
from app.interfaces.repositories.login_lockout_repository import LoginLockoutRepository
from app.interfaces.repositories.one_time_code_repository import (
    CooldownRepository,
    OneTimeCodeRepository,
)
from app.interfaces.repositories.outbox_repository import OutboxRepository
from app.interfaces.repositories.session_repository import SessionRepository
from app.interfaces.repositories.user_repository import UserRepository
from app.interfaces.unit_of_work import UnitOfWork


class Storage(ABC):
    """An Abstract Factory of repositories: SQL or MongoDB, chosen once at start-up.

    Repositories exist from construction; ``open`` connects (and prepares the schema
    or indexes) in the app's lifespan, ``close`` releases the connection pool.
    """

    users: UserRepository
    sessions: SessionRepository
    outbox: OutboxRepository
    codes: OneTimeCodeRepository
    cooldowns: CooldownRepository
    audit: AuditRepository
    lockouts: LoginLockoutRepository
    guesses: GuessCounterRepository
    email_requests: EmailRequestRepository
    uow: UnitOfWork
    probe: HealthProbe

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...
