"""The ``backend`` fixture: one UserRepository and one SessionRepository per storage backend.

Every contract test runs against each backend in ``BACKENDS``. A backend is an async
context manager that yields a ready, empty store and cleans it up afterwards; adding a
backend (MongoDB, ...) is one more entry in that mapping. A backend whose server or
driver is not available skips its tests with a one-line reason.
"""

import importlib.util
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.db import Database
from app.factories.user_factory import UserFactory
from app.interfaces.repositories import SessionRepository, UserRepository
from app.models.role import Role
from app.models.session import Session
from app.models.user import User
from app.repositories.sql.schema import create_schema
from app.repositories.sql.session_repository import SqlSessionRepository
from app.repositories.sql.tables import metadata
from app.repositories.sql.user_repository import SqlUserRepository
from app.utils.ids import new_id

POSTGRES_URL_ENV = "TEST_POSTGRES_URL"
HASH = "$argon2id$v=19$m=65536,t=3,p=4$not-a-real-hash"


class ManualClock:
    """A clock that only moves when told to (implements ``app.interfaces.clock.Clock``)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now


@dataclass
class Backend:
    """The repositories of one backend, with helpers that build real domain objects."""

    name: str
    users: UserRepository
    sessions: SessionRepository
    clock: ManualClock = field(default_factory=ManualClock)

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


def _sql_backend(name: str) -> Backend:
    # The adapters take a provider, exactly as the app wires them.
    return Backend(
        name=name,
        users=SqlUserRepository(Database.engine),
        sessions=SqlSessionRepository(Database.engine),
    )


@asynccontextmanager
async def _sqlite(tmp_path: Path) -> AsyncIterator[Backend]:
    engine = Database.connect(f"sqlite+aiosqlite:///{tmp_path / 'contract.db'}")
    try:
        await create_schema(engine)
        yield _sql_backend("sqlite")
    finally:
        await Database.dispose()


@asynccontextmanager
async def _postgres(tmp_path: Path) -> AsyncIterator[Backend]:
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        pytest.skip(f"set {POSTGRES_URL_ENV} (postgresql+asyncpg://...) to run against PostgreSQL")
    if importlib.util.find_spec("asyncpg") is None:
        pytest.skip("asyncpg is not installed; pip install asyncpg to run against PostgreSQL")
    engine = Database.connect(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
            await conn.run_sync(metadata.create_all)
        yield _sql_backend("postgres")
        async with engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
    finally:
        await Database.dispose()


BACKENDS: dict[str, Callable[[Path], AbstractAsyncContextManager[Backend]]] = {
    "sqlite": _sqlite,
    "postgres": _postgres,
}


@pytest.fixture(params=list(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with BACKENDS[request.param](tmp_path) as store:
        yield store
