"""The audit log: what is recorded, who may read it, and what it never holds.

GET /api/v1/admin/audit is for superadmins (root:admin) only and read-only. Runs on every
database backend of ``tests/api/conftest.py``; the email-verification test delivers
codes through a real SMTP server (``tests/api/email_helpers.py``).
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from tests.api.email_helpers import (
    MailEnv,
    contains_code,
    email_settings,
    running_mail_app,
)
from tests.api.helpers import (
    V1,
    LoggedIn,
    assert_problem,
    bearer,
    create_user_as,
    login,
    login_superuser,
    register,
)
from tests.conftest import DEFAULT_PASSWORD, SUPERUSER_PASSWORD, SettingsFactory
from tests.smtp_server import SmtpTestServer

AUDIT = f"{V1}/admin/audit"
CLIENT_IP = "203.0.113.7"
USER_AGENT = "AuditProbe/1.0 (+tests)"
WRONG_PASSWORD = "not-the-password-1"
NEW_PASSWORD = "a-brand-new-passphrase"
MakeApp = Callable[..., Awaitable[httpx.AsyncClient]]
ENTRY_KEYS = {
    "id",
    "event",
    "occurred_at",
    "actor_id",
    "subject_id",
    "subject_email",
    "ip_address",
    "user_agent",
    "details",
}


async def http_client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50000))
    return httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"User-Agent": USER_AGENT}
    )


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with await http_client(app) as client:
        yield client


@pytest.fixture
async def make_app(make_settings: SettingsFactory) -> AsyncIterator[MakeApp]:
    """Start an app with settings overrides; yields a factory of its HTTP client."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> httpx.AsyncClient:
            app = create_app(make_settings(**overrides))
            await stack.enter_async_context(app.router.lifespan_context(app))
            return await stack.enter_async_context(await http_client(app))

        yield start


async def audit_page(client: httpx.AsyncClient, admin: LoggedIn, **params: Any) -> dict[str, Any]:
    response = await client.get(AUDIT, params=params, headers=admin.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"items", "next_cursor"}
    for entry in body["items"]:
        assert set(entry) == ENTRY_KEYS
    return body


async def audit_entries(
    client: httpx.AsyncClient, admin: LoggedIn, page_size: int = 100, **params: Any
) -> list[dict[str, Any]]:
    """Every entry matching ``params``, newest first, following the cursor."""
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {"limit": page_size, **params}
        if cursor is not None:
            query["cursor"] = cursor
        body = await audit_page(client, admin, **query)
        entries.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return entries
        assert len(entries) < 10_000, "the cursor must end"


def events_of(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["event"] for entry in entries]


# --- what an account's life leaves behind ------------------------------------------------


async def _account_lifecycle(client: httpx.AsyncClient) -> tuple[LoggedIn, str, str]:
    """register -> login -> wrong password -> logout -> login -> change password, then a
    superadmin promotes, deactivates and deletes the user. Returns (root, user id, email)."""
    email = "lena@example.com"
    user_id: str = (await register(client, email))["id"]
    first = await login(client, email)
    wrong = await client.post(
        f"{V1}/auth/login", data={"username": email, "password": WRONG_PASSWORD}
    )
    assert_problem(wrong, 401, "invalid_credentials")
    assert (await client.post(f"{V1}/auth/logout", headers=first.headers)).status_code == 204
    second = await login(client, email)
    changed = await client.post(
        f"{V1}/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=second.headers,
    )
    assert changed.status_code == 204, changed.text

    root = await login_superuser(client)
    for change in ({"role": "admin"}, {"is_active": False}):
        response = await client.patch(f"{V1}/users/{user_id}", json=change, headers=root.headers)
        assert response.status_code == 200, response.text
    deleted = await client.delete(f"{V1}/users/{user_id}", headers=root.headers)
    assert deleted.status_code == 204, deleted.text
    return root, user_id, email


async def test_an_accounts_life_is_recorded_with_who_whom_and_where(
    http: httpx.AsyncClient,
) -> None:
    root, user_id, email = await _account_lifecycle(http)
    entries = await audit_entries(http, root, user_id=user_id)

    assert events_of(entries) == [
        "user_deleted",
        "status_changed",
        "role_changed",
        "password_changed",
        "login_succeeded",
        "logged_out",
        "login_failed",
        "login_succeeded",
        "user_created",
    ]
    by_user = {"user_created", "login_succeeded", "logged_out", "password_changed"}
    by_root = {"role_changed", "status_changed", "user_deleted"}
    root_id = (await http.get(f"{V1}/users/me", headers=root.headers)).json()["id"]
    for entry in entries:
        assert entry["subject_id"] == user_id, entry
        assert entry["subject_email"] == email, entry
        assert entry["ip_address"] == CLIENT_IP, entry
        assert entry["user_agent"] == USER_AGENT, entry
        if entry["event"] in by_user:
            assert entry["actor_id"] == user_id, entry
        elif entry["event"] in by_root:
            assert entry["actor_id"] == root_id, entry
        else:  # a wrong password: nobody is authenticated
            assert entry["actor_id"] is None, entry

    details = {entry["event"]: entry["details"] for entry in entries}
    assert details["role_changed"] == {"from": "user", "to": "admin"}
    assert details["status_changed"] == {"is_active": "false"}


