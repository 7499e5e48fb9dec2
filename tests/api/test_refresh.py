"""POST /api/v1/auth/refresh: rotation, reuse detection and its grace window."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.api.helpers import (
    V1,
    LoggedIn,
    assert_problem,
    bearer,
    login,
    login_superuser,
    register_and_login,
)
from tests.conftest import KeyPems, SettingsFactory, running

REFRESH = f"{V1}/auth/refresh"
ME = f"{V1}/users/me"


def claims_of(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


async def refresh_with_body(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(REFRESH, json={"refresh_token": token})


async def assert_works(client: httpx.AsyncClient, access_token: str, user_id: str) -> None:
    response = await client.get(ME, headers=bearer(access_token))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == user_id


async def assert_rejected(client: httpx.AsyncClient, access_token: str) -> None:
    assert_problem(await client.get(ME, headers=bearer(access_token)), 401, "invalid_token")


async def assert_refresh_rejected(client: httpx.AsyncClient, refresh_token: str) -> None:
    assert_problem(await refresh_with_body(client, refresh_token), 401, "invalid_token")


async def session_ids(client: httpx.AsyncClient, access_token: str) -> list[str]:
    response = await client.get(f"{ME}/sessions", headers=bearer(access_token))
    assert response.status_code == 200, response.text
    return [entry["id"] for entry in response.json()]


@pytest.fixture
async def strict_client(make_settings: SettingsFactory) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app without a reuse grace window: any replay is a theft."""
    async with running(make_settings(refresh_reuse_grace_seconds=0)) as (_app, http):
        yield http


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> LoggedIn:
    return await register_and_login(client, "alice@example.com")


# --- successful rotation ---------------------------------------------------------------


def assert_rotated_pair(response: httpx.Response, old: LoggedIn) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body: dict[str, Any] = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["refresh_token"] != old.refresh_token
    assert body["access_token"] != old.access_token
    new_refresh, old_refresh = claims_of(body["refresh_token"]), claims_of(old.refresh_token)
    assert new_refresh["jti"] != old_refresh["jti"]
    # Same session, same user.
    assert new_refresh["sid"] == old_refresh["sid"] == claims_of(body["access_token"])["sid"]
    assert new_refresh["sub"] == old.user_id
    return body


