"""Storage backends of a run: each scenario gets a fresh, empty store and drops it after.

SQLite is always there (a file in the run's scratch directory). PostgreSQL and
MongoDB are used when ``BENCH_POSTGRES_URL`` / ``BENCH_MONGODB_URL`` name a server:
the benchmark creates a scratch database next to the named one for every scenario
and drops it afterwards, so the named database itself is never written to.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url

from bench.procs import LOOPBACK

POSTGRES_ENV = "BENCH_POSTGRES_URL"
MONGODB_ENV = "BENCH_MONGODB_URL"
SEED_CHUNK = 5_000


@dataclass(frozen=True)
class Store:
    """One fresh database: the DATABASE_URL the app is started with."""

    url: str


def _check_loopback(host: str | None, variable: str) -> None:
    if host not in (LOOPBACK, "localhost"):
        raise SystemExit(f"{variable} must point at {LOOPBACK} (the benchmark stays on loopback)")


class Backend(ABC):
    """A kind of storage the app can run on."""

    name: str

    @abstractmethod
    @contextmanager
    def fresh_store(self, label: str, scratch: Path) -> Iterator[Store]:
        """An empty database for one scenario, removed when the block ends."""

    @abstractmethod
    def seed_users(self, store: Store, rows: list[dict[str, Any]]) -> None:
        """Bulk-insert user rows (``users`` table columns) into the store's schema."""


def _scratch_name(label: str) -> str:
    return f"bench_{label}_{os.getpid()}_{secrets.token_hex(3)}"


async def _seed_sql(url: str, rows: list[dict[str, Any]]) -> None:
    """Migrate with the app's own Alembic scripts, then executemany into ``users``."""
    # Imported here: the orchestrator needs the app's code only for seeding.
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.repositories.sql.migrator import upgrade_to_head
    from app.repositories.sql.tables import users

    engine = create_async_engine(url)
    try:
        await upgrade_to_head(engine)
        for start in range(0, len(rows), SEED_CHUNK):
            async with engine.begin() as conn:
                await conn.execute(users.insert(), rows[start : start + SEED_CHUNK])
    finally:
        await engine.dispose()


class SqliteBackend(Backend):
    """An SQLite file per scenario, in the run's scratch directory."""

    name = "sqlite"

    @contextmanager
    def fresh_store(self, label: str, scratch: Path) -> Iterator[Store]:
        """A fresh SQLite file for one scenario (removed with the scratch directory)."""
        path = scratch / f"{label}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        yield Store(url=f"sqlite+aiosqlite:///{path}")

    def seed_users(self, store: Store, rows: list[dict[str, Any]]) -> None:
        """Migrate with the app's Alembic scripts, then bulk-insert the rows."""
        asyncio.run(_seed_sql(store.url, rows))


class PostgresBackend(Backend):
    """A scratch database per scenario on the server of ``BENCH_POSTGRES_URL``."""

    name = "postgres"

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        _check_loopback(parsed.host, POSTGRES_ENV)
        self._url = parsed.set(drivername="postgresql+asyncpg")

    def _asyncpg_dsn(self, database: str) -> str:
        return self._url.set(drivername="postgresql", database=database).render_as_string(
            hide_password=False
        )

    async def _admin(self, statement: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self._asyncpg_dsn(self._url.database or "postgres"))
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    @contextmanager
    def fresh_store(self, label: str, scratch: Path) -> Iterator[Store]:
        """A new database on the server, dropped (WITH FORCE) when the block ends."""
        name = _scratch_name(label)
        asyncio.run(self._admin(f'CREATE DATABASE "{name}"'))
        try:
            yield Store(url=self._url.set(database=name).render_as_string(hide_password=False))
        finally:
            asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def seed_users(self, store: Store, rows: list[dict[str, Any]]) -> None:
        """Migrate with the app's Alembic scripts, then bulk-insert the rows."""
        asyncio.run(_seed_sql(store.url, rows))


class MongoBackend(Backend):
    """A scratch database per scenario on the server of ``BENCH_MONGODB_URL``."""

    name = "mongodb"

    def __init__(self, url: str) -> None:
        self._parts = urlsplit(url)
        _check_loopback(self._parts.hostname, MONGODB_ENV)

    def _url_for(self, database: str) -> str:
        return urlunsplit(self._parts._replace(path="/" + database))

    @contextmanager
    def fresh_store(self, label: str, scratch: Path) -> Iterator[Store]:
        """A new database name on the server, dropped when the block ends."""
        from pymongo import MongoClient

        name = _scratch_name(label)
        try:
            yield Store(url=self._url_for(name))
        finally:
            client: MongoClient[dict[str, Any]] = MongoClient(self._url_for(name))
            try:
                client.drop_database(name)
            finally:
                client.close()

    def seed_users(self, store: Store, rows: list[dict[str, Any]]) -> None:
        """insert_many in chunks; the app creates its indexes when it starts."""
        # The app's own document shape: ``_id`` is the user id, the rest are the columns.
        from pymongo import MongoClient

        documents = [
            {"_id": row["id"], **{k: v for k, v in row.items() if k != "id"}} for row in rows
        ]
        client: MongoClient[dict[str, Any]] = MongoClient(store.url, tz_aware=True)
        try:
            collection = client.get_default_database()["users"]
            for start in range(0, len(documents), SEED_CHUNK):
                collection.insert_many(documents[start : start + SEED_CHUNK], ordered=False)
        finally:
            client.close()


def available_backends(requested: list[str] | None) -> list[Backend]:
    """SQLite always, plus the servers named in the environment; ``requested`` filters."""
    backends: list[Backend] = [SqliteBackend()]
    if url := os.environ.get(POSTGRES_ENV):
        backends.append(PostgresBackend(url))
    if url := os.environ.get(MONGODB_ENV):
        backends.append(MongoBackend(url))
    if not requested:
        return backends
    by_name = {b.name: b for b in backends}
    missing = [name for name in requested if name not in by_name]
    if missing:
        hints = {"postgres": POSTGRES_ENV, "mongodb": MONGODB_ENV}
        needed = ", ".join(f"{name} needs {hints.get(name, '?')}" for name in missing)
        raise SystemExit(f"backend not available: {needed}")
    return [by_name[name] for name in requested]


def user_rows(count: int, password_hash: str) -> list[dict[str, Any]]:
    """``count`` ordinary, verified users with time-ordered ids and one shared hash."""
    from app.factories.user_factory import ROLE_PERMISSIONS
    from app.models.role import Role
    from app.utils.ids import new_id

    permissions = sorted(p.value for p in ROLE_PERMISSIONS[Role.USER])
    now = datetime.now(UTC)
    return [
        {
            "id": new_id(),
            "email": f"seed{i:06d}@example.com",
            "hashed_password": password_hash,
            "full_name": f"Seed User {i}",
            "role": Role.USER.value,
            "permissions": permissions,
            "is_active": True,
            "is_verified": True,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
