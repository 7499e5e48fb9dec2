"""The password policy at every door: register, reset, change and admin create.

Each refuses a password that is easy to guess (zxcvbn scores it below 3) and one that
contains the email's local part with 422 ``weak_password``, says why, changes nothing,
and never repeats the password back; each accepts a strong passphrase.
Runs on every database backend of ``tests/api/conftest.py``.
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.api.email_helpers import MailEnv, email_settings, running_mail_app
from tests.api.helpers import (
    V1,
    LoggedIn,
    assert_problem,
    login,
    login_superuser,
    register,
    register_and_login,
)
from tests.conftest import DEFAULT_PASSWORD, SettingsFactory
from tests.smtp_server import SmtpTestServer

STRONG = "violet-Harbour-7-kettle"
EMAIL = "mallory.smith@example.com"
# Each is refused for EMAIL: easy to guess (leaked-password lists, keyboard rows), or
# containing the local part.
WEAK = {
    "password123": "password123",
    "common": "Password1",
    "common-long": "qwertyuiop",
    "local-part": "my-Mallory.Smith-2024!",
    "local-part-exact": "MALLORY.SMITH",
}
# zxcvbn alone would give this one score 3: a known word with a piece on either side.
OSCARS_LOCAL_PART = "x-OSCAR.WILDE-x"
CONTAINS_LOCAL_PART = {WEAK["local-part"], WEAK["local-part-exact"], OSCARS_LOCAL_PART}
# What zxcvbn 4.5.0 says of the guessable ones, and what the refusal must pass on.
ADVICE = "Add another word or two. Uncommon words are better."


def assert_weak(response: httpx.Response, password: str) -> None:
    body = assert_problem(response, 422, "weak_password")
    detail = body["detail"]
    if password in CONTAINS_LOCAL_PART:
        assert "part of your email address before the @" in detail
    else:
        assert detail.startswith("This password is too easy to guess: it scores ")
        assert "3 is required" in detail
        assert ADVICE in detail
    for form in {password, password.lower(), password.upper()}:
        assert form not in response.text, "the refused password is echoed back"
        assert all(form not in value for value in response.headers.values())


async def count_users(client: httpx.AsyncClient, admin: LoggedIn, email: str) -> int:
    response = await client.get(f"{V1}/users", params={"q": email}, headers=admin.headers)
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


async def can_log_in(client: httpx.AsyncClient, email: str, password: str) -> bool:
    response = await client.post(f"{V1}/auth/login", data={"username": email, "password": password})
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


@pytest.mark.parametrize("password", WEAK.values(), ids=WEAK.keys())
async def test_register_refuses_a_weak_password_and_creates_nothing(
    client: httpx.AsyncClient, password: str
) -> None:
    response = await client.post(f"{V1}/auth/register", json={"email": EMAIL, "password": password})
    assert_weak(response, password)
    admin = await login_superuser(client)
    assert await count_users(client, admin, EMAIL) == 0
    # The address is still free.
    await register(client, EMAIL, STRONG)


@pytest.mark.parametrize("password", WEAK.values(), ids=WEAK.keys())
async def test_change_password_refuses_a_weak_password_and_changes_nothing(
    client: httpx.AsyncClient, password: str
) -> None:
    await register(client, EMAIL, STRONG)
    other_session = await login(client, EMAIL, STRONG)
    me = await login(client, EMAIL, STRONG)
    response = await client.post(
        f"{V1}/users/me/password",
        json={"current_password": STRONG, "new_password": password},
        headers=me.headers,
    )
    assert_weak(response, password)
    assert await can_log_in(client, EMAIL, STRONG)
    assert not await can_log_in(client, EMAIL, password)
    # A successful change ends the other sessions; a refused one must not.
    still = await client.get(f"{V1}/users/me", headers=other_session.headers)
    assert still.status_code == 200, still.text


@pytest.mark.parametrize("password", WEAK.values(), ids=WEAK.keys())
async def test_admin_create_refuses_a_weak_password_and_creates_nothing(
    client: httpx.AsyncClient, password: str
) -> None:
    admin = await login_superuser(client)
    response = await client.post(
        f"{V1}/users",
        json={"email": EMAIL, "password": password, "role": "user", "is_verified": True},
        headers=admin.headers,
    )
    assert_weak(response, password)
    assert await count_users(client, admin, EMAIL) == 0
    assert not await can_log_in(client, EMAIL, password)


async def test_the_policy_applies_to_the_target_accounts_email(client: httpx.AsyncClient) -> None:
    """Another user's local part is no concern: the check is against the account's own."""
    user = await register_and_login(client, "oscar.wilde@example.com")
    fine = "mallory.smith-is-not-me-7"
    response = await client.post(
        f"{V1}/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": fine},
        headers=user.headers,
    )
    assert response.status_code == 204, response.text
    refused = await client.post(
        f"{V1}/users/me/password",
        json={"current_password": fine, "new_password": OSCARS_LOCAL_PART},
        headers=user.headers,
    )
    assert_weak(refused, OSCARS_LOCAL_PART)


@pytest.mark.parametrize(
    ("path", "field", "extra"),
    [
        ("/auth/register", "password", {"email": EMAIL}),
        ("/auth/reset-password", "new_password", {"email": EMAIL, "code": "123456"}),
    ],
)
@pytest.mark.parametrize("password", ["short7!", "x" * 129], ids=["too-short", "too-long"])
async def test_out_of_range_passwords_are_422_without_echo(
    client: httpx.AsyncClient, path: str, field: str, extra: dict[str, Any], password: str
) -> None:
    response = await client.post(f"{V1}{path}", json={**extra, field: password})
    assert_problem(response, 422, "validation_error")
    assert password not in response.text


# --- reset-password needs a real code, from the real mail flow ---------------------------


@pytest.fixture
async def mail(
    make_settings: SettingsFactory, smtp_server: SmtpTestServer
) -> AsyncIterator[MailEnv]:
    settings = email_settings(make_settings, smtp_server)
    async with running_mail_app(settings, smtp_server) as env:
        yield env


async def test_reset_password_refuses_weak_passwords_and_keeps_the_code(mail: MailEnv) -> None:
    await mail.register_verified(EMAIL, STRONG)
    assert (await mail.forgot(EMAIL)).status_code == 202
    code = await mail.reset_code(EMAIL)

    for password in WEAK.values():
        response = await mail.reset(EMAIL, code, password)
        assert_weak(response, password)
        assert (await mail.login_response(EMAIL, STRONG)).status_code == 200
        assert (await mail.login_response(EMAIL, password)).status_code == 401

    # Nothing was used up: the same code still resets to a good password.
    new_password = "a-brand-new-passphrase"
    assert (await mail.reset(EMAIL, code, new_password)).status_code == 204
    assert (await mail.login_response(EMAIL, new_password)).status_code == 200
    assert (await mail.login_response(EMAIL, STRONG)).status_code == 401


# --- a strong passphrase passes every door --------------------------------------------

PASSPHRASE = "orchard-Velvet-sizzle-92"


async def test_register_accepts_a_strong_passphrase(client: httpx.AsyncClient) -> None:
    await register(client, EMAIL, PASSPHRASE, full_name="Mallory Smith")
    assert await can_log_in(client, EMAIL, PASSPHRASE)


async def test_change_password_accepts_a_strong_passphrase(client: httpx.AsyncClient) -> None:
    me = await register_and_login(client, EMAIL)
    response = await client.post(
        f"{V1}/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": PASSPHRASE},
        headers=me.headers,
    )
    assert response.status_code == 204, response.text
    assert await can_log_in(client, EMAIL, PASSPHRASE)
    assert not await can_log_in(client, EMAIL, DEFAULT_PASSWORD)


async def test_admin_create_accepts_a_strong_passphrase(client: httpx.AsyncClient) -> None:
    admin = await login_superuser(client)
    response = await client.post(
        f"{V1}/users",
        json={"email": EMAIL, "password": PASSPHRASE, "role": "user", "is_verified": True},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    assert await can_log_in(client, EMAIL, PASSPHRASE)


async def test_the_full_name_counts_as_known_to_the_attacker(client: httpx.AsyncClient) -> None:
    """A password made of the user's name, in another order, is refused at registration
    and at a change; the same password is accepted from someone of another name."""
    password = "QuixbyZoltan"
    refused = await client.post(
        f"{V1}/auth/register",
        json={"email": "zq@example.com", "password": password, "full_name": "Zoltan Quixby"},
    )
    body = assert_problem(refused, 422, "weak_password")
    assert body["detail"].startswith("This password is too easy to guess")
    assert password not in refused.text

    zoltan = await register_and_login(client, "zq@example.com")
    named = await client.patch(
        f"{V1}/users/me", json={"full_name": "Zoltan Quixby"}, headers=zoltan.headers
    )
    assert named.status_code == 200, named.text
    changed = await client.post(
        f"{V1}/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": password},
        headers=zoltan.headers,
    )
    assert_problem(changed, 422, "weak_password")

    await register(client, "ada@example.com", password, full_name="Ada Lovelace")
