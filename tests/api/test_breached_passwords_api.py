"""Breached passwords at register, change and reset, against a local Pwned Passwords range API.

A password on the service's list is refused with 422 ``weak_password`` and a detail that
says so; a clean one, or one listed only as padding, is accepted. A service that is
closed or hangs past PASSWORD_BREACH_CHECK_TIMEOUT_SECONDS lets the password through,
counts the failure in ``password_breach_check_failures_total`` and logs a warning that
holds neither the password nor its hash. Runs on every database backend.
"""

import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.email_helpers import MailEnv, email_settings, running_mail_app
from tests.api.helpers import V1, assert_problem, register, register_and_login
from tests.conftest import DEFAULT_PASSWORD, SUPERUSER_PASSWORD, SettingsFactory, running
from tests.pwned_passwords_server import Behaviour, RangeApiServer, sha1_hex
from tests.smtp_server import SmtpTestServer, free_port

EMAIL = "mallory.smith@example.com"
# Both score 4 with zxcvbn; the local service lists the first as breached.
BREACHED = "Quartz-Otter-41-lamp"
CLEAN = "orchard-Velvet-sizzle-92"
PADDED = "listed-only-as-padding-7"
BREACH_DETAIL = (
    "This password has appeared in a data breach, so attackers try it early; "
    "choose a different one."
)
TIMEOUT_SECONDS = 0.5
FAILURES = "password_breach_check_failures"


@pytest.fixture
def range_api() -> Iterator[RangeApiServer]:
    with RangeApiServer({BREACHED: 3, "password123": 250_000}, padded=[PADDED]) as server:
        yield server


def breach_settings(url: str) -> dict[str, Any]:
    return {
        "password_breach_check_url": url,
        "password_breach_check_timeout_seconds": TIMEOUT_SECONDS,
        "metrics_enabled": True,
    }


@pytest.fixture
async def client(
    make_settings: SettingsFactory, range_api: RangeApiServer
) -> AsyncIterator[httpx.AsyncClient]:
    async with running(make_settings(**breach_settings(range_api.url))) as (_app, http):
        yield http


def assert_breached(response: httpx.Response, password: str) -> None:
    body = assert_problem(response, 422, "weak_password")
    assert body["detail"] == BREACH_DETAIL
    assert password not in response.text


async def can_log_in(client: httpx.AsyncClient, email: str, password: str) -> bool:
    response = await client.post(f"{V1}/auth/login", data={"username": email, "password": password})
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


async def failures(client: httpx.AsyncClient, reason: str) -> float:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == f"{FAILURES}_total" and sample.labels == {"reason": reason}:
                return sample.value
    return 0.0


async def test_register_refuses_a_breached_password_and_accepts_clean_ones(
    client: httpx.AsyncClient, range_api: RangeApiServer
) -> None:
    refused = await client.post(f"{V1}/auth/register", json={"email": EMAIL, "password": BREACHED})
    assert_breached(refused, BREACHED)
    assert not await can_log_in(client, EMAIL, BREACHED)

    await register(client, EMAIL, CLEAN)
    await register(client, "other@example.com", PADDED)
    assert await can_log_in(client, EMAIL, CLEAN)
    # Each asked by its prefix alone, with padding; the first superuser's at start-up.
    prefixes = {sha1_hex(p)[:5] for p in (SUPERUSER_PASSWORD, BREACHED, CLEAN, PADDED)}
    assert {path.removeprefix("/range/") for path, _ in range_api.requests} == prefixes
    assert all(headers["Add-Padding"] == "true" for _, headers in range_api.requests)


async def test_change_password_refuses_a_breached_password_and_accepts_a_clean_one(
    client: httpx.AsyncClient,
) -> None:
    me = await register_and_login(client, EMAIL)
    refused = await client.post(
        f"{V1}/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": BREACHED},
        headers=me.headers,
    )
    assert_breached(refused, BREACHED)
    assert await can_log_in(client, EMAIL, DEFAULT_PASSWORD)

    changed = await client.post(
        f"{V1}/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": CLEAN},
        headers=me.headers,
    )
    assert changed.status_code == 204, changed.text
    assert await can_log_in(client, EMAIL, CLEAN)


@pytest.fixture
async def mail(
    make_settings: SettingsFactory, smtp_server: SmtpTestServer, range_api: RangeApiServer
) -> AsyncIterator[MailEnv]:
    settings = email_settings(make_settings, smtp_server, **breach_settings(range_api.url))
    async with running_mail_app(settings, smtp_server) as env:
        yield env


async def test_reset_password_refuses_a_breached_password_and_keeps_the_code(
    mail: MailEnv,
) -> None:
    await mail.register_verified(EMAIL)
    assert (await mail.forgot(EMAIL)).status_code == 202
    code = await mail.reset_code(EMAIL)

    assert_breached(await mail.reset(EMAIL, code, BREACHED), BREACHED)
    assert (await mail.login_response(EMAIL, BREACHED)).status_code == 401

    assert (await mail.reset(EMAIL, code, CLEAN)).status_code == 204
    assert (await mail.login_response(EMAIL, CLEAN)).status_code == 200


@pytest.mark.parametrize(("service", "reason"), [("closed", "unreachable"), ("hanging", "timeout")])
async def test_an_unanswered_check_lets_the_password_through_counted_and_logged(
    make_settings: SettingsFactory,
    range_api: RangeApiServer,
    caplog: pytest.LogCaptureFixture,
    service: str,
    reason: str,
) -> None:
    url = range_api.url
    if service == "closed":
        url = f"http://127.0.0.1:{free_port()}"
    else:
        range_api.behaviour = Behaviour.HANG
    caplog.set_level(logging.DEBUG)

    async with running(make_settings(**breach_settings(url), log_level="debug")) as (_, client):
        # The first superuser, created at start-up, went through the policy too.
        assert await failures(client, reason) == 1
        started = time.monotonic()
        await register(client, EMAIL, BREACHED)
        assert time.monotonic() - started < TIMEOUT_SECONDS + 2.0
        me = await register_and_login(client, "other@example.com")
        changed = await client.post(
            f"{V1}/users/me/password",
            json={"current_password": DEFAULT_PASSWORD, "new_password": CLEAN},
            headers=me.headers,
        )
        assert changed.status_code == 204, changed.text
        # Start-up, two registrations and a change.
        assert await failures(client, reason) == 4

    warnings = [r for r in caplog.records if r.name == "app.services.password_policy"]
    assert [r.levelno for r in warnings] == [logging.WARNING] * 4
    assert all(reason in r.getMessage() for r in warnings)
    for password in (SUPERUSER_PASSWORD, BREACHED, DEFAULT_PASSWORD, CLEAN):
        digest = sha1_hex(password)
        for secret in (password, digest[:5], digest[5:]):
            assert secret not in caplog.text