async def test_refresh_with_body_returns_a_new_pair(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    body = assert_rotated_pair(await refresh_with_body(client, alice.refresh_token), alice)
    await assert_works(client, body["access_token"], alice.user_id)
    # The rotated refresh token rotates again.
    assert_rotated_pair(
        await refresh_with_body(client, body["refresh_token"]),
        LoggedIn(
            alice.user_id, alice.email, alice.password, body["access_token"], body["refresh_token"]
        ),
    )


async def test_refresh_with_x_refresh_header_returns_a_new_pair(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    response = await client.post(REFRESH, headers={"x-refresh": alice.refresh_token})
    body = assert_rotated_pair(response, alice)
    await assert_works(client, body["access_token"], alice.user_id)


async def test_refresh_does_not_create_a_session(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    before = await session_ids(client, alice.access_token)
    body = assert_rotated_pair(await refresh_with_body(client, alice.refresh_token), alice)
    assert await session_ids(client, body["access_token"]) == before


# --- reuse detection ---------------------------------------------------------------------


async def test_reused_refresh_token_after_grace_revokes_the_session(
    strict_client: httpx.AsyncClient,
) -> None:
    client = strict_client
    victim = await register_and_login(client, "victim@example.com")
    other_device = await login(client, victim.email)
    rotated = assert_rotated_pair(await refresh_with_body(client, victim.refresh_token), victim)
    await assert_works(client, rotated["access_token"], victim.user_id)

    # The old refresh token comes back: a replay.
    await assert_refresh_rejected(client, victim.refresh_token)

    # The whole session is gone: its newest refresh and access tokens, and the first ones.
    await assert_refresh_rejected(client, rotated["refresh_token"])
    await assert_rejected(client, rotated["access_token"])
    await assert_rejected(client, victim.access_token)
    sid = claims_of(victim.access_token)["sid"]
    remaining = await session_ids(client, other_device.access_token)
    assert sid not in remaining
    # Only that session: the user's other device is untouched.
    assert remaining == [claims_of(other_device.access_token)["sid"]]
    await assert_works(client, other_device.access_token, victim.user_id)
    assert (await refresh_with_body(client, other_device.refresh_token)).status_code == 200


async def test_grace_window_covers_only_the_previous_token(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    """Inside the grace window, a token two rotations old is still a replay."""
    first = assert_rotated_pair(await refresh_with_body(client, alice.refresh_token), alice)
    second = await refresh_with_body(client, first["refresh_token"])
    assert second.status_code == 200, second.text
    await assert_refresh_rejected(client, alice.refresh_token)
    await assert_rejected(client, second.json()["access_token"])
    await assert_refresh_rejected(client, second.json()["refresh_token"])


async def test_concurrent_refreshes_inside_grace_both_succeed(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    sid = claims_of(alice.refresh_token)["sid"]
    responses = await asyncio.gather(
        refresh_with_body(client, alice.refresh_token),
        refresh_with_body(client, alice.refresh_token),
    )
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    bodies = [r.json() for r in responses]
    for body in bodies:
        assert body["refresh_token"] != alice.refresh_token
        assert claims_of(body["refresh_token"])["sid"] == sid
        assert claims_of(body["access_token"])["sid"] == sid
    # The session stays alive: every token handed out works, and it is still listed.
    for body in bodies:
        await assert_works(client, body["access_token"], alice.user_id)
    await assert_works(client, alice.access_token, alice.user_id)
    assert sid in await session_ids(client, bodies[0]["access_token"])
    # And it can keep rotating.
    again = await refresh_with_body(client, bodies[1]["refresh_token"])
    assert again.status_code == 200, again.text
    await assert_works(client, again.json()["access_token"], alice.user_id)


async def test_sequential_retry_inside_grace_gets_the_current_pair(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    first = assert_rotated_pair(await refresh_with_body(client, alice.refresh_token), alice)
    retry = await refresh_with_body(client, alice.refresh_token)
    assert retry.status_code == 200, retry.text
    # The retry is handed the session's current refresh token, not a third one.
    assert (
        claims_of(retry.json()["refresh_token"])["jti"] == claims_of(first["refresh_token"])["jti"]
    )
    await assert_works(client, first["access_token"], alice.user_id)
    await assert_works(client, retry.json()["access_token"], alice.user_id)


# --- refused refreshes --------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    ["garbage", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.", "x" * 4096],
)
async def test_garbage_refresh_token_is_401(client: httpx.AsyncClient, token: str) -> None:
    await assert_refresh_rejected(client, token)
    header = await client.post(REFRESH, headers={"x-refresh": token})
    assert_problem(header, 401, "invalid_token")


async def test_access_token_as_refresh_token_is_401_and_harmless(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    await assert_refresh_rejected(client, alice.access_token)
    response = await client.post(REFRESH, headers={"x-refresh": alice.access_token})
    assert_problem(response, 401, "invalid_token")
    # Nothing was rotated or revoked.
    await assert_works(client, alice.access_token, alice.user_id)
    assert (await refresh_with_body(client, alice.refresh_token)).status_code == 200


async def test_expired_refresh_token_is_401_and_does_not_revoke(
    app: FastAPI, client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    codec = app.state.container.codec
    claims = claims_of(alice.refresh_token)

    def mint(now: datetime, expires_at: datetime, jti: str) -> str:
        token: str = codec.encode_refresh(
            subject=claims["sub"],
            session_id=claims["sid"],
            jti=jti,
            now=now,
            expires_at=expires_at,
        )
        return token

    now = datetime.now(UTC)
    # Control: minted the same way but still valid, it rotates the session.
    fresh = await refresh_with_body(client, mint(now, now + timedelta(hours=1), claims["jti"]))
    assert fresh.status_code == 200, fresh.text
    current = fresh.json()["refresh_token"]
    current_jti = claims_of(current)["jti"]

    past = now - timedelta(hours=2)
    await assert_refresh_rejected(client, mint(past, past + timedelta(hours=1), current_jti))
    # An expired token is not a replay: the session is still alive.
    again = await refresh_with_body(client, current)
    assert again.status_code == 200, again.text
    await assert_works(client, again.json()["access_token"], alice.user_id)


async def test_missing_refresh_token_is_401(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post(REFRESH), 401, "not_authenticated")
    assert_problem(await client.post(REFRESH, json={}), 401, "not_authenticated")
    assert_problem(
        await client.post(REFRESH, json={"refresh_token": None}), 401, "not_authenticated"
    )


async def test_refresh_after_logout_is_401(client: httpx.AsyncClient, alice: LoggedIn) -> None:
    logout = await client.post(f"{V1}/auth/logout", headers=alice.headers)
    assert logout.status_code == 204, logout.text
    await assert_refresh_rejected(client, alice.refresh_token)
    response = await client.post(REFRESH, headers={"x-refresh": alice.refresh_token})
    assert_problem(response, 401, "invalid_token")


async def test_refresh_for_deactivated_user_is_401(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    root = await login_superuser(client)
    patched = await client.patch(
        f"{V1}/users/{alice.user_id}", json={"is_active": False}, headers=root.headers
    )
    assert patched.status_code == 200, patched.text
    await assert_refresh_rejected(client, alice.refresh_token)
    # Reactivation does not resurrect the old session's refresh token.
    reactivated = await client.patch(
        f"{V1}/users/{alice.user_id}", json={"is_active": True}, headers=root.headers
    )
    assert reactivated.status_code == 200, reactivated.text
    await assert_refresh_rejected(client, alice.refresh_token)


async def test_refresh_token_signed_with_the_access_key_is_401(
    client: httpx.AsyncClient, alice: LoggedIn, key_pems: KeyPems
) -> None:
    """Each token kind has its own key: the access key cannot mint refresh tokens."""
    claims = claims_of(alice.refresh_token)
    refresh_kid = jwt.get_unverified_header(alice.refresh_token)["kid"]
    access_kid = jwt.get_unverified_header(alice.access_token)["kid"]
    for kid in (refresh_kid, access_kid):
        forged = jwt.encode(
            claims,
            key_pems.access_private,
            algorithm="RS256",
            headers={"typ": "rt+jwt", "kid": kid},
        )
        await assert_refresh_rejected(client, forged)
    # Control: the same claims signed with the refresh key rotate the session.
    genuine = jwt.encode(
        claims,
        key_pems.refresh_private,
        algorithm="RS256",
        headers={"typ": "rt+jwt", "kid": refresh_kid},
    )
    assert (await refresh_with_body(client, genuine)).status_code == 200


async def test_expired_refresh_token_with_wrong_audience_is_401(
    app: FastAPI, alice: LoggedIn, key_pems: KeyPems
) -> None:
    claims = claims_of(alice.refresh_token)
    now = int(datetime.now(UTC).timestamp())
    old = {**claims, "aud": "previous-deployment", "iat": now - 120, "exp": now - 60}
    kid = jwt.get_unverified_header(alice.refresh_token)["kid"]
    token = jwt.encode(
        old, key_pems.refresh_private, algorithm="RS256", headers={"typ": "rt+jwt", "kid": kid}
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post(REFRESH, json={"refresh_token": token})
    assert_problem(response, 401, "invalid_token")
