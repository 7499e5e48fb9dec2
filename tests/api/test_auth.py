"""Registration and login over HTTP."""

import asyncio
from datetime import UTC, datetime

import bcrypt
import httpx
from fastapi import FastAPI

from app.models.audit import MAX_USER_AGENT_LENGTH
from tests.api.helpers import V1, assert_problem, bearer, login, register
from tests.conftest import DEFAULT_PASSWORD


async def test_register_returns_user_with_lowercased_email(client: httpx.AsyncClient) -> None:
    body = await register(client, "Alice@Example.COM", full_name="Alice")
    assert body["email"] == "alice@example.com"
    assert body["full_name"] == "Alice"
    assert body["role"] == "user"
    assert body["permissions"] == ["profile:read", "profile:update"]
    assert body["is_active"] is True
    assert body["is_verified"] is False
    assert "hashed_password" not in body
    assert "password" not in body


async def test_register_duplicate_email_ignoring_case_is_409(client: httpx.AsyncClient) -> None:
    await register(client, "bob@example.com")
    response = await client.post(
        f"{V1}/auth/register", json={"email": "BOB@example.com", "password": DEFAULT_PASSWORD}
    )
    assert_problem(response, 409, "email_taken")


async def test_twenty_concurrent_registrations_of_one_email_make_one_account(
    client: httpx.AsyncClient,
) -> None:
    payload = {"email": "race@example.com", "password": DEFAULT_PASSWORD}
    responses = await asyncio.gather(
        *(client.post(f"{V1}/auth/register", json=payload) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "email_taken")


async def test_login_returns_bearer_pair(client: httpx.AsyncClient) -> None:
    await register(client, "carol@example.com")
    response = await client.post(
        f"{V1}/auth/login", data={"username": "Carol@Example.com", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["access_token"]
    assert body["refresh_token"]
    assert response.headers["cache-control"] == "no-store"
    me = await client.get(f"{V1}/users/me", headers=bearer(body["access_token"]))
    assert me.json()["email"] == "carol@example.com"


async def test_login_wrong_password_is_401(client: httpx.AsyncClient) -> None:
    await register(client, "dave@example.com")
    response = await client.post(
        f"{V1}/auth/login", data={"username": "dave@example.com", "password": "wrong-password"}
    )
    assert_problem(response, 401, "invalid_credentials")


async def test_login_unknown_email_is_same_401(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{V1}/auth/login", data={"username": "nobody@example.com", "password": DEFAULT_PASSWORD}
    )
    body = assert_problem(response, 401, "invalid_credentials")
    assert body["detail"] == "Incorrect email or password."


async def test_login_over_long_password_is_401_without_hashing(client: httpx.AsyncClient) -> None:
    await register(client, "erin@example.com")
    response = await client.post(
        f"{V1}/auth/login", data={"username": "erin@example.com", "password": "x" * 129}
    )
    assert_problem(response, 401, "invalid_credentials")


async def test_login_missing_form_fields_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{V1}/auth/login", data={"username": "x@example.com"})
    body = assert_problem(response, 422, "validation_error")
    assert any(error["loc"][-1] == "password" for error in body["errors"])


async def test_login_records_session_client(client: httpx.AsyncClient) -> None:
    await register(client, "frank@example.com")
    session = await login(client, "frank@example.com", headers={"User-Agent": "pytest-agent/1"})
    listed = await client.get(f"{V1}/users/me/sessions", headers=session.headers)
    [entry] = listed.json()
    assert entry["user_agent"] == "pytest-agent/1"
    assert entry["ip_address"] == "203.0.113.7"
    assert entry["current"] is True


async def test_login_keeps_a_bounded_user_agent(client: httpx.AsyncClient) -> None:
    await register(client, "grace@example.com")
    agent = "A" * (MAX_USER_AGENT_LENGTH * 4)
    session = await login(client, "grace@example.com", headers={"User-Agent": agent})
    [entry] = (await client.get(f"{V1}/users/me/sessions", headers=session.headers)).json()
    assert entry["user_agent"] == agent[:MAX_USER_AGENT_LENGTH]


async def test_login_upgrades_a_bcrypt_hash_to_argon2id(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    user = await register(client, "legacy@example.com")
    # Stands for an account imported from a system that hashed with bcrypt.
    repository = app.state.container.storage.users
    legacy_hash = bcrypt.hashpw(DEFAULT_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    await repository.update(user["id"], {"hashed_password": legacy_hash}, datetime.now(UTC))

    await login(client, "legacy@example.com")

    stored = await repository.get_by_id(user["id"])
    assert stored is not None
    assert stored.hashed_password.startswith("$argon2id$")
    await login(client, "legacy@example.com")
