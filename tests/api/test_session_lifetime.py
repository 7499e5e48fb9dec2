"""Sessions slide with each refresh, but end at their absolute lifetime."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest

from app.main import create_app
from tests.api.helpers import V1, assert_problem, register_and_login
from tests.conftest import SettingsFactory


@pytest.fixture
async def short_lived(make_settings: SettingsFactory) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(session_max_lifetime_seconds=2))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


def _expiry(token: str) -> int:
    claims = jwt.decode(token, options={"verify_signature": False})
    return int(claims["exp"])


@pytest.mark.parametrize("database_url", ["sqlite", "mongodb-fake"], indirect=True)
async def test_refresh_never_extends_a_session_past_its_absolute_lifetime(
    short_lived: httpx.AsyncClient,
) -> None:
    caller = await register_and_login(short_lived, "lifetime@example.com")
    deadline = _expiry(caller.refresh_token)

    refreshed = await short_lived.post(
        f"{V1}/auth/refresh", json={"refresh_token": caller.refresh_token}
    )
    assert refreshed.status_code == 200
    # The default refresh TTL is 14 days; the session's 2 seconds win.
    assert _expiry(refreshed.json()["refresh_token"]) <= deadline

    await asyncio.sleep(2.1)
    expired = await short_lived.post(
        f"{V1}/auth/refresh", json={"refresh_token": refreshed.json()["refresh_token"]}
    )
    assert_problem(expired, 401, "invalid_token")
    me = await short_lived.get(f"{V1}/users/me", headers=caller.headers)
    assert_problem(me, 401, "invalid_token")
