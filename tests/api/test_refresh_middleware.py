"""The automatic refresh: an expired access token plus ``x-refresh`` is served as that user.

This module runs the app without a refresh reuse grace window, so a refresh token
that was rotated behind the scenes is detected as soon as it is replayed.
"""

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from app.config import Settings
from tests.api.helpers import (
    V1,
    LoggedIn,
    assert_problem,
    bearer,
    expired_copy,
    login,
    register_and_login,
)
from tests.conftest import SettingsFactory, running

ME = f"{V1}/users/me"
REFRESH = f"{V1}/auth/refresh"
ORIGIN = "http://localhost:3000"


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    """Overrides the shared fixture: every replay is a replay, no grace window."""
    return make_settings(refresh_reuse_grace_seconds=0)


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def expired_access_token(app: FastAPI, session: LoggedIn) -> str:
    """A genuine access token of the session, signed by the app, that expired a minute ago."""
    return expired_copy(app.state.container.codec, session.access_token)


def auto_refresh_headers(access_token: str, refresh_token: str) -> dict[str, str]:
    return {**bearer(access_token), "x-refresh": refresh_token}


def assert_no_new_tokens(response: httpx.Response) -> None:
    assert "x-access-token" not in response.headers
    assert "x-refresh-token" not in response.headers


async def refresh_status(client: httpx.AsyncClient, refresh_token: str) -> int:
    response = await client.post(REFRESH, json={"refresh_token": refresh_token})
    return response.status_code


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> LoggedIn:
    return await register_and_login(client, "alice@example.com")