async def test_entries_are_newest_first_and_filters_narrow_them(http: httpx.AsyncClient) -> None:
    root, user_id, _ = await _account_lifecycle(http)
    everything = await audit_entries(http, root)
    ids = [entry["id"] for entry in everything]
    assert ids == sorted(ids, reverse=True), "time-ordered ids, newest first"
    times = [entry["occurred_at"] for entry in everything]
    assert times == sorted(times, reverse=True)
    assert everything[0]["event"] == "user_deleted"

    # The superadmin's own logins are in the full log but not in the user's.
    root_id = (await http.get(f"{V1}/users/me", headers=root.headers)).json()["id"]
    assert any(e["subject_id"] == root_id for e in everything)
    mine = await audit_entries(http, root, user_id=user_id)
    assert {e["id"] for e in mine} < {e["id"] for e in everything}
    # user_id matches the actor too: the superadmin acted on the user three times.
    as_actor = await audit_entries(http, root, user_id=root_id)
    assert {"role_changed", "status_changed", "user_deleted"} <= set(events_of(as_actor))

    logins = await audit_entries(http, root, event="login_succeeded")
    assert logins
    assert set(events_of(logins)) == {"login_succeeded"}
    both = await audit_entries(http, root, event="login_succeeded", user_id=user_id)
    assert len(both) == 2
    assert all(e["subject_id"] == user_id for e in both)
    none = await audit_entries(http, root, event="refresh_token_reused")
    assert none == []


async def test_the_cursor_walks_every_entry_exactly_once(http: httpx.AsyncClient) -> None:
    root, _, _ = await _account_lifecycle(http)
    everything = (await audit_page(http, root, limit=100))["items"]
    assert 10 <= len(everything) < 100
    for size in (1, 2, 3, 7):
        walked = await audit_entries(http, root, page_size=size)
        assert [e["id"] for e in walked] == [e["id"] for e in everything], size
    last = await audit_page(http, root, limit=len(everything))
    assert last["next_cursor"] is None, "no cursor when the page holds the rest"


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"cursor": "not-a-uuid"},
        {"user_id": "42"},
        {"event": "no_such_event"},
    ],
)
async def test_bad_queries_are_422(http: httpx.AsyncClient, params: dict[str, Any]) -> None:
    root = await login_superuser(http)
    response = await http.get(AUDIT, params=params, headers=root.headers)
    assert_problem(response, 422, "validation_error")


# --- events recorded outside the happy path ----------------------------------------------


async def test_refresh_token_reuse_is_recorded(make_app: MakeApp) -> None:
    client = await make_app(refresh_reuse_grace_seconds=0)
    user_id = (await register(client, "mona@example.com"))["id"]
    session = await login(client, "mona@example.com")
    rotated = await client.post(f"{V1}/auth/refresh", json={"refresh_token": session.refresh_token})
    assert rotated.status_code == 200, rotated.text
    replayed = await client.post(
        f"{V1}/auth/refresh", json={"refresh_token": session.refresh_token}
    )
    assert_problem(replayed, 401, "invalid_token")

    root = await login_superuser(client)
    (entry,) = await audit_entries(client, root, event="refresh_token_reused")
    assert entry["subject_id"] == user_id
    assert entry["actor_id"] is None
    assert entry["ip_address"] == CLIENT_IP
    assert entry["user_agent"] == USER_AGENT
    assert set(entry["details"]) == {"session_id"}
    sessions = await client.get(f"{V1}/users/{user_id}/sessions", headers=root.headers)
    assert sessions.status_code == 200
    assert entry["details"]["session_id"] not in {s["id"] for s in sessions.json()}, (
        "the session named by the event was revoked"
    )


