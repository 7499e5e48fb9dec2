"""The ``backend`` fixture: every repository and the unit of work of one storage backend.

Every contract test runs against each backend in ``BACKENDS``. A backend is an async
context manager that yields a ready, empty store (a ``Backend`` with all its
repositories) and cleans it up afterwards; adding a backend (MongoDB, ...) is one more
entry in that mapping. A backend whose server or driver is not available skips its
tests with a one-line reason.
"""

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from app.db import Database
from app.db.mongo import MongoConnection
from app.factories.user_factory import UserFactory
from app.interfaces.repositories import (
    AuditRepository,
    CooldownRepository,
    OneTimeCodeRepository,
    OutboxRepository,
    SessionRepository,
    UserRepository,
)
from app.interfaces.repositories.email_request_repository import EmailRequestRepository
from app.interfaces.repositories.guess_counter_repository import GuessCounterRepository
from app.interfaces.repositories.login_lockout_repository import LoginLockoutRepository
from app.interfaces.unit_of_work import UnitOfWork
from app.models.email import EmailKind, OutboxMessage, OutboxStatus
from app.models.one_time_code import CodePurpose, OneTimeCode
from app.models.role import Role
from app.models.session import Session
from app.models.user import User
from app.repositories.mongo.audit_repository import MongoAuditRepository
from app.repositories.mongo.base import MongoUnitOfWork
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
from app.repositories.sql.audit_repository import SqlAuditRepository
from app.repositories.sql.base import SqlUnitOfWork
from app.repositories.sql.email_request_repository import SqlEmailRequestRepository
from app.repositories.sql.guess_counter_repository import SqlGuessCounterRepository
from app.repositories.sql.login_lockout_repository import SqlLoginLockoutRepository
from app.repositories.sql.one_time_code_repository import (
    SqlCooldownRepository,
    SqlOneTimeCodeRepository,
)
from app.repositories.sql.outbox_repository import SqlOutboxRepository
from app.repositories.sql.session_repository import SqlSessionRepository
from app.repositories.sql.user_repository import SqlUserRepository
from app.utils.ids import new_id
from tests.backends import (
    migrated_postgres_database,
    migrated_sqlite_file,
    mongodb_server,
    with_database,
)
from tests.clock import ManualClock
from tests.fakes.async_mongomock import AsyncMongomockClient

POSTGRES_URL_ENV = "TEST_POSTGRES_URL"
HASH = "$argon2id$v=19$m=65536,t=3,p=4$not-a-real-hash"


@dataclass
class Backend:
    """The repositories of one backend, with helpers that build real domain objects."""

    name: str
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
    clock: ManualClock = field(default_factory=ManualClock)
    # False for a store whose ``uow.atomic()`` runs the calls in order without a
    # transaction (allowed by ``UnitOfWork``): tests that need a rollback skip there.
    transactional: bool = True

    def require_transactions(self) -> None:
        if not self.transactional:
            pytest.skip(f"{self.name}: atomic() does not roll back on this backend")

    @property
    def factory(self) -> UserFactory:
        return UserFactory(self.clock)

    def new_user(
        self,
        email: str,
        *,
        role: Role = Role.USER,
        full_name: str | None = None,
        is_verified: bool = False,
    ) -> User:
        return self.factory.create(
            email=email,
            hashed_password=HASH,
            full_name=full_name,
            role=role,
            is_verified=is_verified,
        )

    async def add_user(self, email: str, **kwargs: Any) -> User:
        return await self.users.add(self.new_user(email, **kwargs))

    def new_session(
        self,
        user_id: str,
        *,
        created_at: datetime | None = None,
        ttl: timedelta = timedelta(days=14),
        revoked_at: datetime | None = None,
    ) -> Session:
        created = created_at or self.clock.now()
        return Session(
            id=new_id(),
            user_id=user_id,
            refresh_jti=new_id(),
            created_at=created,
            last_used_at=created,
            expires_at=created + ttl,
            user_agent="pytest",
            ip_address="203.0.113.7",
            revoked_at=revoked_at,
        )

    async def add_session(self, user_id: str, **kwargs: Any) -> Session:
        return await self.sessions.add(self.new_session(user_id, **kwargs))

    def new_message(
        self,
        *,
        recipient: str = "to@example.com",
        kind: EmailKind = EmailKind.WELCOME,
        subject: str = "Welcome",
        next_attempt_at: datetime | None = None,
        created_at: datetime | None = None,
    ) -> OutboxMessage:
        """A pending message as the app queues it: due at ``next_attempt_at`` (now)."""
        created = created_at or self.clock.now()
        return OutboxMessage(
            id=new_id(),
            kind=kind,
            recipient=recipient,
            subject=subject,
            text_body=f"Hello {recipient}",
            html_body=f"<p>Hello {recipient}</p>",
            status=OutboxStatus.PENDING,
            attempts=0,
            next_attempt_at=next_attempt_at or created,
            created_at=created,
            updated_at=created,
        )

    async def add_message(self, **kwargs: Any) -> OutboxMessage:
        message = self.new_message(**kwargs)
        await self.outbox.add(message)
        return message

    def new_code(
        self,
        user_id: str,
        purpose: CodePurpose = CodePurpose.VERIFY_EMAIL,
        *,
        ttl: timedelta = timedelta(minutes=15),
        attempts: int = 0,
        created_at: datetime | None = None,
    ) -> OneTimeCode:
        created = created_at or self.clock.now()
        return OneTimeCode(
            id=new_id(),
            user_id=user_id,
            purpose=purpose,
            code_hash=f"hash-{new_id()}",
            attempts=attempts,
            created_at=created,
            expires_at=created + ttl,
        )

    async def replace_code(self, user_id: str, *args: Any, **kwargs: Any) -> OneTimeCode:
        code = self.new_code(user_id, *args, **kwargs)
        await self.codes.replace(code)
        return code


