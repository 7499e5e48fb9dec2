"""Test databases: a fresh, empty store of each backend for one test.

SQLite always; PostgreSQL when TEST_POSTGRES_URL is set; MongoDB on the in-process
fake always, and on a real server when TEST_MONGODB_URL is set. A backend that is not
configured skips its tests with a one-line reason.
"""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.mongo import MongoConnection
from tests.fakes.async_mongomock import AsyncMongomockClient

POSTGRES_ENV = "TEST_POSTGRES_URL"
MONGODB_ENV = "TEST_MONGODB_URL"
BACKENDS = ("sqlite", "postgres", "mongodb-fake", "mongodb")


def postgres_server() -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"set {POSTGRES_ENV} (postgresql+asyncpg://...) to run against PostgreSQL")
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        pytest.skip("asyncpg is not installed")
    return url


def mongodb_server() -> str:
    url = os.environ.get(MONGODB_ENV)
    if not url:
        pytest.skip(f"set {MONGODB_ENV} (mongodb://...) to run against a real MongoDB")
    return url


def with_database(url: str, name: str) -> str:
    """The MongoDB URL with its database path set to ``name`` (options kept)."""
    base, _, options = url.partition("?")
    scheme, _, rest = base.partition("://")
    hosts = rest.split("/", 1)[0]
    return f"{scheme}://{hosts}/{name}" + (f"?{options}" if options else "")


@asynccontextmanager
async def empty_postgres_database(suffix: str) -> AsyncIterator[str]:
    """A database of the server's own, ``<name>_<suffix>``, with an empty public schema.

    Each suite gets its own database so that suites run side by side never meet.
    """
    server = make_url(postgres_server())
    name = f"{server.database}_{suffix}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = await conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = $1", (name,)
            )
            if exists.first() is None:
                await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        await admin.dispose()
    url = server.set(database=name)
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            await conn.exec_driver_sql("CREATE SCHEMA public")
    finally:
        await engine.dispose()
    yield url.render_as_string(hide_password=False)


@asynccontextmanager
async def database_url_for(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A DATABASE_URL for an empty store of ``backend``, cleaned up afterwards."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
    elif backend == "postgres":
        async with empty_postgres_database("api") as url:
            yield url
    elif backend == "mongodb-fake":
        MongoConnection.install(AsyncMongomockClient())
        try:
            yield "mongodb://fake.invalid:27017/app_test"
        finally:
            await MongoConnection.close()
    elif backend == "mongodb":
        url = with_database(mongodb_server(), f"test_{uuid.uuid4().hex[:12]}")
        try:
            yield url
        finally:
            client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(url)
            await client.drop_database(url.rsplit("/", 1)[1].split("?")[0])
            await client.close()
    else:
        raise ValueError(backend)
