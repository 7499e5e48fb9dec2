"""Test databases: a fresh, empty store of each backend for one test.

SQLite always; PostgreSQL when TEST_POSTGRES_URL is set; MongoDB on the in-process
fake always, and on a real server when TEST_MONGODB_URL is set. A backend that is not
configured skips its tests with a one-line reason.
"""

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from pymongo import AsyncMongoClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from app.db.mongo import MongoConnection
from app.repositories.sql.migrator import alembic_config, upgrade_to_head
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


def interleave_mongodb_fake() -> None:
    """Let the calls of concurrent requests interleave on the installed MongoDB fake.

    A no-op on every other backend: their calls wait on a server, so they interleave.
    """
    try:
        client = MongoConnection.client()
    except RuntimeError:
        return
    if isinstance(client, AsyncMongomockClient):
        client.interleaving.on = True


def with_database(url: str, name: str) -> str:
    """The MongoDB URL with its database path set to ``name`` (options kept)."""
    base, _, options = url.partition("?")
    scheme, _, rest = base.partition("://")
    hosts = rest.split("/", 1)[0]
    return f"{scheme}://{hosts}/{name}" + (f"?{options}" if options else "")


@asynccontextmanager
async def _postgres_database(suffix: str) -> AsyncIterator[str]:
    """A database of the server's own, ``<name>_<suffix>[_<worker>]``, created when missing.

    Each suite (and each xdist worker) gets its own database, so they never meet.
    """
    server = make_url(postgres_server())
    # pytest-xdist runs workers side by side; each gets databases of its own.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    name = f"{server.database}_{suffix}" + (f"_{worker}" if worker else "")
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
    yield server.set(database=name).render_as_string(hide_password=False)


@asynccontextmanager
async def empty_postgres_database(suffix: str) -> AsyncIterator[str]:
    """A database of the server's own, ``<name>_<suffix>``, with an empty public schema."""
    async with _postgres_database(suffix) as url:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                await conn.exec_driver_sql("CREATE SCHEMA public")
        finally:
            await engine.dispose()
        yield url


# Migrating a new database costs about 0.1 s per test; most tests need the schema,
# not the migrations, so they start from a copy migrated once per run. The migrations
# themselves are tested on empty databases (tests/unit/test_migrations.py, and every
# test that uses ``empty_postgres_database`` or a plain SQLite path).
_sqlite_template: Path | None = None


def _head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def migrated_sqlite_file(path: Path) -> str:
    """A DATABASE_URL of a new SQLite file at ``path``, its schema at the newest migration."""
    global _sqlite_template
    if _sqlite_template is None:
        template = Path(tempfile.mkdtemp(prefix="sqlite-template-")) / "template.db"
        engine = create_async_engine(f"sqlite+aiosqlite:///{template}")
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()
        _sqlite_template = template
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@asynccontextmanager
async def migrated_postgres_database(suffix: str) -> AsyncIterator[str]:
    """Like ``empty_postgres_database``, but with the schema at the newest migration and no rows.

    The schema is migrated once and kept; each use empties every table instead.
    """
    async with _postgres_database(suffix) as url:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                at_head = await _revision(conn) == _head_revision()
                if at_head:
                    tables = await conn.execute(
                        text(
                            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                            "AND tablename <> 'alembic_version'"
                        )
                    )
                    names = ", ".join(f'"{name}"' for name in tables.scalars())
                    if names:
                        await conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
                else:
                    await conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                    await conn.exec_driver_sql("CREATE SCHEMA public")
        finally:
            await engine.dispose()
        if not at_head:
            engine = create_async_engine(url)
            try:
                await upgrade_to_head(engine)
            finally:
                await engine.dispose()
        yield url


async def _revision(conn: AsyncConnection) -> str | None:
    """The schema's Alembic revision, None when it has no version table."""
    present = await conn.execute(text("SELECT to_regclass('public.alembic_version') IS NOT NULL"))
    if not present.scalar():
        return None
    version = await conn.execute(text("SELECT version_num FROM alembic_version"))
    return version.scalar()


@asynccontextmanager
async def database_url_for(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A DATABASE_URL for a store of ``backend`` that holds no data, cleaned up afterwards."""
    if backend == "sqlite":
        yield await migrated_sqlite_file(tmp_path / "app.db")
    elif backend == "postgres":
        async with migrated_postgres_database("api") as url:
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
