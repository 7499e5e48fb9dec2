"""The caller's own account (/api/v1/users/me) over HTTP: profile and sessions."""

import uuid
from typing import Any

import httpx
import pytest

from tests.api.helpers import V1, LoggedIn, assert_problem, login, register, register_and_login

ME = f"{V1}/users/me"
SESSIONS = f"{ME}/sessions"


async def me(client: httpx.AsyncClient, who: LoggedIn) -> dict[str, Any]:
    response = await client.get(ME, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def sessions_of(client: httpx.AsyncClient, who: LoggedIn) -> list[dict[str, Any]]:
    response = await client.get(SESSIONS, headers=who.headers)
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


def current_id(sessions: list[dict[str, Any]]) -> str:
    [current] = [s["id"] for s in sessions if s["current"]]
    return current


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> LoggedIn:
    return await register_and_login(client, "alice@example.com")


# --- profile -----------------------------------------------------------------------------


async def test_get_me_returns_the_callers_account(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    body = await me(client, alice)
    assert body["id"] == alice.user_id
    assert body["email"] == "alice@example.com"
    assert body["full_name"] is None
    assert body["role"] == "user"
    assert body["permissions"] == ["profile:read", "profile:update"]
    assert body["is_active"] is True
    assert "hashed_password" not in body


async def test_me_without_token_is_401(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(ME), 401, "not_authenticated")
    assert_problem(await client.patch(ME, json={"full_name": "X"}), 401, "not_authenticated")
    assert_problem(await client.get(SESSIONS), 401, "not_authenticated")


async def test_patch_me_updates_full_name(client: httpx.AsyncClient, alice: LoggedIn) -> None:
    before = await me(client, alice)

    response = await client.patch(
        ME, json={"full_name": "  Alice Liddell  "}, headers=alice.headers
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["full_name"] == "Alice Liddell"
    assert body["updated_at"] >= before["updated_at"]
    assert body["created_at"] == before["created_at"]
    assert (await me(client, alice))["full_name"] == "Alice Liddell"


async def test_patch_me_null_clears_full_name(client: httpx.AsyncClient) -> None:
    await register(client, "named@example.com", full_name="Named")
    named = await login(client, "named@example.com")

    response = await client.patch(ME, json={"full_name": None}, headers=named.headers)

    assert response.status_code == 200, response.text
    assert response.json()["full_name"] is None
    assert (await me(client, named))["full_name"] is None


async def test_patch_me_accepts_200_characters(client: httpx.AsyncClient, alice: LoggedIn) -> None:
    response = await client.patch(ME, json={"full_name": "x" * 200}, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["full_name"] == "x" * 200


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"full_name": "Alice", "role": "admin"}, id="unknown-role-field"),
        pytest.param({"full_name": "Alice", "email": "new@example.com"}, id="unknown-email-field"),
        pytest.param({"full_name": "Alice", "is_active": False}, id="unknown-is_active-field"),
        pytest.param({"full_name": ""}, id="empty-string"),
        pytest.param({"full_name": "   "}, id="whitespace-only"),
        pytest.param({"full_name": "x" * 201}, id="too-long"),
        pytest.param({"full_name": 42}, id="not-a-string"),
    ],
)
async def test_patch_me_invalid_body_is_422_and_changes_nothing(
    client: httpx.AsyncClient, alice: LoggedIn, payload: dict[str, Any]
) -> None:
    before = await me(client, alice)

    response = await client.patch(ME, json=payload, headers=alice.headers)

    assert_problem(response, 422, "validation_error")
    assert await me(client, alice) == before


# --- sessions ----------------------------------------------------------------------------


