"""The MongoDB storage backend."""

from functools import partial
from typing import Any

from app.db.mongo import MongoConnection
from app.interfaces.health_probe import HealthProbe
from app.interfaces.storage import Storage
from app.repositories.mongo.audit_repository import MongoAuditRepository
from app.repositories.mongo.base import DatabaseProvider, MongoUnitOfWork
from app.repositories.mongo.email_request_repository import MongoEmailRequestRepository
from app.repositories.mongo.guess_counter_repository import MongoGuessCounterRepository
from app.repositories.mongo.indexes import ensure_indexes
from app.repositories.mongo.login_lockout_repository import MongoLoginLockoutRepository
from app.repositories.mongo.one_time_code_repository import (
    MongoCooldownRepository,
    MongoOneTimeCodeRepository,
)
from app.repositories.mongo.outbox_repository import MongoOutboxRepository
from app.repositories.mongo.session_repository import MongoSessionRepository
from app.repositories.mongo.user_repository import MongoUserRepository


class MongoHealthProbe(HealthProbe):
    """Answers readiness with the ``ping`` command."""

    def __init__(self, database: DatabaseProvider) -> None:
        self._database = database

    async def ping(self) -> None:
        await self._database().command("ping")


class MongoStorage(Storage):
    """Repositories on the process's ``AsyncMongoClient`` (the ``MongoConnection`` Singleton)."""

    def __init__(self, url: str, database_name: str) -> None:
        self._url = url
        self._transactions = False
        database = partial(MongoConnection.database, database_name)
        self.users = MongoUserRepository(database)
        self.sessions = MongoSessionRepository(database)
        self.outbox = MongoOutboxRepository(database)
        self.codes = MongoOneTimeCodeRepository(database)
        self.cooldowns = MongoCooldownRepository(database)
        self.audit = MongoAuditRepository(database)
        self.lockouts = MongoLoginLockoutRepository(database)
        self.guesses = MongoGuessCounterRepository(database)
        self.email_requests = MongoEmailRequestRepository(database)
        self.uow = MongoUnitOfWork(MongoConnection.client, lambda: self._transactions)
        self.probe = MongoHealthProbe(database)
        self._database = database

    async def open(self) -> None:
        client = MongoConnection.connect(self._url)
        hello: dict[str, Any] = await client.admin.command("hello")
        # Multi-document transactions need a replica set (or a sharded cluster).
        self._transactions = "setName" in hello or hello.get("msg") == "isdbgrid"
        await ensure_indexes(self._database())

    async def close(self) -> None:
        await MongoConnection.close()