async def test_expired_access_token_without_x_refresh_is_401(
    app: FastAPI, client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    response = await client.get(ME, headers=bearer(expired_access_token(app, alice)))
    assert_problem(response, 401, "invalid_token")
    assert_no_new_tokens(response)


async def test_expired_access_token_with_x_refresh_is_served_with_a_new_pair(
    app: FastAPI, client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    expired = expired_access_token(app, alice)
    response = await client.get(ME, headers=auto_refresh_headers(expired, alice.refresh_token))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == alice.user_id
    assert response.json()["email"] == alice.email
    assert response.headers["cache-control"] == "no-store"
    new_access = response.headers["x-access-token"]
    new_refresh = response.headers["x-refresh-token"]
    assert new_access not in (expired, alice.access_token)
    assert new_refresh != alice.refresh_token
    sid = claims_of(alice.access_token)["sid"]
    assert claims_of(new_access)["sid"] == claims_of(new_refresh)["sid"] == sid
    assert claims_of(new_access)["exp"] > datetime.now(UTC).timestamp()

    # The new access token works on its own, without any refresh.
    me = await client.get(ME, headers=bearer(new_access))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == alice.user_id
    assert_no_new_tokens(me)
    # The new refresh token is the session's current one: it rotates.
    assert await refresh_status(client, new_refresh) == 200


async def test_old_refresh_token_is_rotated_by_the_auto_refresh(
    app: FastAPI, client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    expired = expired_access_token(app, alice)
    response = await client.get(ME, headers=auto_refresh_headers(expired, alice.refresh_token))
    assert response.status_code == 200, response.text
    new_access = response.headers["x-access-token"]
    new_refresh = response.headers["x-refresh-token"]

    # Replaying the refresh token the middleware consumed is reuse: the session is revoked.
    assert_problem(
        await client.post(REFRESH, json={"refresh_token": alice.refresh_token}),
        401,
        "invalid_token",
    )
    assert_problem(await client.get(ME, headers=bearer(new_access)), 401, "invalid_token")
    assert await refresh_status(client, new_refresh) == 401
    # The same replay through the middleware is refused as well.
    again = await client.get(ME, headers=auto_refresh_headers(expired, alice.refresh_token))
    assert_problem(again, 401, "invalid_token")
    assert_no_new_tokens(again)


async def test_x_refresh_of_another_session_is_401_and_rotates_nothing(
    app: FastAPI, client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    other_login = await login(client, alice.email)
    bob = await register_and_login(client, "bob@example.com")
    expired = expired_access_token(app, alice)
    for foreign_refresh in (other_login.refresh_token, bob.refresh_token):
        response = await client.get(ME, headers=auto_refresh_headers(expired, foreign_refresh))
        assert_problem(response, 401, "invalid_token")
        assert_no_new_tokens(response)
    # With no grace window, a rotated token would now be a replay; these still rotate once.
    assert await refresh_status(client, other_login.refresh_token) == 200
    assert await refresh_status(client, bob.refresh_token) == 200
    assert await refresh_status(client, alice.refresh_token) == 200


async def test_tampered_unexpired_access_token_with_x_refresh_is_401_without_refresh(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    head, payload, signature = alice.access_token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    tampered = f"{head}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"
    response = await client.get(ME, headers=auto_refresh_headers(tampered, alice.refresh_token))
    assert_problem(response, 401, "invalid_token")
    assert_no_new_tokens(response)
    assert await refresh_status(client, alice.refresh_token) == 200


async def test_tampered_expired_access_token_with_x_refresh_is_401_without_refresh(
    app: FastAPI, client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    """An expired token only triggers a refresh when its signature is genuine."""
    head, payload, signature = expired_access_token(app, alice).split(".")
    tampered = f"{head}.{payload}.{signature[::-1]}"
    response = await client.get(ME, headers=auto_refresh_headers(tampered, alice.refresh_token))
    assert_problem(response, 401, "invalid_token")
    assert_no_new_tokens(response)
    assert await refresh_status(client, alice.refresh_token) == 200


@pytest.mark.parametrize("kind", ["garbage", "access-token"])
async def test_expired_access_token_with_bad_x_refresh_is_401(
    app: FastAPI, client: httpx.AsyncClient, alice: LoggedIn, kind: str
) -> None:
    bad = "not-a-token" if kind == "garbage" else alice.access_token
    response = await client.get(
        ME, headers=auto_refresh_headers(expired_access_token(app, alice), bad)
    )
    assert_problem(response, 401, "invalid_token")
    assert_no_new_tokens(response)
    assert await refresh_status(client, alice.refresh_token) == 200


async def test_valid_access_token_with_x_refresh_does_not_rotate(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    response = await client.get(
        ME, headers=auto_refresh_headers(alice.access_token, alice.refresh_token)
    )
    assert response.status_code == 200, response.text
    assert_no_new_tokens(response)
    assert await refresh_status(client, alice.refresh_token) == 200


async def test_refresh_endpoint_is_not_refreshed_twice(
    app: FastAPI, client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    """On /auth/refresh the middleware steps aside; the route alone rotates x-refresh."""
    expired = expired_access_token(app, alice)
    response = await client.post(
        REFRESH, headers=auto_refresh_headers(expired, alice.refresh_token)
    )
    assert response.status_code == 200, response.text
    assert_no_new_tokens(response)
    body = response.json()
    me = await client.get(ME, headers=bearer(body["access_token"]))
    assert me.status_code == 200, me.text
    assert await refresh_status(client, body["refresh_token"]) == 200


async def test_revoked_session_is_not_revived_by_x_refresh(
    app: FastAPI, client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    expired = expired_access_token(app, alice)
    assert (await client.post(f"{V1}/auth/logout", headers=alice.headers)).status_code == 204
    response = await client.get(ME, headers=auto_refresh_headers(expired, alice.refresh_token))
    assert_problem(response, 401, "invalid_token")
    assert_no_new_tokens(response)


async def test_concurrent_auto_refreshes_inside_grace_are_all_served(
    make_settings: SettingsFactory,
) -> None:
    """A browser firing parallel requests with the same expired pair gets them all served."""
    async with running(make_settings(refresh_reuse_grace_seconds=10)) as (app, client):
        alice = await register_and_login(client, "alice@example.com")
        headers = auto_refresh_headers(expired_access_token(app, alice), alice.refresh_token)
        responses = await asyncio.gather(*(client.get(ME, headers=headers) for _ in range(3)))
        assert [r.status_code for r in responses] == [200, 200, 200], [r.text for r in responses]
        for response in responses:
            me = await client.get(ME, headers=bearer(response.headers["x-access-token"]))
            assert me.status_code == 200, me.text
        sessions = await client.get(
            f"{ME}/sessions", headers=bearer(responses[0].headers["x-access-token"])
        )
        assert [s["id"] for s in sessions.json()] == [claims_of(alice.access_token)["sid"]]


async def test_cors_exposes_the_refreshed_token_headers(make_settings: SettingsFactory) -> None:
    settings = make_settings(backend_cors_origins=[ORIGIN], refresh_reuse_grace_seconds=0)
    async with running(settings) as (app, client):
        alice = await register_and_login(client, "alice@example.com")
        expired = expired_access_token(app, alice)

        preflight = await client.options(
            ME,
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization, x-refresh",
            },
        )
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == ORIGIN
        allowed = preflight.headers["access-control-allow-headers"].lower()
        assert "x-refresh" in allowed
        assert "authorization" in allowed

        response = await client.get(
            ME, headers={"Origin": ORIGIN, **auto_refresh_headers(expired, alice.refresh_token)}
        )
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == ORIGIN
        exposed = {
            name.strip().lower()
            for name in response.headers["access-control-expose-headers"].split(",")
        }
        assert {"x-access-token", "x-refresh-token"} <= exposed
        assert response.headers["x-access-token"]
        assert response.headers["x-refresh-token"]

        # An origin that is not listed gets no CORS grant.
        foreign = await client.get(
            ME,
            headers={
                "Origin": "https://evil.example.com",
                **bearer(response.headers["x-access-token"]),
            },
        )
        assert "access-control-allow-origin" not in foreign.headers