async def test_sessions_list_marks_the_callers_session_as_current(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "multi@example.com")
    laptop = await login(client, "multi@example.com", headers={"User-Agent": "laptop/1"})
    phone = await login(client, "multi@example.com", headers={"User-Agent": "phone/1"})

    seen_by_laptop = await sessions_of(client, laptop)
    seen_by_phone = await sessions_of(client, phone)

    assert len(seen_by_laptop) == 2
    assert {s["id"] for s in seen_by_laptop} == {s["id"] for s in seen_by_phone}
    laptop_session, phone_session = current_id(seen_by_laptop), current_id(seen_by_phone)
    assert laptop_session != phone_session
    agents = {s["id"]: s["user_agent"] for s in seen_by_laptop}
    assert agents == {laptop_session: "laptop/1", phone_session: "phone/1"}
    # Newest first.
    assert [s["id"] for s in seen_by_laptop] == [phone_session, laptop_session]
    for session in seen_by_laptop:
        assert session["ip_address"] == "203.0.113.7"
        assert session["expires_at"] > session["created_at"]


async def test_sessions_list_is_only_the_callers(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    bob = await register_and_login(client, "bob@example.com")
    alice_ids = {s["id"] for s in await sessions_of(client, alice)}
    bob_ids = {s["id"] for s in await sessions_of(client, bob)}
    assert len(alice_ids) == 1
    assert len(bob_ids) == 1
    assert alice_ids.isdisjoint(bob_ids)


async def test_delete_own_other_session_ends_only_that_session(
    client: httpx.AsyncClient,
) -> None:
    await register(client, "twice@example.com")
    first = await login(client, "twice@example.com")
    second = await login(client, "twice@example.com")
    second_id = current_id(await sessions_of(client, second))

    response = await client.delete(f"{SESSIONS}/{second_id}", headers=first.headers)

    assert response.status_code == 204
    assert response.content == b""
    assert_problem(await client.get(ME, headers=second.headers), 401, "invalid_token")
    remaining = await sessions_of(client, first)
    assert [(s["id"], s["current"]) for s in remaining] == [(current_id(remaining), True)]
    assert second_id not in {s["id"] for s in remaining}
    refreshed = await client.post(
        f"{V1}/auth/refresh", json={"refresh_token": second.refresh_token}
    )
    assert_problem(refreshed, 401, "invalid_token")
    again = await client.delete(f"{SESSIONS}/{second_id}", headers=first.headers)
    assert_problem(again, 404, "not_found")


async def test_delete_own_current_session_logs_out(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    own_id = current_id(await sessions_of(client, alice))

    response = await client.delete(f"{SESSIONS}/{own_id}", headers=alice.headers)

    assert response.status_code == 204
    assert_problem(await client.get(ME, headers=alice.headers), 401, "invalid_token")


async def test_delete_someone_elses_session_is_404_and_leaves_it_alone(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    bob = await register_and_login(client, "bob@example.com")
    bob_sessions = await sessions_of(client, bob)
    bob_session_id = current_id(bob_sessions)

    response = await client.delete(f"{SESSIONS}/{bob_session_id}", headers=alice.headers)

    assert_problem(response, 404, "not_found")
    assert (await me(client, bob))["id"] == bob.user_id
    assert await sessions_of(client, bob) == bob_sessions
    # Alice's own session is untouched too.
    assert (await me(client, alice))["id"] == alice.user_id


async def test_delete_unknown_session_is_404(client: httpx.AsyncClient, alice: LoggedIn) -> None:
    response = await client.delete(f"{SESSIONS}/{uuid.uuid4()}", headers=alice.headers)
    assert_problem(response, 404, "not_found")
    assert len(await sessions_of(client, alice)) == 1


async def test_delete_session_with_non_uuid_id_is_422(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    response = await client.delete(f"{SESSIONS}/not-a-uuid", headers=alice.headers)
    body = assert_problem(response, 422, "validation_error")
    assert any(error["loc"][-1] == "session_id" for error in body["errors"])
    assert len(await sessions_of(client, alice)) == 1


async def test_delete_session_without_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.delete(f"{SESSIONS}/{uuid.uuid4()}")
    assert_problem(response, 401, "not_authenticated")
