"""The admin user API (/api/v1/users) over HTTP: permissions, privileged accounts, listing."""

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.api.helpers import (
    V1,
    LoggedIn,
    assert_problem,
    bearer,
    create_user_as,
    login,
    login_superuser,
    register_and_login,
)
from tests.backends import interleave_mongodb_fake
from tests.conftest import DEFAULT_PASSWORD, SUPERUSER_EMAIL

USERS = f"{V1}/users"
USER_PERMISSIONS = ["profile:read", "profile:update"]
ADMIN_PERMISSIONS = [
    "profile:read",
    "profile:update",
    "user:create",
    "user:delete",
    "user:read",
    "user:update",
]
ROOT_PERMISSIONS = ["root:admin"]


def user_url(user_id: str, suffix: str = "") -> str:
    return f"{USERS}/{user_id}{suffix}"


async def get_user(client: httpx.AsyncClient, actor: LoggedIn, user_id: str) -> dict[str, Any]:
    response = await client.get(user_url(user_id), headers=actor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def list_users(client: httpx.AsyncClient, actor: LoggedIn, **params: Any) -> dict[str, Any]:
    response = await client.get(USERS, params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def emails_matching(client: httpx.AsyncClient, actor: LoggedIn, **params: Any) -> set[str]:
    body = await list_users(client, actor, limit=100, **params)
    assert body["total"] == len(body["items"])
    return {item["email"] for item in body["items"]}


async def assert_token_works(client: httpx.AsyncClient, who: LoggedIn) -> None:
    response = await client.get(f"{V1}/users/me", headers=who.headers)
    assert response.status_code == 200, response.text


async def assert_token_revoked(client: httpx.AsyncClient, who: LoggedIn) -> None:
    response = await client.get(f"{V1}/users/me", headers=who.headers)
    assert_problem(response, 401, "invalid_token")


async def create_and_login(
    client: httpx.AsyncClient, actor: LoggedIn, email: str, role: str = "user"
) -> LoggedIn:
    await create_user_as(client, actor, email, role=role)
    return await login(client, email)


@pytest.fixture
async def root(client: httpx.AsyncClient) -> LoggedIn:
    return await login_superuser(client)


@pytest.fixture
async def admin(client: httpx.AsyncClient, root: LoggedIn) -> LoggedIn:
    return await create_and_login(client, root, "admin@example.com", role="admin")


# --- authentication and permission gates -------------------------------------------------

NEW_USER_BODY = {"email": "created@example.com", "password": DEFAULT_PASSWORD, "role": "user"}

ADMIN_ROUTES = [
    pytest.param("GET", "", None, id="list"),
    pytest.param("POST", "", NEW_USER_BODY, id="create"),
    pytest.param("GET", "/{id}", None, id="get"),
    pytest.param("PATCH", "/{id}", {"full_name": "Renamed"}, id="patch"),
    pytest.param("DELETE", "/{id}", None, id="delete"),
    pytest.param("GET", "/{id}/sessions", None, id="get-sessions"),
    pytest.param("DELETE", "/{id}/sessions", None, id="delete-sessions"),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_admin_route_without_token_is_401(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    url = USERS + path.format(id=uuid.uuid4())
    response = await client.request(method, url, json=body)
    assert_problem(response, 401, "not_authenticated")


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_admin_route_with_garbage_token_is_401(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    url = USERS + path.format(id=uuid.uuid4())
    response = await client.request(method, url, json=body, headers=bearer("not.a.jwt"))
    assert_problem(response, 401, "invalid_token")


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_plain_user_is_denied_every_admin_route(
    client: httpx.AsyncClient,
    root: LoggedIn,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    plain = await register_and_login(client, "plain@example.com")
    victim = await create_and_login(client, root, "victim@example.com")
    before = await get_user(client, root, victim.user_id)

    response = await client.request(
        method, USERS + path.format(id=victim.user_id), json=body, headers=plain.headers
    )

    assert_problem(response, 403, "permission_denied")
    assert await get_user(client, root, victim.user_id) == before
    await assert_token_works(client, victim)
    assert await emails_matching(client, root, q="created@") == set()


# --- what an admin may do to plain users ------------------------------------------------


async def test_admin_can_list_create_get_patch_and_delete_plain_users(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    created = await client.post(
        USERS,
        json={
            "email": "New.Person@Example.com",
            "password": DEFAULT_PASSWORD,
            "full_name": "New Person",
            "role": "user",
        },
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    person = created.json()
    assert person["email"] == "new.person@example.com"
    assert person["full_name"] == "New Person"
    assert person["role"] == "user"
    assert person["permissions"] == USER_PERMISSIONS
    assert person["is_active"] is True
    assert person["is_verified"] is False
    assert "password" not in person
    assert "hashed_password" not in person

    listed = await list_users(client, admin)
    assert person["id"] in {item["id"] for item in listed["items"]}

    assert await get_user(client, admin, person["id"]) == person

    patched = await client.patch(
        user_url(person["id"]),
        json={"full_name": "Renamed Person", "is_verified": True},
        headers=admin.headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["full_name"] == "Renamed Person"
    assert patched.json()["is_verified"] is True
    assert patched.json()["role"] == "user"
    assert (await get_user(client, admin, person["id"]))["full_name"] == "Renamed Person"

    deleted = await client.delete(user_url(person["id"]), headers=admin.headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    gone = await client.get(user_url(person["id"]), headers=admin.headers)
    assert_problem(gone, 404, "not_found")


async def test_user_created_by_admin_can_log_in_with_the_given_password(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    await create_user_as(client, admin, "fresh@example.com", password="a-chosen-password")
    fresh = await login(client, "fresh@example.com", "a-chosen-password")
    me = await client.get(f"{V1}/users/me", headers=fresh.headers)
    assert me.json()["role"] == "user"
    assert me.json()["is_verified"] is True


async def test_admin_can_list_and_end_a_plain_users_sessions(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    await create_user_as(client, admin, "two-devices@example.com")
    laptop = await login(client, "two-devices@example.com")
    phone = await login(client, "two-devices@example.com")

    listed = await client.get(user_url(laptop.user_id, "/sessions"), headers=admin.headers)
    assert listed.status_code == 200, listed.text
    sessions = listed.json()
    assert len(sessions) == 2
    # `current` is relative to the caller, and none of these is the admin's session.
    assert [s["current"] for s in sessions] == [False, False]

    ended = await client.delete(user_url(laptop.user_id, "/sessions"), headers=admin.headers)
    assert ended.status_code == 204
    await assert_token_revoked(client, laptop)
    await assert_token_revoked(client, phone)
    after = await client.get(user_url(laptop.user_id, "/sessions"), headers=admin.headers)
    assert after.json() == []
    await assert_token_works(client, admin)


# --- privileged accounts are out of an admin's reach -------------------------------------


@pytest.mark.parametrize("role", ["admin", "superadmin"])
async def test_admin_cannot_create_privileged_users(
    client: httpx.AsyncClient, root: LoggedIn, admin: LoggedIn, role: str
) -> None:
    response = await client.post(
        USERS,
        json={"email": "escalated@example.com", "password": DEFAULT_PASSWORD, "role": role},
        headers=admin.headers,
    )
    assert_problem(response, 403, "permission_denied")
    assert await emails_matching(client, root, q="escalated@") == set()


@pytest.mark.parametrize("role", ["admin", "superadmin"])
async def test_admin_cannot_promote_a_user(
    client: httpx.AsyncClient, root: LoggedIn, admin: LoggedIn, role: str
) -> None:
    target = await create_and_login(client, root, "climber@example.com")
    before = await get_user(client, root, target.user_id)

    response = await client.patch(
        user_url(target.user_id), json={"role": role, "full_name": "X"}, headers=admin.headers
    )

    assert_problem(response, 403, "permission_denied")
    assert await get_user(client, root, target.user_id) == before
    denied = await client.get(USERS, headers=target.headers)
    assert_problem(denied, 403, "permission_denied")


PRIVILEGED_OPERATIONS = [
    pytest.param("PATCH", "", {"full_name": "Renamed"}, id="rename"),
    pytest.param("PATCH", "", {"is_active": False}, id="deactivate"),
    pytest.param("PATCH", "", {"role": "user"}, id="demote"),
    pytest.param("DELETE", "", None, id="delete"),
    pytest.param("GET", "/sessions", None, id="list-sessions"),
    pytest.param("DELETE", "/sessions", None, id="end-sessions"),
]


@pytest.mark.parametrize("target_role", ["superadmin", "admin"])
@pytest.mark.parametrize(("method", "suffix", "body"), PRIVILEGED_OPERATIONS)
async def test_admin_cannot_manage_privileged_users(
    client: httpx.AsyncClient,
    root: LoggedIn,
    admin: LoggedIn,
    target_role: str,
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
) -> None:
    if target_role == "superadmin":
        target = root
    else:
        target = await create_and_login(client, root, "other-admin@example.com", role="admin")
    before = await get_user(client, root, target.user_id)
    sessions_before = await client.get(user_url(target.user_id, "/sessions"), headers=root.headers)

    response = await client.request(
        method, user_url(target.user_id, suffix), json=body, headers=admin.headers
    )

    assert_problem(response, 403, "permission_denied")
    assert await get_user(client, root, target.user_id) == before
    sessions_after = await client.get(user_url(target.user_id, "/sessions"), headers=root.headers)
    assert sessions_after.json() == sessions_before.json()
    await assert_token_works(client, target)


async def test_admin_can_read_the_superadmin(
    client: httpx.AsyncClient, root: LoggedIn, admin: LoggedIn
) -> None:
    body = await get_user(client, admin, root.user_id)
    assert body["email"] == SUPERUSER_EMAIL
    assert body["role"] == "superadmin"
    assert body["permissions"] == ROOT_PERMISSIONS


async def test_admin_cannot_manage_themselves_through_the_admin_api(
    client: httpx.AsyncClient, root: LoggedIn, admin: LoggedIn
) -> None:
    before = await get_user(client, root, admin.user_id)
    for method, body in (("PATCH", {"is_active": False}), ("PATCH", {"role": "user"})):
        response = await client.request(
            method, user_url(admin.user_id), json=body, headers=admin.headers
        )
        # Either rule refuses it: admins are privileged, and the target is the caller.
        assert response.status_code in (403, 409), response.text
    response = await client.delete(user_url(admin.user_id), headers=admin.headers)
    assert response.status_code in (403, 409), response.text
    assert await get_user(client, root, admin.user_id) == before
    await assert_token_works(client, admin)


# --- the superadmin manages roles --------------------------------------------------------


async def test_superadmin_can_create_admins_and_superadmins(
    client: httpx.AsyncClient, root: LoggedIn
) -> None:
    new_admin = await create_user_as(client, root, "made-admin@example.com", role="admin")
    assert new_admin["role"] == "admin"
    assert new_admin["permissions"] == ADMIN_PERMISSIONS
    new_root = await create_user_as(client, root, "made-root@example.com", role="superadmin")
    assert new_root["role"] == "superadmin"
    assert new_root["permissions"] == ROOT_PERMISSIONS

    second_root = await login(client, "made-root@example.com")
    # The new superadmin has root:admin: it may create an admin itself.
    await create_user_as(client, second_root, "admin-by-second-root@example.com", role="admin")


async def test_promotion_takes_effect_on_the_next_request_with_the_same_token(
    client: httpx.AsyncClient, root: LoggedIn
) -> None:
    target = await create_and_login(client, root, "rising@example.com")
    assert_problem(await client.get(USERS, headers=target.headers), 403, "permission_denied")

    promoted = await client.patch(
        user_url(target.user_id), json={"role": "admin"}, headers=root.headers
    )

    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["role"] == "admin"
    assert promoted.json()["permissions"] == ADMIN_PERMISSIONS
    listed = await client.get(USERS, headers=target.headers)
    assert listed.status_code == 200, listed.text
    me = await client.get(f"{V1}/users/me", headers=target.headers)
    assert me.json()["permissions"] == ADMIN_PERMISSIONS


async def test_demotion_takes_effect_on_the_next_request_with_the_same_token(
    client: httpx.AsyncClient, root: LoggedIn, admin: LoggedIn
) -> None:
    assert (await client.get(USERS, headers=admin.headers)).status_code == 200

    demoted = await client.patch(
        user_url(admin.user_id), json={"role": "user"}, headers=root.headers
    )

    assert demoted.status_code == 200, demoted.text
    assert demoted.json()["role"] == "user"
    assert demoted.json()["permissions"] == USER_PERMISSIONS
    assert_problem(await client.get(USERS, headers=admin.headers), 403, "permission_denied")
    create = await client.post(USERS, json=NEW_USER_BODY, headers=admin.headers)
    assert_problem(create, 403, "permission_denied")
    # Demotion does not end the session: the account still works as a plain user.
    await assert_token_works(client, admin)


async def test_superadmin_can_demote_another_superadmin(
    client: httpx.AsyncClient, root: LoggedIn
) -> None:
    other = await create_and_login(client, root, "second-root@example.com", role="superadmin")
    assert (await client.get(USERS, headers=other.headers)).status_code == 200

    demoted = await client.patch(
        user_url(other.user_id), json={"role": "admin"}, headers=root.headers
    )

    assert demoted.status_code == 200, demoted.text
    assert demoted.json()["permissions"] == ADMIN_PERMISSIONS
    # As an admin it can no longer touch the superadmin.
    response = await client.patch(
        user_url(root.user_id), json={"full_name": "Nope"}, headers=other.headers
    )
    assert_problem(response, 403, "permission_denied")


# --- deactivation and deletion -----------------------------------------------------------


async def test_deactivation_ends_sessions_and_blocks_login(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    target = await create_and_login(client, admin, "leaving@example.com")
    await assert_token_works(client, target)

    response = await client.patch(
        user_url(target.user_id), json={"is_active": False}, headers=admin.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is False
    await assert_token_revoked(client, target)
    sessions = await client.get(user_url(target.user_id, "/sessions"), headers=admin.headers)
    assert sessions.json() == []
    relogin = await client.post(
        f"{V1}/auth/login", data={"username": target.email, "password": DEFAULT_PASSWORD}
    )
    assert_problem(relogin, 403, "account_disabled")
    refresh = await client.post(f"{V1}/auth/refresh", json={"refresh_token": target.refresh_token})
    assert_problem(refresh, 401, "invalid_token")


async def test_reactivation_allows_login_but_old_tokens_stay_revoked(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    target = await create_and_login(client, admin, "returning@example.com")
    off = await client.patch(
        user_url(target.user_id), json={"is_active": False}, headers=admin.headers
    )
    assert off.status_code == 200

    on = await client.patch(
        user_url(target.user_id), json={"is_active": True}, headers=admin.headers
    )

    assert on.status_code == 200, on.text
    assert on.json()["is_active"] is True
    await assert_token_revoked(client, target)
    again = await login(client, target.email)
    await assert_token_works(client, again)


async def test_superadmin_deactivating_an_admin_ends_its_sessions(
    client: httpx.AsyncClient, root: LoggedIn, admin: LoggedIn
) -> None:
    response = await client.patch(
        user_url(admin.user_id), json={"is_active": False}, headers=root.headers
    )
    assert response.status_code == 200, response.text
    await assert_token_revoked(client, admin)
    assert_problem(await client.get(USERS, headers=admin.headers), 401, "invalid_token")


async def test_delete_removes_the_user_and_ends_their_sessions(
    client: httpx.AsyncClient, root: LoggedIn, admin: LoggedIn
) -> None:
    target = await create_and_login(client, admin, "doomed@example.com")

    response = await client.delete(user_url(target.user_id), headers=admin.headers)

    assert response.status_code == 204
    assert_problem(await client.get(user_url(target.user_id), headers=admin.headers), 404)
    await assert_token_revoked(client, target)
    relogin = await client.post(
        f"{V1}/auth/login", data={"username": target.email, "password": DEFAULT_PASSWORD}
    )
    assert_problem(relogin, 401, "invalid_credentials")
    assert await emails_matching(client, root, q="doomed@") == set()
    again = await client.delete(user_url(target.user_id), headers=admin.headers)
    assert_problem(again, 404, "not_found")


async def test_deleted_email_can_be_registered_again(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    old = await create_user_as(client, admin, "recycled@example.com")
    assert (await client.delete(user_url(old["id"]), headers=admin.headers)).status_code == 204
    new = await create_user_as(client, admin, "recycled@example.com")
    assert new["id"] != old["id"]


# --- self-management ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "body"),
    [
        pytest.param("PATCH", {"is_active": False}, id="disable"),
        pytest.param("PATCH", {"role": "admin"}, id="demote-to-admin"),
        pytest.param("PATCH", {"role": "user"}, id="demote-to-user"),
        pytest.param("PATCH", {"full_name": "Root", "is_active": False}, id="disable-with-rename"),
        pytest.param("DELETE", None, id="delete"),
    ],
)
async def test_superadmin_cannot_disable_demote_or_delete_itself(
    client: httpx.AsyncClient, root: LoggedIn, method: str, body: dict[str, Any] | None
) -> None:
    before = await get_user(client, root, root.user_id)

    response = await client.request(method, user_url(root.user_id), json=body, headers=root.headers)

    assert_problem(response, 409, "self_management_forbidden")
    assert await get_user(client, root, root.user_id) == before
    await assert_token_works(client, root)


async def test_superadmin_may_rename_itself_and_repeat_its_own_state(
    client: httpx.AsyncClient, root: LoggedIn
) -> None:
    response = await client.patch(
        user_url(root.user_id),
        json={"full_name": "The Root", "is_active": True, "role": "superadmin"},
        headers=root.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["full_name"] == "The Root"
    assert response.json()["role"] == "superadmin"


# --- the last active superadmin ----------------------------------------------------------

SUPERADMIN_RACE_ROUNDS = 8
# The request that removes another superadmin, by how.
REMOVAL_REQUESTS: dict[str, tuple[str, dict[str, Any] | None]] = {
    "demote": ("PATCH", {"role": "admin"}),
    "deactivate": ("PATCH", {"is_active": False}),
    "delete": ("DELETE", None),
}
# How the loser of a race is refused: by the guard when both requests got that far, or,
# once the winner's change has committed, because it is no longer a superadmin (403) or
# no longer logged in (401).
LOSING_PROBLEMS = {(409, "last_superadmin"), (403, "permission_denied"), (401, "invalid_token")}


async def active_superadmin_ids(client: httpx.AsyncClient, actor: LoggedIn) -> list[str]:
    body = await list_users(client, actor, role="superadmin", is_active="true", limit=100)
    return [item["id"] for item in body["items"]]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("demote", "demote", id="demote-vs-demote"),
        pytest.param("deactivate", "deactivate", id="deactivate-vs-deactivate"),
        pytest.param("delete", "delete", id="delete-vs-delete"),
        pytest.param("demote", "delete", id="demote-vs-delete"),
        pytest.param("deactivate", "demote", id="deactivate-vs-demote"),
    ],
)
async def test_two_superadmins_removing_each_other_at_once_leave_exactly_one(
    client: httpx.AsyncClient, root: LoggedIn, first: str, second: str
) -> None:
    async def remove(actor: LoggedIn, target: LoggedIn, how: str) -> httpx.Response:
        method, body = REMOVAL_REQUESTS[how]
        return await client.request(
            method, user_url(target.user_id), json=body, headers=actor.headers
        )

    interleave_mongodb_fake()
    survivor = root
    guarded_rounds = 0
    for round_number in range(SUPERADMIN_RACE_ROUNDS):
        other = await create_and_login(
            client, survivor, f"root-{round_number}@example.com", role="superadmin"
        )
        pair = (survivor, other)

        responses = await asyncio.gather(
            remove(survivor, other, first), remove(other, survivor, second)
        )

        succeeded = [r.is_success for r in responses]
        assert succeeded.count(True) == 1, (round_number, [r.text for r in responses])
        loser = responses[succeeded.index(False)]
        assert (loser.status_code, loser.json()["code"]) in LOSING_PROBLEMS, loser.text
        if loser.status_code == 409:
            guarded_rounds += 1
            body = assert_problem(loser, 409, "last_superadmin")
            assert "last active superadmin" in body["detail"]
        survivor = pair[succeeded.index(True)]
        assert await active_superadmin_ids(client, survivor) == [survivor.user_id]

    # Otherwise the requests never overlapped, and the rounds proved nothing.
    assert guarded_rounds > 0


# --- listing -----------------------------------------------------------------------------


async def test_list_filters_by_role_state_and_email_prefix(
    client: httpx.AsyncClient, root: LoggedIn
) -> None:
    await create_user_as(client, root, "lst-a1@example.com")
    unverified = await client.post(
        USERS,
        json={"email": "lst-a2@example.com", "password": DEFAULT_PASSWORD, "role": "user"},
        headers=root.headers,
    )
    assert unverified.status_code == 201
    await create_user_as(client, root, "lst-b1@example.com", role="admin")
    disabled = await create_user_as(client, root, "lst-b2@example.com")
    off = await client.patch(
        user_url(disabled["id"]), json={"is_active": False}, headers=root.headers
    )
    assert off.status_code == 200

    everyone = await list_users(client, root)
    assert everyone["total"] == 5
    assert await emails_matching(client, root, role="admin") == {"lst-b1@example.com"}
    assert await emails_matching(client, root, role="superadmin") == {SUPERUSER_EMAIL}
    assert await emails_matching(client, root, is_active="false") == {"lst-b2@example.com"}
    assert await emails_matching(client, root, is_verified="false") == {"lst-a2@example.com"}
    assert await emails_matching(client, root, q="LST-A") == {
        "lst-a1@example.com",
        "lst-a2@example.com",
    }
    assert await emails_matching(client, root, q="lst-a", is_verified="true") == {
        "lst-a1@example.com"
    }
    assert await emails_matching(client, root, role="user", is_active="true") == {
        "lst-a1@example.com",
        "lst-a2@example.com",
    }
    # A prefix, not a substring match.
    assert await emails_matching(client, root, q="a1@") == set()
    filtered = await list_users(client, root, q="lst-", limit=1)
    assert filtered["total"] == 4
    assert len(filtered["items"]) == 1


async def test_list_email_prefix_treats_like_wildcards_literally(
    client: httpx.AsyncClient, root: LoggedIn
) -> None:
    for email in ("w_b@example.com", "wxb@example.com", "w%c@example.com", "wzc@example.com"):
        await create_user_as(client, root, email)

    assert await emails_matching(client, root, q="w_") == {"w_b@example.com"}
    assert await emails_matching(client, root, q="w%") == {"w%c@example.com"}
    assert await emails_matching(client, root, q="w") == {
        "w_b@example.com",
        "wxb@example.com",
        "w%c@example.com",
        "wzc@example.com",
    }
    assert await emails_matching(client, root, q="%") == set()
    assert await emails_matching(client, root, q="_") == set()


async def test_list_email_prefix_is_case_insensitive_beyond_ascii(
    client: httpx.AsyncClient, root: LoggedIn
) -> None:
    created = await create_user_as(client, root, "Ünïcode@Example.com")
    assert created["email"] == "ünïcode@example.com"

    # SQLite's LIKE folds only ASCII case, so this needs the prefix itself lower-cased.
    assert await emails_matching(client, root, q="ÜNÏ") == {"ünïcode@example.com"}
    assert await emails_matching(client, root, q="ünï") == {"ünïcode@example.com"}


async def test_list_pages_with_limit_and_offset(client: httpx.AsyncClient, root: LoggedIn) -> None:
    for n in range(5):
        await create_user_as(client, root, f"page{n}@example.com")

    seen: list[str] = []
    for offset in (0, 2, 4):
        page = await list_users(client, root, limit=2, offset=offset)
        assert page["total"] == 6
        assert page["limit"] == 2
        assert page["offset"] == offset
        assert len(page["items"]) == 2
        seen += [item["id"] for item in page["items"]]
    assert len(set(seen)) == 6
    everyone = await list_users(client, root)
    assert [item["id"] for item in everyone["items"]] == seen
    assert everyone["limit"] == 20
    assert everyone["offset"] == 0

    past_the_end = await list_users(client, root, limit=2, offset=6)
    assert past_the_end["items"] == []
    assert past_the_end["total"] == 6


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"limit": 0}, id="limit-0"),
        pytest.param({"limit": 101}, id="limit-101"),
        pytest.param({"limit": "ten"}, id="limit-not-int"),
        pytest.param({"offset": -1}, id="offset-negative"),
        pytest.param({"role": "root"}, id="unknown-role"),
        pytest.param({"is_active": "maybe"}, id="bad-bool"),
        pytest.param({"q": ""}, id="empty-q"),
    ],
)
async def test_list_rejects_invalid_query_parameters(
    client: httpx.AsyncClient, root: LoggedIn, params: dict[str, Any]
) -> None:
    response = await client.get(USERS, params=params, headers=root.headers)
    body = assert_problem(response, 422, "validation_error")
    assert any(error["loc"][-1] == next(iter(params)) for error in body["errors"])


async def test_list_accepts_limit_bounds(client: httpx.AsyncClient, root: LoggedIn) -> None:
    assert (await list_users(client, root, limit=1))["limit"] == 1
    assert (await list_users(client, root, limit=100))["limit"] == 100


# --- ids, duplicates, unknown fields, clearing ------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_non_uuid_id_is_422(client: httpx.AsyncClient, root: LoggedIn, method: str) -> None:
    body = {"full_name": "X"} if method == "PATCH" else None
    response = await client.request(method, f"{USERS}/not-a-uuid", json=body, headers=root.headers)
    problem = assert_problem(response, 422, "validation_error")
    assert any(error["loc"][-1] == "user_id" for error in problem["errors"])


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        pytest.param("GET", "", None, id="get"),
        pytest.param("PATCH", "", {"full_name": "X"}, id="patch"),
        pytest.param("DELETE", "", None, id="delete"),
        pytest.param("GET", "/sessions", None, id="get-sessions"),
        pytest.param("DELETE", "/sessions", None, id="delete-sessions"),
    ],
)
async def test_unknown_uuid_is_404(
    client: httpx.AsyncClient,
    root: LoggedIn,
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
) -> None:
    response = await client.request(
        method, user_url(str(uuid.uuid4()), suffix), json=body, headers=root.headers
    )
    assert_problem(response, 404, "not_found")


async def test_admin_create_with_taken_email_is_409(
    client: httpx.AsyncClient, root: LoggedIn, admin: LoggedIn
) -> None:
    await register_and_login(client, "taken@example.com")
    response = await client.post(
        USERS,
        json={"email": "Taken@EXAMPLE.com", "password": DEFAULT_PASSWORD, "role": "user"},
        headers=admin.headers,
    )
    assert_problem(response, 409, "email_taken")
    assert (await list_users(client, root, q="taken@"))["total"] == 1


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"permissions": ["root:admin"]}, id="permissions"),
        pytest.param({"is_active": False}, id="is_active"),
        pytest.param({"id": "00000000-0000-7000-8000-000000000000"}, id="id"),
    ],
)
async def test_admin_create_with_unknown_field_is_422(
    client: httpx.AsyncClient, root: LoggedIn, admin: LoggedIn, extra: dict[str, Any]
) -> None:
    response = await client.post(
        USERS,
        json={"email": "extra@example.com", "password": DEFAULT_PASSWORD, "role": "user", **extra},
        headers=admin.headers,
    )
    body = assert_problem(response, 422, "validation_error")
    assert any(error["loc"][-1] == next(iter(extra)) for error in body["errors"])
    assert await emails_matching(client, root, q="extra@") == set()


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"email": "not-an-email", "password": DEFAULT_PASSWORD}, id="bad-email"),
        pytest.param({"email": "short@example.com", "password": "short"}, id="short-password"),
        pytest.param(
            {"email": "r@example.com", "password": DEFAULT_PASSWORD, "role": "root"}, id="bad-role"
        ),
        pytest.param({"password": DEFAULT_PASSWORD}, id="no-email"),
    ],
)
async def test_admin_create_with_invalid_body_is_422(
    client: httpx.AsyncClient, admin: LoggedIn, payload: dict[str, Any]
) -> None:
    response = await client.post(USERS, json=payload, headers=admin.headers)
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"email": "hijack@example.com"}, id="email"),
        pytest.param({"password": "another-password"}, id="password"),
        pytest.param({"permissions": ["user:read"]}, id="permissions"),
    ],
)
async def test_admin_patch_with_unknown_field_is_422_and_changes_nothing(
    client: httpx.AsyncClient, admin: LoggedIn, extra: dict[str, Any]
) -> None:
    target = await create_user_as(client, admin, "patched@example.com")

    response = await client.patch(
        user_url(target["id"]), json={"full_name": "Changed", **extra}, headers=admin.headers
    )

    assert_problem(response, 422, "validation_error")
    assert await get_user(client, admin, target["id"]) == target


