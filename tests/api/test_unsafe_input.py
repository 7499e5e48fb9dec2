"""Control, line separator and bidi formatting characters are refused at the boundary.

Before, a NUL reached PostgreSQL and every such request answered 500 with a long
traceback in the log. Now any of these characters, in any query parameter (name or
value), path parameter, form field or JSON string (keys too), is a 422 with
``errors``, and nothing is written. A NUL inside a decoded cursor is an
``invalid_cursor``. Each test runs on every storage backend.
"""

import base64
import json
import uuid
from typing import Any

import httpx

from tests.api.helpers import (
    V1,
    V2,
    LoggedIn,
    assert_problem,
    login,
    login_superuser,
    register,
    register_and_login,
)
from tests.conftest import DEFAULT_PASSWORD

NUL = "\x00"
# One of each kind the rule refuses: C0 (NUL, TAB, CR, LF, ESC), DEL, C1 (NEL), the
# line and paragraph separators, a bidi override (RLO), an isolate (LRI).
UNSAFE = ["\x00", "\t", "\r", "\n", "\x1b", "\x7f", "\x85", "\u2028", "\u2029", "\u202e", "\u2066"]
LOGIN = f"{V1}/auth/login"
REGISTER = f"{V1}/auth/register"
ME = f"{V1}/users/me"
USERS = f"{V1}/users"
EMAILS = f"{V1}/admin/emails"
AUDIT = f"{V1}/admin/audit"
USERS_V2 = f"{V2}/users"


def assert_refused(response: httpx.Response, *locations: list[Any]) -> None:
    """A 422 problem whose ``errors`` are exactly the unsafe characters at ``locations``."""
    body = assert_problem(response, 422, "validation_error")
    assert [error["loc"] for error in body["errors"]] == list(locations), body
    assert {error["type"] for error in body["errors"]} == {"unsafe_character"}, body


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def users_matching(client: httpx.AsyncClient, root: LoggedIn, prefix: str) -> int:
    response = await client.get(USERS, params={"q": prefix}, headers=root.headers)
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


async def test_login_with_nul_in_the_username_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(LOGIN, data={"username": "a\x00b", "password": "whatever-1"})
    assert_refused(response, ["body", "username"])
    response = await client.post(
        LOGIN, data={"username": "a@example.com", "password": "pass\x00word"}
    )
    assert_refused(response, ["body", "password"])


async def test_register_with_an_unsafe_full_name_is_422_and_creates_nobody(
    client: httpx.AsyncClient,
) -> None:
    for index, character in enumerate(UNSAFE):
        email = f"ann{index}@example.com"
        response = await client.post(
            REGISTER,
            json={"email": email, "password": DEFAULT_PASSWORD, "full_name": f"Ann{character}B"},
        )
        assert_refused(response, ["body", "full_name"])
    root = await login_superuser(client)
    assert await users_matching(client, root, "ann") == 0
    # The same address registers once the name is clean: nothing was left behind.
    assert (await register(client, "ann0@example.com", full_name="Ann B"))["full_name"] == "Ann B"


async def test_a_multi_line_full_name_is_refused_everywhere_it_is_set(
    client: httpx.AsyncClient,
) -> None:
    """The name is written into email bodies: a line break would let it add lines."""
    injected = "Ann\r\n\r\nYour account is suspended, log in at https://evil.example"
    user = await register_and_login(client, "bob@example.com")
    response = await client.patch(ME, json={"full_name": injected}, headers=user.headers)
    assert_refused(response, ["body", "full_name"])
    root = await login_superuser(client)
    response = await client.patch(
        f"{USERS}/{user.user_id}", json={"full_name": injected}, headers=root.headers
    )
    assert_refused(response, ["body", "full_name"])
    response = await client.post(
        USERS,
        json={"email": "carol@example.com", "password": DEFAULT_PASSWORD, "full_name": injected},
        headers=root.headers,
    )
    assert_refused(response, ["body", "full_name"])
    me = await client.get(ME, headers=user.headers)
    assert me.json()["full_name"] is None
    assert await users_matching(client, root, "carol") == 0


async def test_patch_me_with_nul_is_422_and_changes_nothing(client: httpx.AsyncClient) -> None:
    user = await register_and_login(client, "dora@example.com")
    assert (await client.patch(ME, json={"full_name": "Dora"}, headers=user.headers)).is_success
    for character in UNSAFE:
        response = await client.patch(
            ME, json={"full_name": f"Do{character}ra"}, headers=user.headers
        )
        assert_refused(response, ["body", "full_name"])
    assert (await client.get(ME, headers=user.headers)).json()["full_name"] == "Dora"


async def test_unsafe_query_values_and_names_are_422(client: httpx.AsyncClient) -> None:
    root = await login_superuser(client)
    for character in UNSAFE:
        response = await client.get(USERS, params={"q": character}, headers=root.headers)
        assert_refused(response, ["query", "q"])
        response = await client.get(USERS_V2, params={"q": f"a{character}"}, headers=root.headers)
        assert_refused(response, ["query", "q"])
    # An unknown parameter is still input: its name is checked, and not echoed back.
    response = await client.get(USERS, params={"q\u202eevil": "x"}, headers=root.headers)
    assert_refused(response, ["query"])
    assert "\u202e" not in response.text
    assert "\\u202e" not in response.text.lower()