def _sql_backend(name: str) -> Backend:
    # The adapters take a provider, exactly as the app wires them.
    return Backend(
        name=name,
        users=SqlUserRepository(Database.engine, Database.reader),
        sessions=SqlSessionRepository(Database.engine, Database.reader),
        outbox=SqlOutboxRepository(Database.engine),
        codes=SqlOneTimeCodeRepository(Database.engine),
        cooldowns=SqlCooldownRepository(Database.engine),
        audit=SqlAuditRepository(Database.engine),
        lockouts=SqlLoginLockoutRepository(Database.engine),
        guesses=SqlGuessCounterRepository(Database.engine),
        email_requests=SqlEmailRequestRepository(Database.engine),
        uow=SqlUnitOfWork(Database.engine),
    )


@asynccontextmanager
async def _sqlite(tmp_path: Path) -> AsyncIterator[Backend]:
    Database.connect(await migrated_sqlite_file(tmp_path / "contract.db"))
    try:
        yield _sql_backend("sqlite")
    finally:
        await Database.dispose()


@asynccontextmanager
async def _postgres(tmp_path: Path) -> AsyncIterator[Backend]:
    async with migrated_postgres_database("contract") as url:
        Database.connect(url)
        try:
            yield _sql_backend("postgres")
        finally:
            await Database.dispose()


def _mongo_backend(name: str, database: str, *, transactional: bool) -> Backend:
    provider = partial(MongoConnection.database, database)
    return Backend(
        name=name,
        users=MongoUserRepository(provider),
        sessions=MongoSessionRepository(provider),
        outbox=MongoOutboxRepository(provider),
        codes=MongoOneTimeCodeRepository(provider),
        cooldowns=MongoCooldownRepository(provider),
        audit=MongoAuditRepository(provider),
        lockouts=MongoLoginLockoutRepository(provider),
        guesses=MongoGuessCounterRepository(provider),
        email_requests=MongoEmailRequestRepository(provider),
        uow=MongoUnitOfWork(MongoConnection.client, lambda: transactional),
        transactional=transactional,
    )


@asynccontextmanager
async def _mongodb_fake(tmp_path: Path) -> AsyncIterator[Backend]:
    MongoConnection.install(AsyncMongomockClient())
    try:
        await ensure_indexes(MongoConnection.database("contract"))
        # mongomock has no multi-document transactions, like a standalone server.
        yield _mongo_backend("mongodb-fake", "contract", transactional=False)
    finally:
        await MongoConnection.close()


@asynccontextmanager
async def _mongodb(tmp_path: Path) -> AsyncIterator[Backend]:
    name = f"contract_{uuid.uuid4().hex[:12]}"
    url = with_database(mongodb_server(), name)
    client = MongoConnection.connect(url)
    try:
        hello = await client.admin.command("hello")
        await ensure_indexes(MongoConnection.database(name))
        yield _mongo_backend("mongodb", name, transactional="setName" in hello)
    finally:
        await client.drop_database(name)
        await MongoConnection.close()


BACKENDS: dict[str, Callable[[Path], AbstractAsyncContextManager[Backend]]] = {
    "sqlite": _sqlite,
    "postgres": _postgres,
    "mongodb-fake": _mongodb_fake,
    "mongodb": _mongodb,
}


@pytest.fixture(params=list(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with BACKENDS[request.param](tmp_path) as store:
        yield store
