"""The SQL storage backend (SQLite or PostgreSQL through SQLAlchemy)."""

from functools import partial

from app.db import Database
from app.interfaces.storage import Storage
from app.repositories.sql.audit_repository import SqlAuditRepository
from app.repositories.sql.base import SqlUnitOfWork
from app.repositories.sql.email_request_repository import SqlEmailRequestRepository
from app.repositories.sql.guess_counter_repository import SqlGuessCounterRepository
from app.repositories.sql.health_probe import SqlHealthProbe
from app.repositories.sql.login_lockout_repository import SqlLoginLockoutRepository
from app.repositories.sql.migrator import upgrade_to_head
from app.repositories.sql.one_time_code_repository import (
    SqlCooldownRepository,
    SqlOneTimeCodeRepository,
)
from app.repositories.sql.outbox_repository import SqlOutboxRepository
from app.repositories.sql.session_repository import SqlSessionRepository
from app.repositories.sql.user_repository import SqlUserRepository


class SqlStorage(Storage):
    """Repositories on the process's SQLAlchemy engine (the ``Database`` Singleton)."""

    def __init__(self, url: str) -> None:
        self._url = url
        engine = partial(Database.engine)
        self.users = SqlUserRepository(engine, Database.reader)
        self.sessions = SqlSessionRepository(engine, Database.reader)
        self.outbox = SqlOutboxRepository(engine)
        self.codes = SqlOneTimeCodeRepository(engine)
        self.cooldowns = SqlCooldownRepository(engine)
        self.audit = SqlAuditRepository(engine)
        self.lockouts = SqlLoginLockoutRepository(engine)
        self.guesses = SqlGuessCounterRepository(engine)
        self.email_requests = SqlEmailRequestRepository(engine)
        self.uow = SqlUnitOfWork(engine)
        self.probe = SqlHealthProbe(engine)

    async def open(self) -> None:
        await upgrade_to_head(Database.connect(self._url))

    async def close(self) -> None:
        await Database.dispose()
