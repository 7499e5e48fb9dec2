"""Account lockout over HTTP: consecutive wrong passwords lock an address for a while.

LOGIN_MAX_FAILURES is 3 here and locks last LOGIN_LOCKOUT_SECONDS=1 (doubling, capped),
so expiry is observed by waiting a second or two with the real clock. Each test runs
on every database backend of ``tests/api/conftest.py``.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from tests.api.helpers import V1, assert_problem, register
from tests.conftest import DEFAULT_PASSWORD, SettingsFactory

MAX_FAILURES = 3
WRONG_PASSWORD = "not-the-password-1"
PROXY = "203.0.113.7"
# A little more than a lock of n seconds, for the real clock to run it out.
MARGIN = 0.15


Launch = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def launch(make_settings: SettingsFactory) -> AsyncIterator[Launch]:
    """Start an app (lockout after 3 failures, rate limits off) and return its client."""
    async with AsyncExitStack() as stack:

        async def start(**overrides: Any) -> httpx.AsyncClient:
            values: dict[str, Any] = {
                "login_max_failures": MAX_FAILURES,
                "login_lockout_seconds": 60,
                "login_lockout_max_seconds": 3_600,
            }
            values.update(overrides)
            app: FastAPI = create_app(make_settings(**values))
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app, client=(PROXY, 50000))
            client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            return await stack.enter_async_context(client)

        yield start


async def attempt(
    client: httpx.AsyncClient,
    email: str,
    password: str = WRONG_PASSWORD,
    ip: str | None = None,
) -> httpx.Response:
    headers = {"X-Forwarded-For": ip} if ip else None
    return await client.post(
        f"{V1}/auth/login", data={"username": email, "password": password}, headers=headers
    )


async def fail(client: httpx.AsyncClient, email: str, times: int) -> None:
    """``times`` wrong passwords, each answered 401 (the last may be the one that locks)."""
    for _ in range(times):
        assert_problem(await attempt(client, email), 401, "invalid_credentials")


def assert_locked(response: httpx.Response, retry_after: int | None = None) -> dict[str, Any]:
    body = assert_problem(response, 429, "account_locked")
    value = response.headers["retry-after"]
    assert value.isdigit(), f"Retry-After must be whole seconds: {value!r}"
    if retry_after is not None:
        assert int(value) == retry_after
    assert "access_token" not in response.text
    return body


async def test_the_lock_refuses_even_the_right_password(launch: Launch) -> None:
    client = await launch()
    email = "olga@example.com"
    await register(client, email)
    await fail(client, email, MAX_FAILURES)

    locked = await attempt(client, email, DEFAULT_PASSWORD)
    assert_locked(locked)
    assert 58 <= int(locked.headers["retry-after"]) <= 60
    # Further guesses are refused the same way and are not even checked.
    assert_locked(await attempt(client, email))
    # The address is locked, not the client: other accounts log in.
    await register(client, "pete@example.com")
    assert (await attempt(client, "pete@example.com", DEFAULT_PASSWORD)).status_code == 200


async def test_fewer_failures_than_the_limit_do_not_lock(launch: Launch) -> None:
    client = await launch()
    email = "quinn@example.com"
    await register(client, email)
    await fail(client, email, MAX_FAILURES - 1)
    assert (await attempt(client, email, DEFAULT_PASSWORD)).status_code == 200


async def test_the_lock_expires_and_a_success_resets_the_count(launch: Launch) -> None:
    client = await launch(login_lockout_seconds=1)
    email = "rosa@example.com"
    await register(client, email)
    await fail(client, email, MAX_FAILURES)
    assert_locked(await attempt(client, email, DEFAULT_PASSWORD), retry_after=1)

    await asyncio.sleep(1 + MARGIN)
    assert (await attempt(client, email, DEFAULT_PASSWORD)).status_code == 200
    # The success started the count again: two more failures do not lock...
    await fail(client, email, MAX_FAILURES - 1)
    assert (await attempt(client, email, DEFAULT_PASSWORD)).status_code == 200
    # ...but three consecutive ones do.
    await fail(client, email, MAX_FAILURES)
    assert_locked(await attempt(client, email, DEFAULT_PASSWORD))


async def test_a_success_in_between_resets_the_consecutive_count(launch: Launch) -> None:
    client = await launch()
    email = "sami@example.com"
    await register(client, email)
    for _ in range(4):
        await fail(client, email, MAX_FAILURES - 1)
        assert (await attempt(client, email, DEFAULT_PASSWORD)).status_code == 200


async def test_each_lock_doubles_up_to_the_maximum(launch: Launch) -> None:
    client = await launch(login_lockout_seconds=1, login_lockout_max_seconds=3)
    email = "tara@example.com"
    await register(client, email)

    await fail(client, email, MAX_FAILURES)
    assert_locked(await attempt(client, email), retry_after=1)
    await asyncio.sleep(1 + MARGIN)

    # The second lock lasts twice as long: still locked after one second...
    await fail(client, email, MAX_FAILURES)
    assert_locked(await attempt(client, email, DEFAULT_PASSWORD), retry_after=2)
    await asyncio.sleep(1 + MARGIN)
    assert_locked(await attempt(client, email, DEFAULT_PASSWORD), retry_after=1)
    await asyncio.sleep(1)

    # ...and over after two. The third would be 4 s but the maximum is 3 s.
    await fail(client, email, MAX_FAILURES)
    assert_locked(await attempt(client, email, DEFAULT_PASSWORD), retry_after=3)


async def test_the_lock_holds_across_app_instances_on_one_database(launch: Launch) -> None:
    first = await launch()
    second = await launch()  # same settings: the same database and secret key
    email = "umar@example.com"
    await register(first, email)
    assert (await attempt(second, email, DEFAULT_PASSWORD)).status_code == 200

    await fail(first, email, MAX_FAILURES - 1)
    # The count is shared too: the third failure, on the other instance, locks.
    assert_problem(await attempt(second, email), 401, "invalid_credentials")
    assert_locked(await attempt(first, email, DEFAULT_PASSWORD))
    assert_locked(await attempt(second, email, DEFAULT_PASSWORD))


async def test_unknown_addresses_lock_exactly_like_known_ones(launch: Launch) -> None:
    client = await launch()
    known, unknown = "vera@example.com", "nobody@example.com"
    await register(client, known)

    observed: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
    for email in (known, unknown):
        seen = []
        for _ in range(MAX_FAILURES + 2):
            response = await attempt(client, email)
            body = response.json()
            body.pop("request_id")
            seen.append((response.status_code, response.headers.get("retry-after", ""), body))
        observed[email] = seen
    statuses = [status for status, _, _ in observed[known]]
    assert statuses == [401] * MAX_FAILURES + [429, 429]
    assert observed[known] == observed[unknown], "the lockout must not reveal which emails exist"


async def test_fifty_guesses_from_many_ips_are_stopped_by_the_lock(launch: Launch) -> None:
    """Spreading guesses over IPs dodges per-IP limits; the per-account lock still holds."""
    client = await launch(
        login_max_failures=5,
        rate_limit_enabled=True,
        rate_limit_login_per_ip="10/minute",
        rate_limit_login_per_account="1000/minute",
        trusted_proxies=[PROXY],
    )
    email = "wade@example.com"
    await register(client, email)

    statuses: list[int] = []
    for n in range(50):
        response = await attempt(client, email, ip=f"198.51.100.{n % 10 + 1}")
        if response.status_code == 429:
            assert_locked(response)
        statuses.append(response.status_code)
    assert statuses == [401] * 5 + [429] * 45, statuses
    assert_locked(await attempt(client, email, DEFAULT_PASSWORD, ip="198.51.100.200"))


async def test_many_accounts_from_one_ip_hit_the_per_ip_limit(launch: Launch) -> None:
    """One guess per account dodges the lockout; the per-IP limit still holds."""
    client = await launch(
        rate_limit_enabled=True,
        rate_limit_login_per_ip="10/minute",
        rate_limit_login_per_account="1000/minute",
        trusted_proxies=[PROXY],
    )
    victims = [f"victim{n}@example.com" for n in range(3)]
    for email in victims:
        await register(client, email)
    targets = victims + [f"guess{n}@example.com" for n in range(12)]

    attacker = "198.51.100.66"
    statuses = [(await attempt(client, email, ip=attacker)).status_code for email in targets]
    assert statuses == [401] * 10 + [429] * 5
    refused = await attempt(client, "another@example.com", ip=attacker)
    body = assert_problem(refused, 429, "rate_limited")
    assert body["code"] != "account_locked"
    assert refused.headers["retry-after"].isdigit()
    # No account was locked by one failure each: their owners log in from elsewhere.
    for email in victims:
        response = await attempt(client, email, DEFAULT_PASSWORD, ip="198.51.100.67")
        assert response.status_code == 200, response.text