async def test_patch_full_name_null_clears_it_and_omission_keeps_it(
    client: httpx.AsyncClient, admin: LoggedIn
) -> None:
    created = await client.post(
        USERS,
        json={
            "email": "named@example.com",
            "password": DEFAULT_PASSWORD,
            "full_name": "Old Name",
            "role": "user",
        },
        headers=admin.headers,
    )
    user_id = created.json()["id"]

    kept = await client.patch(user_url(user_id), json={"is_verified": True}, headers=admin.headers)
    assert kept.json()["full_name"] == "Old Name"
    empty = await client.patch(user_url(user_id), json={}, headers=admin.headers)
    assert empty.status_code == 200
    assert empty.json()["full_name"] == "Old Name"

    cleared = await client.patch(user_url(user_id), json={"full_name": None}, headers=admin.headers)

    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["full_name"] is None
    assert (await get_user(client, admin, user_id))["full_name"] is None


@pytest.mark.parametrize("full_name", ["", "   ", "x" * 201])
async def test_admin_patch_invalid_full_name_is_422(
    client: httpx.AsyncClient, admin: LoggedIn, full_name: str
) -> None:
    target = await create_user_as(client, admin, "badname@example.com")
    response = await client.patch(
        user_url(target["id"]), json={"full_name": full_name}, headers=admin.headers
    )
    assert_problem(response, 422, "validation_error")