async def test_a_nul_inside_a_v2_cursor_is_an_invalid_cursor(client: httpx.AsyncClient) -> None:
    root = await login_superuser(client)
    for after in (NUL, f"{uuid.uuid4()}{NUL}", "not-a-user-id", str(uuid.uuid4()).upper()):
        response = await client.get(
            USERS_V2, params={"cursor": b64({"after": after})}, headers=root.headers
        )
        assert_problem(response, 400, "invalid_cursor")
    response = await client.get(USERS_V2, params={"cursor": NUL}, headers=root.headers)
    assert_refused(response, ["query", "cursor"])
    first = await client.get(USERS_V2, params={"limit": 1}, headers=root.headers)
    assert first.status_code == 200, first.text
    # A cursor the API handed out still works (the superuser is the only user).
    after_root = b64({"after": first.json()["items"][0]["id"]})
    response = await client.get(USERS_V2, params={"cursor": after_root}, headers=root.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "next_cursor": None}


async def test_admin_email_and_audit_cursors_refuse_nul_and_garbage(
    client: httpx.AsyncClient,
) -> None:
    root = await login_superuser(client)
    response = await client.get(EMAILS, params={"cursor": NUL}, headers=root.headers)
    assert_refused(response, ["query", "cursor"])
    for garbage in ("not-an-id", "0" * 64, str(uuid.uuid4()).replace("-", "")):
        response = await client.get(EMAILS, params={"cursor": garbage}, headers=root.headers)
        assert_problem(response, 400, "invalid_cursor")
    response = await client.get(EMAILS, params={"cursor": str(uuid.uuid4())}, headers=root.headers)
    assert response.status_code == 200, response.text
    response = await client.get(AUDIT, params={"cursor": NUL}, headers=root.headers)
    assert_refused(response, ["query", "cursor"])


async def test_unsafe_path_parameters_are_422(client: httpx.AsyncClient) -> None:
    root = await login_superuser(client)
    response = await client.get(f"{USERS}/%00", headers=root.headers)
    assert_refused(response, ["path", "user_id"])
    response = await client.delete(f"{ME}/sessions/%E2%80%AE", headers=root.headers)
    assert_refused(response, ["path", "session_id"])
    response = await client.get(f"{USERS_V2}/a%E2%80%A8b", headers=root.headers)
    assert_refused(response, ["path", "user_id"])


async def test_unsafe_json_keys_and_form_field_names_are_422(client: httpx.AsyncClient) -> None:
    body = {"email": "erin@example.com", "password": DEFAULT_PASSWORD, "full\x00name": "Erin"}
    response = await client.post(REGISTER, json=body)
    assert_refused(response, ["body"])
    assert "\\u0000" not in response.text, "the key is not echoed back"
    form = {"username": "erin@example.com", "password": DEFAULT_PASSWORD, "sco\u2028pe": "x"}
    assert_refused(await client.post(LOGIN, data=form), ["body"])
    root = await login_superuser(client)
    assert await users_matching(client, root, "erin") == 0


async def test_unsafe_characters_in_other_bodies_are_422(client: httpx.AsyncClient) -> None:
    root = await login_superuser(client)
    response = await client.post(
        USERS,
        json={"email": "frank\x00@example.com", "password": DEFAULT_PASSWORD},
        headers=root.headers,
    )
    assert_refused(response, ["body", "email"])
    response = await client.post(
        f"{V1}/auth/forgot-password", json={"email": "frank\u2028@example.com"}
    )
    assert_refused(response, ["body", "email"])
    response = await client.post(
        f"{V1}/auth/verify-email", json={"email": "frank@example.com", "code": "12\u202e3456"}
    )
    assert_refused(response, ["body", "code"])
    response = await client.post(
        f"{ME}/password",
        json={"current_password": "x\x00", "new_password": f"new\u2066{DEFAULT_PASSWORD}"},
        headers=root.headers,
    )
    assert_refused(response, ["body", "current_password"], ["body", "new_password"])
    assert await users_matching(client, root, "frank") == 0


async def test_ordinary_text_is_accepted(client: httpx.AsyncClient) -> None:
    """Accents, other scripts, and a password that spells out an escape all pass."""
    names = ["Zoë Ørsted-Łukasz", "山田 太郎", "שרה כהן", "O'Brien, Jr."]
    for index, name in enumerate(names):
        created = await register(client, f"grace{index}@example.com", full_name=name)
        assert created["full_name"] == name
    # The six characters \u0000 are text, not NUL: the check reads the parsed JSON.
    password = "backslash-\\u0000-escape"
    await register(client, "heidi@example.com", password=password)
    await login(client, "heidi@example.com", password)
