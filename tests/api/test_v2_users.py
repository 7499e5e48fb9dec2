"""The v2 users API over HTTP: the grouped representation and keyset pagination."""

import base64
import json
from typing import Any

import httpx
import pytest

from tests.api.helpers import (
    V1,
    V2,
    LoggedIn,
    assert_problem,
    create_user_as,
    login,
    login_superuser,
    register,
    register_and_login,
)
from tests.conftest import DEFAULT_PASSWORD, SUPERUSER_EMAIL

USERS_V2 = f"{V2}/users"
ME_V2 = f"{USERS_V2}/me"
V2_KEYS = {
    "id",
    "email",
    "display_name",
    "status",
    "access",
    "created_at",
    "updated_at",
    "links",
}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def fetch_page(client: httpx.AsyncClient, actor: LoggedIn, **params: Any) -> dict[str, Any]:
    response = await client.get(USERS_V2, params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"items", "next_cursor"}
    return body


async def walk(
    client: httpx.AsyncClient, actor: LoggedIn, limit: int, **filters: Any
) -> list[list[dict[str, Any]]]:
    """Every page of a keyset walk, following ``next_cursor`` until it is null."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        params = {"limit": limit, **filters}
        if cursor is not None:
            params["cursor"] = cursor
        body = await fetch_page(client, actor, **params)
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "the walk does not terminate"


def ids_of(pages: list[list[dict[str, Any]]]) -> list[str]:
    return [item["id"] for page in pages for item in page]


async def all_ids_v1(client: httpx.AsyncClient, actor: LoggedIn, **filters: Any) -> set[str]:
    response = await client.get(
        f"{V1}/users", params={"limit": 100, **filters}, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


@pytest.fixture
async def root(client: httpx.AsyncClient) -> LoggedIn:
    return await login_superuser(client)


# --- /api/v2/users/me --------------------------------------------------------------------


async def test_v2_me_groups_fields_differently_from_v1(client: httpx.AsyncClient) -> None:
    await register(client, "grouped@example.com", full_name="Grouped Person")
    who = await login(client, "grouped@example.com")
    v1 = (await client.get(f"{V1}/users/me", headers=who.headers)).json()

    response = await client.get(ME_V2, headers=who.headers)

    assert response.status_code == 200, response.text
    v2 = response.json()
    assert set(v2) == V2_KEYS
    assert {"full_name", "role", "permissions", "is_active", "is_verified"}.isdisjoint(v2)
    assert v2["id"] == v1["id"] == who.user_id
    assert v2["email"] == v1["email"] == "grouped@example.com"
    assert v2["display_name"] == v1["full_name"] == "Grouped Person"
    assert v2["status"] == {"active": True, "email_verified": False}
    assert v2["access"] == {"role": "user", "permissions": ["profile:read", "profile:update"]}
    assert v2["created_at"] == v1["created_at"]
    assert v2["updated_at"] == v1["updated_at"]
    assert v2["links"] == {"self": f"{USERS_V2}/{who.user_id}"}


async def test_v2_self_link_resolves_to_the_same_user(
    client: httpx.AsyncClient, root: LoggedIn
) -> None:
    me = (await client.get(ME_V2, headers=root.headers)).json()

    response = await client.get(me["links"]["self"], headers=root.headers)

    assert response.status_code == 200, response.text
    assert response.json()["id"] == me["id"]


async def test_v2_me_of_the_superadmin(client: httpx.AsyncClient, root: LoggedIn) -> None:
    response = await client.get(ME_V2, headers=root.headers)
    body = response.json()
    assert body["email"] == SUPERUSER_EMAIL
    assert body["display_name"] is None
    assert body["status"] == {"active": True, "email_verified": True}
    assert body["access"] == {"role": "superadmin", "permissions": ["root:admin"]}


async def test_v2_me_without_token_is_401(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(ME_V2), 401, "not_authenticated")


# --- keyset listing ----------------------------------------------------------------------


async def test_keyset_walk_visits_every_user_exactly_once(
    client: httpx.AsyncClient, root: LoggedIn
) -> None:
    for n in range(7):
        await create_user_as(client, root, f"walker{n}@example.com")
    expected = await all_ids_v1(client, root)
    assert len(expected) == 8

    pages = await walk(client, root, limit=2)

    assert [len(page) for page in pages] == [2, 2, 2, 2]
    seen = ids_of(pages)
    assert len(seen) == len(set(seen))
    assert set(seen) == expected
    assert seen == sorted(seen)
    for item in (item for page in pages for item in page):
        assert set(item) == V2_KEYS
        assert item["links"] == {"self": f"{USERS_V2}/{item['id']}"}


async def test_keyset_last_partial_page_has_null_cursor(
    client: httpx.AsyncClient, root: LoggedIn
) -> None:
    for n in range(2):
        await create_user_as(client, root, f"odd{n}@example.com")

    pages = await walk(client, root, limit=2)

    assert [len(page) for page in pages] == [2, 1]
    single = await fetch_page(client, root, limit=100)
    assert len(single["items"]) == 3
    assert single["next_cursor"] is None


async def test_keyset_walk_is_stable_while_users_are_inserted(
    client: httpx.AsyncClient, root: LoggedIn
) -> None:
    for n in range(5):
        await create_user_as(client, root, f"early{n}@example.com")
    existing = await all_ids_v1(client, root)
    first = await fetch_page(client, root, limit=2)
    assert first["next_cursor"] is not None

    late = [(await create_user_as(client, root, f"late{n}@example.com"))["id"] for n in range(3)]

    rest = await walk_from(client, root, first["next_cursor"], limit=2)
    seen = [item["id"] for item in first["items"]] + ids_of(rest)
    assert len(seen) == len(set(seen)), "a user was returned twice"
    assert existing <= set(seen), "a pre-existing user was skipped"
    # Time-ordered ids: users inserted mid-walk arrive at the end, after everyone else.
    assert seen[-3:] == late


async def test_keyset_walk_survives_deletion_of_the_cursor_user(
    client: httpx.AsyncClient, root: LoggedIn
) -> None:
    for n in range(4):
        await create_user_as(client, root, f"gone{n}@example.com")
    first = await fetch_page(client, root, limit=2)
    cursor_user = first["items"][-1]["id"]
    remaining_before = await all_ids_v1(client, root) - {i["id"] for i in first["items"]}
    deleted = await client.delete(f"{V1}/users/{cursor_user}", headers=root.headers)
    assert deleted.status_code == 204

    rest = await walk_from(client, root, first["next_cursor"], limit=2)

    assert ids_of(rest) == sorted(remaining_before)


async def walk_from(
    client: httpx.AsyncClient, actor: LoggedIn, cursor: str, limit: int, **filters: Any
) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    next_cursor: str | None = cursor
    while next_cursor is not None:
        body = await fetch_page(client, actor, limit=limit, cursor=next_cursor, **filters)
        pages.append(body["items"])
        next_cursor = body["next_cursor"]
        assert len(pages) < 50, "the walk does not terminate"
    return pages


async def test_keyset_walk_honours_filters(client: httpx.AsyncClient, root: LoggedIn) -> None:
    users = [await create_user_as(client, root, f"kf-user{n}@example.com") for n in range(3)]
    admins = [
        await create_user_as(client, root, f"kf-admin{n}@example.com", role="admin")
        for n in range(2)
    ]
    off = await client.patch(
        f"{V1}/users/{users[0]['id']}", json={"is_active": False}, headers=root.headers
    )
    assert off.status_code == 200

    by_role = ids_of(await walk(client, root, limit=1, role="admin"))
    assert by_role == [a["id"] for a in admins]
    by_prefix = ids_of(await walk(client, root, limit=2, q="KF-USER"))
    assert by_prefix == [u["id"] for u in users]
    active_users = ids_of(await walk(client, root, limit=1, role="user", is_active="true"))
    assert active_users == [u["id"] for u in users[1:]]
    inactive = ids_of(await walk(client, root, limit=2, is_active="false"))
    assert inactive == [users[0]["id"]]
    nobody = await fetch_page(client, root, q="nobody")
    assert nobody == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("not base64 !!", id="garbage"),
        pytest.param("é", id="non-ascii"),
        pytest.param(b64(b"\xff\xfe\xfd"), id="not-utf8"),
        pytest.param(b64(b"not json"), id="not-json"),
        pytest.param(b64(b"[]"), id="json-list"),
        pytest.param(b64(b'{"before": "x"}'), id="no-after"),
        pytest.param(b64(b'{"after": 5}'), id="after-not-string"),
        pytest.param(b64(b'{"after": ""}'), id="after-empty"),
        pytest.param(b64(json.dumps({"after": "x" * 65}).encode()), id="after-too-long"),
    ],
)
async def test_invalid_cursor_is_400(
    client: httpx.AsyncClient, root: LoggedIn, cursor: str
) -> None:
    response = await client.get(USERS_V2, params={"cursor": cursor}, headers=root.headers)
    assert_problem(response, 400, "invalid_cursor")


async def test_over_long_cursor_is_422(client: httpx.AsyncClient, root: LoggedIn) -> None:
    response = await client.get(USERS_V2, params={"cursor": "a" * 513}, headers=root.headers)
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("limit", [0, 101])
async def test_v2_limit_out_of_range_is_422(
    client: httpx.AsyncClient, root: LoggedIn, limit: int
) -> None:
    response = await client.get(USERS_V2, params={"limit": limit}, headers=root.headers)
    assert_problem(response, 422, "validation_error")


async def test_v2_list_denied_to_plain_user(client: httpx.AsyncClient) -> None:
    plain = await register_and_login(client, "plain@example.com")
    response = await client.get(USERS_V2, headers=plain.headers)
    assert_problem(response, 403, "permission_denied")


async def test_v2_list_without_token_is_401(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(USERS_V2), 401, "not_authenticated")


async def test_v2_list_allowed_to_admin(client: httpx.AsyncClient, root: LoggedIn) -> None:
    await create_user_as(client, root, "v2admin@example.com", role="admin")
    admin = await login(client, "v2admin@example.com", DEFAULT_PASSWORD)
    body = await fetch_page(client, admin)
    assert {item["email"] for item in body["items"]} == {SUPERUSER_EMAIL, "v2admin@example.com"}
