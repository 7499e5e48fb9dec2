"""Logout, logout-all and password change: which sessions end and which survive."""

from typing import Any

import httpx
import jwt
import pytest

from tests.api.helpers import (
    V1,
    LoggedIn,
    assert_problem,
    bearer,
    login,
    register_and_login,
)

ME = f"{V1}/users/me"
LOGOUT = f"{V1}/auth/logout"
LOGOUT_ALL = f"{V1}/auth/logout-all"
PASSWORD = f"{ME}/password"
NEW_PASSWORD = "a-brand-new-passphrase"


def sid_of(token: str) -> str:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    sid: str = claims["sid"]
    return sid


async def assert_session_works(client: httpx.AsyncClient, session: LoggedIn) -> None:
    me = await client.get(ME, headers=session.headers)
    assert me.status_code == 200, me.text
    assert me.json()["id"] == session.user_id


async def assert_session_dead(client: httpx.AsyncClient, session: LoggedIn) -> None:
    """Neither the access token nor the refresh token of the session is accepted."""
    assert_problem(await client.get(ME, headers=session.headers), 401, "invalid_token")
    refresh = await client.post(f"{V1}/auth/refresh", json={"refresh_token": session.refresh_token})
    assert_problem(refresh, 401, "invalid_token")


async def assert_refresh_works(client: httpx.AsyncClient, session: LoggedIn) -> None:
    refresh = await client.post(f"{V1}/auth/refresh", json={"refresh_token": session.refresh_token})
    assert refresh.status_code == 200, refresh.text
    me = await client.get(ME, headers=bearer(refresh.json()["access_token"]))
    assert me.status_code == 200, me.text


async def listed_sessions(client: httpx.AsyncClient, session: LoggedIn) -> set[str]:
    response = await client.get(f"{ME}/sessions", headers=session.headers)
    assert response.status_code == 200, response.text
    return {entry["id"] for entry in response.json()}


async def try_login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(f"{V1}/auth/login", data={"username": email, "password": password})


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> LoggedIn:
    return await register_and_login(client, "alice@example.com")


# --- logout ----------------------------------------------------------------------------


async def test_logout_ends_the_session(client: httpx.AsyncClient, alice: LoggedIn) -> None:
    response = await client.post(LOGOUT, headers=alice.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""
    await assert_session_dead(client, alice)
    # Logging out twice with the same token is refused, not silently accepted.
    assert_problem(await client.post(LOGOUT, headers=alice.headers), 401, "invalid_token")


async def test_logout_keeps_other_sessions_of_the_user(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    phone = await login(client, alice.email)
    laptop = await login(client, alice.email)
    assert (await client.post(LOGOUT, headers=alice.headers)).status_code == 204
    await assert_session_dead(client, alice)
    await assert_session_works(client, phone)
    await assert_session_works(client, laptop)
    assert await listed_sessions(client, phone) == {
        sid_of(phone.access_token),
        sid_of(laptop.access_token),
    }
    await assert_refresh_works(client, phone)


async def test_logout_without_token_is_401(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post(LOGOUT), 401, "not_authenticated")
    assert_problem(await client.post(LOGOUT_ALL), 401, "not_authenticated")


async def test_logout_with_invalid_token_is_401(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post(LOGOUT, headers=bearer("not.a.jwt")), 401, "invalid_token")


# --- logout-all --------------------------------------------------------------------------


async def test_logout_all_ends_every_session_of_the_user(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    phone = await login(client, alice.email)
    laptop = await login(client, alice.email)
    bob = await register_and_login(client, "bob@example.com")

    response = await client.post(LOGOUT_ALL, headers=phone.headers)
    assert response.status_code == 204, response.text

    for session in (alice, phone, laptop):
        await assert_session_dead(client, session)
    # Another user is not affected.
    await assert_session_works(client, bob)
    await assert_refresh_works(client, bob)
    # The account itself still works: a new login starts a fresh, sole session.
    fresh = await login(client, alice.email)
    assert await listed_sessions(client, fresh) == {sid_of(fresh.access_token)}


# --- password change ---------------------------------------------------------------------


async def test_password_change_with_wrong_current_password_changes_nothing(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    other = await login(client, alice.email)
    response = await client.post(
        PASSWORD,
        json={"current_password": "not-my-password", "new_password": NEW_PASSWORD},
        headers=alice.headers,
    )
    assert_problem(response, 400, "incorrect_password")

    await assert_session_works(client, alice)
    await assert_session_works(client, other)
    assert await listed_sessions(client, alice) == {
        sid_of(alice.access_token),
        sid_of(other.access_token),
    }
    assert (await try_login(client, alice.email, alice.password)).status_code == 200
    assert_problem(await try_login(client, alice.email, NEW_PASSWORD), 401, "invalid_credentials")


async def test_password_change_keeps_the_caller_and_revokes_every_other_session(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    phone = await login(client, alice.email)
    laptop = await login(client, alice.email)
    bob = await register_and_login(client, "bob@example.com")

    response = await client.post(
        PASSWORD,
        json={"current_password": alice.password, "new_password": NEW_PASSWORD},
        headers=phone.headers,
    )
    assert response.status_code == 204, response.text

    await assert_session_works(client, phone)
    assert await listed_sessions(client, phone) == {sid_of(phone.access_token)}
    await assert_session_dead(client, alice)
    await assert_session_dead(client, laptop)
    await assert_session_works(client, bob)
    # The caller's refresh token still rotates.
    await assert_refresh_works(client, phone)

    assert_problem(await try_login(client, alice.email, alice.password), 401, "invalid_credentials")
    assert (await try_login(client, alice.email, NEW_PASSWORD)).status_code == 200
    # The change was checked against the new hash: the old password is no longer "current".
    again = await client.post(
        PASSWORD,
        json={"current_password": alice.password, "new_password": "yet-another-passphrase"},
        headers=phone.headers,
    )
    assert_problem(again, 400, "incorrect_password")


async def test_password_change_requires_authentication(client: httpx.AsyncClient) -> None:
    response = await client.post(
        PASSWORD, json={"current_password": "whatever-1", "new_password": NEW_PASSWORD}
    )
    assert_problem(response, 401, "not_authenticated")