async def test_lockouts_are_recorded_for_known_and_unknown_addresses(make_app: MakeApp) -> None:
    client = await make_app(login_max_failures=3)
    user_id = (await register(client, "nora@example.com"))["id"]
    for email in ("nora@example.com", "nobody@example.com"):
        for _ in range(3):
            response = await client.post(
                f"{V1}/auth/login", data={"username": email, "password": WRONG_PASSWORD}
            )
            assert_problem(response, 401, "invalid_credentials")
        locked = await client.post(
            f"{V1}/auth/login", data={"username": email, "password": WRONG_PASSWORD}
        )
        assert_problem(locked, 429, "account_locked")

    root = await login_superuser(client)
    locks = await audit_entries(client, root, event="account_locked")
    assert [(e["subject_email"], e["subject_id"]) for e in locks] == [
        ("nobody@example.com", None),
        ("nora@example.com", user_id),
    ]
    for entry in locks:
        assert entry["actor_id"] is None
        assert entry["ip_address"] == CLIENT_IP
    # Refused attempts while locked are not wrong passwords: three failures each.
    failures = await audit_entries(client, root, event="login_failed")
    assert len(failures) == 6


@pytest.fixture
async def mail(
    make_settings: SettingsFactory, smtp_server: SmtpTestServer
) -> AsyncIterator[MailEnv]:
    settings = email_settings(make_settings, smtp_server)
    async with running_mail_app(settings, smtp_server) as env:
        env.client.headers["User-Agent"] = USER_AGENT
        yield env


async def test_email_verification_and_reset_are_recorded_and_no_secret_is(
    mail: MailEnv,
) -> None:
    email = "olive@example.com"
    user = await mail.register(email)
    verify_code = await mail.verification_code(email)
    assert (await mail.verify(email, verify_code)).status_code == 200
    session = await login(mail.client, email)
    refreshed = await mail.client.post(
        f"{V1}/auth/refresh", json={"refresh_token": session.refresh_token}
    )
    assert refreshed.status_code == 200
    await mail.login_response(email, WRONG_PASSWORD)
    assert (await mail.forgot(email)).status_code == 202
    reset_code = await mail.reset_code(email)
    assert (await mail.reset(email, reset_code, NEW_PASSWORD)).status_code == 204

    root = await mail.superuser()
    entries = await audit_entries(mail.client, root, user_id=user["id"])
    assert events_of(entries) == [
        "password_reset",
        "login_failed",
        "login_succeeded",
        "email_verified",
        "user_created",
    ]
    verified = entries[3]
    assert verified["subject_id"] == user["id"]
    assert verified["ip_address"] == CLIENT_IP
    assert verified["user_agent"] == USER_AGENT

    everything = await audit_entries(mail.client, root)
    text = " ".join(str(value) for entry in everything for value in _values(entry))
    secrets = [
        DEFAULT_PASSWORD,
        WRONG_PASSWORD,
        NEW_PASSWORD,
        SUPERUSER_PASSWORD,
        session.access_token,
        session.refresh_token,
        refreshed.json()["access_token"],
        refreshed.json()["refresh_token"],
        root.access_token,
        root.refresh_token,
    ]
    for secret in secrets:
        assert secret not in text
        assert secret.split(".")[-1] not in text, "not even a token's signature"
    for code in (verify_code, reset_code):
        assert not contains_code(text, code), f"the one-time code {code} is in the log"


def _values(entry: dict[str, Any]) -> list[Any]:
    values = list(entry.values())
    values.extend(entry["details"].keys())
    values.extend(entry["details"].values())
    return values


# --- who may read it, and that nobody may change it --------------------------------------


async def test_only_superadmins_may_read_the_log(http: httpx.AsyncClient) -> None:
    root = await login_superuser(http)
    await create_user_as(http, root, "adam@example.com", role="admin")
    admin = await login(http, "adam@example.com")
    await register(http, "user@example.com")
    user = await login(http, "user@example.com")

    assert_problem(await http.get(AUDIT, headers=admin.headers), 403, "permission_denied")
    assert_problem(await http.get(AUDIT, headers=user.headers), 403, "permission_denied")
    assert_problem(await http.get(AUDIT), 401, "not_authenticated")
    assert_problem(await http.get(AUDIT, headers=bearer("not-a-token")), 401, "invalid_token")
    assert (await http.get(AUDIT, headers=root.headers)).status_code == 200


async def test_the_log_cannot_be_changed_over_http(http: httpx.AsyncClient) -> None:
    root = await login_superuser(http)
    before = await audit_entries(http, root)
    entry_id = before[0]["id"]
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = await http.request(method, AUDIT, headers=root.headers, json={})
        assert_problem(response, 405, "method_not_allowed")
        assert "GET" in response.headers["allow"]
        item = await http.request(method, f"{AUDIT}/{entry_id}", headers=root.headers, json={})
        assert item.status_code in (404, 405), item.text
    after = await audit_entries(http, root)
    assert [e["id"] for e in after] == [e["id"] for e in before]
    assert after == before
