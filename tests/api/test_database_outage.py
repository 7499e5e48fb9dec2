"""A database that goes away: 503 problems instead of stack traces, and recovery after."""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from app.db import Database
from app.db.mongo import MongoConnection
from tests.api.helpers import V1, assert_problem, register_and_login
from tests.backends import empty_postgres_database
from tests.conftest import SettingsFactory, running
from tests.fakes.async_mongomock import AsyncMongomockClient
from tests.tcp_proxy import TcpProxy

Switch = Callable[[bool], Awaitable[None]]


async def _exercise_outage(client: httpx.AsyncClient, set_down: Switch) -> None:
    caller = await register_and_login(client, "outage@example.com")

    await set_down(True)
    ready = await client.get("/ready")
    me = await client.get(f"{V1}/users/me", headers=caller.headers)
    register = await client.post(
        f"{V1}/auth/register", json={"email": "new@example.com", "password": "plum-Orbit-4-ladder"}
    )

    assert_problem(ready, 503, "service_unavailable")
    for response in (me, register):
        body = assert_problem(response, 503, "service_unavailable")
        assert "Traceback" not in response.text
        assert body["detail"] == "The database is unavailable; try again shortly."
    assert (await client.get("/health")).status_code == 200

    await set_down(False)
    assert (await client.get("/ready")).status_code == 200
    me_again = await client.get(f"{V1}/users/me", headers=caller.headers)
    assert me_again.status_code == 200
    assert me_again.json()["email"] == "outage@example.com"
    # The write refused during the outage left nothing behind and now succeeds.
    again = await client.post(
        f"{V1}/auth/register", json={"email": "new@example.com", "password": "plum-Orbit-4-ladder"}
    )
    assert again.status_code == 201


async def _client_for(url: str, make_settings: SettingsFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with running(make_settings(database_url=url)) as (_app, client):
        yield client


# These build their own store; running them once (on the sqlite parameter) is enough.
ONCE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@ONCE
async def test_postgres_outage_and_recovery(make_settings: SettingsFactory) -> None:
    async with empty_postgres_database("outage") as direct:
        target = make_url(direct)
        proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
        await proxy.start()
        via_proxy = target.set(host=proxy.host, port=proxy.port)

        async def set_down(down: bool) -> None:
            await (proxy.cut() if down else proxy.restore())

        try:
            async for client in _client_for(
                via_proxy.render_as_string(hide_password=False), make_settings
            ):
                await _exercise_outage(client, set_down)
        finally:
            await proxy.cut()


@ONCE
async def test_mongodb_outage_and_recovery(make_settings: SettingsFactory) -> None:
    fake = AsyncMongomockClient()
    MongoConnection.install(fake)

    async def set_down(down: bool) -> None:
        fake.outage.down = down

    async for client in _client_for("mongodb://fake.invalid:27017/outage", make_settings):
        await _exercise_outage(client, set_down)


@ONCE
async def test_sqlite_outage_and_recovery(
    client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    # Putting a directory where the file was makes every new connection fail, as a
    # lost volume would; removing it brings the same file back.
    database = tmp_path / "app.db"
    moved = tmp_path / "app.db.away"

    async def set_down(down: bool) -> None:
        await Database.engine().dispose()
        if down:
            database.rename(moved)
            database.mkdir()
        else:
            database.rmdir()
            moved.rename(database)

    await _exercise_outage(client, set_down)
