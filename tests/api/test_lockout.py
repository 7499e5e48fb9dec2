"""Account lockout over HTTP: per account and client, a guess budget per account, and
the owner's ways back in (an emailed unlock token, a password reset).

Each client is an IP given in X-Forwarded-For by the test transport, a trusted proxy.
Time is a ``ManualClock`` handed to ``create_app``: tests move it instead of sleeping.
LOGIN_MAX_FAILURES is 3 here, locks last 60 s (doubling, capped at 240 s), and the
account budget is LOGIN_ACCOUNT_GUESSES_PER_HOUR=20, i.e. 10 per one-hour window.
Rate limits are off: these are the defences that hold without them. Each test runs on
every database backend of ``tests/api/conftest.py``.
"""

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from tests.api.email_helpers import (
    SUBJECT_VERIFY,
    email_settings,
    extract_code,
    matching,
    wait_for_mail,
)
from tests.api.helpers import V1, assert_problem, login_superuser, register
from tests.clock import ManualClock
from tests.conftest import DEFAULT_PASSWORD, SettingsFactory
from tests.smtp_server import SmtpTestServer

MAX_FAILURES = 3
BUDGET_PER_HOUR = 20
BUDGET_PER_WINDOW = BUDGET_PER_HOUR // 2
WRONG_PASSWORD = "not-the-password-1"
PROXY = "203.0.113.7"
OWNER_IP = "192.0.2.10"
ATTACKER_IPS = [f"198.51.100.{n}" for n in range(1, 21)]
SUBJECT_UNLOCK = "Unlock your Acme Test account"
TOKEN_PATTERN = re.compile(r"\b([0-9]{10}\.[A-Za-z0-9_-]{22}\.[0-9a-f]{64})\b")


class Env:
    """A running app on a manual clock, its client behind a trusted proxy, and its mail."""

    def __init__(
        self, app: FastAPI, client: httpx.AsyncClient, clock: ManualClock, smtp: SmtpTestServer
    ):
        self.app = app
        self.client = client
        self.clock = clock
        self.smtp = smtp

    def direct_client(self, peer: str) -> httpx.AsyncClient:
        """A client that reaches the app from ``peer`` itself, with no proxy between."""
        transport = httpx.ASGITransport(app=self.app, client=(peer, 50000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async def attempt(
        self, email: str, password: str = WRONG_PASSWORD, ip: str = OWNER_IP
    ) -> httpx.Response:
        return await self.client.post(
            f"{V1}/auth/login",
            data={"username": email, "password": password},
            headers={"X-Forwarded-For": ip},
        )

    async def fail(self, email: str, times: int, ip: str = OWNER_IP) -> None:
        """``times`` wrong passwords from ``ip``, each answered 401."""
        for _ in range(times):
            assert_problem(await self.attempt(email, ip=ip), 401, "invalid_credentials")

    async def request_unlock(self, email: str, ip: str = OWNER_IP) -> str:
        """Ask for an unlock email and return the token it carries."""
        sent = len(matching(self.smtp, email, SUBJECT_UNLOCK))
        response = await self.client.post(
            f"{V1}/auth/request-unlock", json={"email": email}, headers={"X-Forwarded-For": ip}
        )
        assert response.status_code == 202, response.text
        mail = await wait_for_mail(self.smtp, email, SUBJECT_UNLOCK, count=sent + 1)
        tokens = set(TOKEN_PATTERN.findall(mail.text))
        assert len(tokens) == 1, mail.text
        (token,) = tokens
        assert token in mail.html
        return token

    async def unlock(self, email: str, token: str, ip: str = OWNER_IP) -> httpx.Response:
        return await self.client.post(
            f"{V1}/auth/unlock",
            json={"email": email, "token": token},
            headers={"X-Forwarded-For": ip},
        )


Launch = Callable[..., Awaitable[Env]]


@pytest.fixture
async def launch(
    make_settings: SettingsFactory, smtp_server: SmtpTestServer
) -> AsyncIterator[Launch]:
    async with AsyncExitStack() as stack:

        async def start(clock: ManualClock | None = None, **overrides: Any) -> Env:
            values: dict[str, Any] = {
                "login_max_failures": MAX_FAILURES,
                "login_lockout_seconds": 60,
                "login_lockout_max_seconds": 240,
                "login_account_guesses_per_hour": BUDGET_PER_HOUR,
                "trusted_proxies": [PROXY],
                "auth_require_verified_email": False,
                "otp_resend_cooldown_seconds": 0,
            }
            values.update(overrides)
            clock = clock or ManualClock()
            app: FastAPI = create_app(
                email_settings(make_settings, smtp_server, **values), clock=clock
            )
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app, client=(PROXY, 50000))
            client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            return Env(app, await stack.enter_async_context(client), clock, smtp_server)

        yield start


def assert_refused(response: httpx.Response, code: str, retry_after: int | None = None) -> None:
    assert_problem(response, 429, code)
    value = response.headers["retry-after"]
    assert value.isdigit(), f"Retry-After must be whole seconds: {value!r}"
    if retry_after is not None:
        assert int(value) == retry_after
    assert "access_token" not in response.text


async def spend_budget(env: Env, email: str) -> None:
    """Wrong passwords from the attacker IPs until the account's window budget is spent."""
    for ip in ATTACKER_IPS:
        for _ in range(MAX_FAILURES):
            response = await env.attempt(email, ip=ip)
            if response.status_code == 429:
                assert_refused(response, "unlock_required")
                return
            assert_problem(response, 401, "invalid_credentials")
    raise AssertionError("the budget was never spent")


async def test_a_locked_client_is_refused_even_the_right_password_but_others_are_not(
    launch: Launch,
) -> None:
    env = await launch()
    email = "olga@example.com"
    await register(env.client, email)
    await env.fail(email, MAX_FAILURES, ip=ATTACKER_IPS[0])

    assert_refused(
        await env.attempt(email, DEFAULT_PASSWORD, ATTACKER_IPS[0]), "account_locked", 60
    )
    # The lock is on that client only: the owner, elsewhere, logs in.
    assert (await env.attempt(email, DEFAULT_PASSWORD, OWNER_IP)).status_code == 200


async def test_a_lock_expires_and_each_further_one_doubles_up_to_the_cap(launch: Launch) -> None:
    env = await launch(login_account_guesses_per_hour=100)
    email = "tara@example.com"
    await register(env.client, email)
    ip = ATTACKER_IPS[0]

    lengths = []
    for _ in range(4):
        await env.fail(email, MAX_FAILURES, ip=ip)
        refused = await env.attempt(email, DEFAULT_PASSWORD, ip)
        assert_refused(refused, "account_locked")
        lengths.append(int(refused.headers["retry-after"]))
        env.clock.advance(seconds=lengths[-1] - 1)
        assert_refused(await env.attempt(email, ip=ip), "account_locked", 1)
        env.clock.advance(seconds=1)
    assert lengths == [60, 120, 240, 240]
    assert (await env.attempt(email, DEFAULT_PASSWORD, ip)).status_code == 200


async def test_a_success_resets_the_clients_consecutive_count(launch: Launch) -> None:
    env = await launch()
    email = "sami@example.com"
    await register(env.client, email)
    for _ in range(3):
        await env.fail(email, MAX_FAILURES - 1)
        assert (await env.attempt(email, DEFAULT_PASSWORD)).status_code == 200
    await env.fail(email, MAX_FAILURES)
    assert_refused(await env.attempt(email, DEFAULT_PASSWORD), "account_locked", 60)


async def test_twenty_attacker_ips_cannot_keep_the_owner_out(launch: Launch) -> None:
    """The attackers spend the budget; the owner proves the mailbox and logs in, and
    the attackers stay refused without a single further guess checked."""
    env = await launch()
    email = "owner@example.com"
    await register(env.client, email)

    guesses = 0
    for ip in ATTACKER_IPS:
        for _ in range(MAX_FAILURES):
            response = await env.attempt(email, ip=ip)
            if response.status_code == 401:
                guesses += 1
            else:
                assert_refused(response, "unlock_required")
    assert guesses == BUDGET_PER_WINDOW

    # The budget is the account's: the owner's right password, from a clean client, is
    # refused too, and told how to get past it.
    refused = await env.attempt(email, DEFAULT_PASSWORD, OWNER_IP)
    assert_refused(refused, "unlock_required", 3_600)
    assert "request-unlock" in refused.json()["detail"]

    token = await env.request_unlock(email)
    assert (await env.unlock(email, token)).status_code == 204
    assert (await env.attempt(email, DEFAULT_PASSWORD, OWNER_IP)).status_code == 200
    # Only the client that proved the mailbox got through.
    for ip in ATTACKER_IPS:
        assert_refused(await env.attempt(email, DEFAULT_PASSWORD, ip), "unlock_required")
    # The owner keeps access after a typo and a success, for LOGIN_UNLOCK_SECONDS.
    await env.fail(email, 1)
    assert (await env.attempt(email, DEFAULT_PASSWORD, OWNER_IP)).status_code == 200


async def test_an_hour_of_guessing_from_twenty_ips_stays_within_the_hourly_bound(
    launch: Launch,
) -> None:
    env = await launch()
    email = "bounded@example.com"
    await register(env.client, email)
    start = env.clock.now()

    checked: list[datetime] = []
    for _ in range(3 * 60 // 4):  # three hours, a round of every attacker each 4 minutes
        for ip in ATTACKER_IPS:
            response = await env.attempt(email, ip=ip)
            if response.status_code == 401:
                checked.append(env.clock.now())
            else:
                assert response.status_code == 429, response.text
        env.clock.advance(minutes=4)

    assert env.clock.now() - start >= timedelta(hours=3)
    assert busiest_hour(checked) <= BUDGET_PER_HOUR
    # And the budget was really spent, more than once: the bound is what held them.
    assert len(checked) >= 2 * BUDGET_PER_WINDOW


def busiest_hour(moments: list[datetime]) -> int:
    """The most of ``moments`` that fall within any sixty minutes."""
    return max(
        sum(1 for moment in moments if begin <= moment < begin + timedelta(hours=1))
        for begin in moments
    )


async def test_guesses_packed_around_a_window_boundary_stay_within_the_hourly_bound(
    launch: Launch,
) -> None:
    """The worst case of fixed windows: one guess opens a window, the rest of it is
    spent in its last minute, and the next window is spent at once."""
    env = await launch()
    email = "boundary@example.com"
    await register(env.client, email)
    attackers = iter(ATTACKER_IPS * 10)

    async def guess_until_refused() -> list[datetime]:
        checked = []
        while (response := await env.attempt(email, ip=next(attackers))).status_code == 401:
            checked.append(env.clock.now())
        assert_refused(response, "unlock_required")
        return checked

    await env.fail(email, 1, ip=next(attackers))
    opened = env.clock.now()
    env.clock.advance(minutes=59)
    late = await guess_until_refused()
    env.clock.advance(minutes=1)
    early = await guess_until_refused()

    assert len(late) == BUDGET_PER_WINDOW - 1
    assert len(early) == BUDGET_PER_WINDOW
    assert busiest_hour([opened, *late, *early]) <= BUDGET_PER_HOUR


async def test_concurrent_guesses_from_many_ips_cannot_overrun_the_budget(launch: Launch) -> None:
    env = await launch(login_max_failures=100)
    email = "stampede@example.com"
    await register(env.client, email)
    ips = [f"198.51.100.{n}" for n in range(1, 41)]

    responses = await asyncio.gather(*(env.attempt(email, ip=ip) for ip in ips))

    checked = [response for response in responses if response.status_code == 401]
    assert len(checked) == BUDGET_PER_WINDOW, [response.status_code for response in responses]
    for response in responses:
        if response.status_code != 401:
            assert_refused(response, "unlock_required")


async def test_concurrent_guesses_from_one_client_cannot_overrun_its_lock(launch: Launch) -> None:
    env = await launch()
    email = "burst@example.com"
    await register(env.client, email)

    responses = await asyncio.gather(*(env.attempt(email, ip=ATTACKER_IPS[0]) for _ in range(12)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [401] * MAX_FAILURES + [429] * (12 - MAX_FAILURES)
    assert (await env.attempt(email, DEFAULT_PASSWORD, OWNER_IP)).status_code == 200


@pytest.mark.parametrize(
    ("attacker", "neighbour", "owner", "recorded"),
    [
        # IPv4 clients of a dual-stack socket: each its own client, not one ::/64.
        ("::ffff:198.51.100.1", "::ffff:198.51.100.1", "::ffff:192.0.2.10", "192.0.2.10"),
        # IPv6: one host owns a /64, so the lock covers it; another /64 is another client.
        ("2001:db8:0:1::1", "2001:db8:0:1::2", "2001:db8:0:2::1", "2001:db8:0:2::1"),
    ],
)
async def test_clients_are_addresses_of_ipv4_and_64s_of_ipv6(
    launch: Launch, attacker: str, neighbour: str, owner: str, recorded: str
) -> None:
    env = await launch(trusted_proxies=[])
    email = "dual@example.com"
    await register(env.client, email)

    async with env.direct_client(attacker) as client:
        for _ in range(MAX_FAILURES):
            response = await client.post(
                f"{V1}/auth/login", data={"username": email, "password": WRONG_PASSWORD}
            )
            assert_problem(response, 401, "invalid_credentials")
    async with env.direct_client(neighbour) as client:
        response = await client.post(
            f"{V1}/auth/login", data={"username": email, "password": DEFAULT_PASSWORD}
        )
        assert_refused(response, "account_locked")
    async with env.direct_client(owner) as client:
        response = await client.post(
            f"{V1}/auth/login", data={"username": email, "password": DEFAULT_PASSWORD}
        )
        assert response.status_code == 200, response.text
        sessions = await client.get(
            f"{V1}/users/me/sessions",
            headers={"Authorization": f"Bearer {response.json()['access_token']}"},
        )
    assert [item["ip_address"] for item in sessions.json()] == [recorded]


async def test_verifying_the_email_lifts_the_lock(launch: Launch) -> None:
    env = await launch()
    email = "verify@example.com"
    await register(env.client, email)
    code = extract_code(await wait_for_mail(env.smtp, email, SUBJECT_VERIFY))
    await env.fail(email, MAX_FAILURES)
    await spend_budget(env, email)
    assert_refused(await env.attempt(email, DEFAULT_PASSWORD), "account_locked")

    response = await env.client.post(
        f"{V1}/auth/verify-email",
        json={"email": email, "code": code},
        headers={"X-Forwarded-For": OWNER_IP},
    )
    assert response.status_code == 200, response.text

    assert (await env.attempt(email, DEFAULT_PASSWORD, OWNER_IP)).status_code == 200
    assert_refused(await env.attempt(email, DEFAULT_PASSWORD, ATTACKER_IPS[0]), "unlock_required")


async def test_a_password_reset_lifts_the_lock(launch: Launch) -> None:
    env = await launch()
    email = "reset@example.com"
    await register(env.client, email)
    await env.fail(email, MAX_FAILURES)
    await spend_budget(env, email)
    assert_refused(await env.attempt(email, DEFAULT_PASSWORD), "account_locked")

    response = await env.client.post(
        f"{V1}/auth/forgot-password", json={"email": email}, headers={"X-Forwarded-For": OWNER_IP}
    )
    assert response.status_code == 202
    mail = await wait_for_mail(env.smtp, email, "Reset your Acme Test password")
    (code,) = set(re.findall(r"(?<![0-9])[0-9]{6}(?![0-9])", mail.text))
    new_password = "a-brand-new-passphrase-77"
    response = await env.client.post(
        f"{V1}/auth/reset-password",
        json={"email": email, "code": code, "new_password": new_password},
        headers={"X-Forwarded-For": OWNER_IP},
    )
    assert response.status_code == 204, response.text

    assert (await env.attempt(email, new_password, OWNER_IP)).status_code == 200
    assert_refused(await env.attempt(email, new_password, ATTACKER_IPS[0]), "unlock_required")


async def test_unlock_tokens_work_once_for_their_address_until_they_expire(
    launch: Launch,
) -> None:
    env = await launch()
    email, other = "tokens@example.com", "other@example.com"
    await register(env.client, email)
    await register(env.client, other)
    await spend_budget(env, email)

    token = await env.request_unlock(email)
    assert_problem(await env.unlock(other, token), 400, "invalid_code")
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert_problem(await env.unlock(email, forged), 400, "invalid_code")
    assert_problem(await env.unlock(email, "12.34.56"), 400, "invalid_code")

    later = await env.request_unlock(email)
    assert later != token, "a new token does not void the older one"
    assert (await env.unlock(email, token)).status_code == 204
    assert_problem(await env.unlock(email, token), 400, "invalid_code")

    env.clock.advance(hours=1)
    assert_problem(await env.unlock(email, later), 400, "invalid_code")


async def test_unknown_addresses_behave_exactly_like_known_ones(launch: Launch) -> None:
    env = await launch()
    known, unknown = "vera@example.com", "nobody@example.com"
    await register(env.client, known)

    observed: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
    for email in (known, unknown):
        seen = []
        for ip in ATTACKER_IPS[:5]:
            for _ in range(MAX_FAILURES + 1):
                response = await env.attempt(email, ip=ip)
                body = response.json()
                body.pop("request_id")
                seen.append((response.status_code, response.headers.get("retry-after", ""), body))
        unlock = await env.client.post(f"{V1}/auth/request-unlock", json={"email": email})
        seen.append((unlock.status_code, "", unlock.json()))
        bad = await env.unlock(email, "1999999999.AAAAAAAAAAAAAAAAAAAAAA." + "0" * 64)
        body = bad.json()
        body.pop("request_id")
        seen.append((bad.status_code, "", body))
        observed[email] = seen
    statuses = {status for status, _, _ in observed[known]}
    assert statuses == {401, 429, 202, 400}
    assert observed[known] == observed[unknown], "the lockout must not reveal which emails exist"


async def test_locks_and_unlocks_are_audited(launch: Launch) -> None:
    env = await launch()
    email = "audited@example.com"
    await register(env.client, email)
    await env.fail(email, MAX_FAILURES, ip=ATTACKER_IPS[-1])
    await spend_budget(env, email)
    token = await env.request_unlock(email)
    assert (await env.unlock(email, token)).status_code == 204

    admin = await login_superuser(env.client)
    response = await env.client.get(f"{V1}/admin/audit", headers=admin.headers)
    assert response.status_code == 200, response.text
    events = [
        (item["event"], item["ip_address"])
        for item in response.json()["items"]
        if item["subject_email"] == email
    ]
    assert ("account_locked", ATTACKER_IPS[-1]) in events
    assert any(event == "login_budget_spent" for event, _ in events)
    assert ("account_unlocked", OWNER_IP) in events


async def test_the_lock_holds_across_app_instances_on_one_database(launch: Launch) -> None:
    clock = ManualClock()
    first = await launch(clock)
    second = await launch(clock)  # same settings: the same database and secret key
    email = "umar@example.com"
    await register(first.client, email)

    await first.fail(email, MAX_FAILURES - 1)
    # The count is shared: the third failure, on the other instance, locks.
    assert_problem(await second.attempt(email), 401, "invalid_credentials")
    assert_refused(await first.attempt(email, DEFAULT_PASSWORD), "account_locked")
    assert_refused(await second.attempt(email, DEFAULT_PASSWORD), "account_locked")


async def test_many_accounts_from_one_ip_hit_the_per_ip_limit(launch: Launch) -> None:
    """One guess per account dodges the lockout; the per-IP limit still holds."""
    env = await launch(
        rate_limit_enabled=True,
        rate_limit_login_per_ip="10/minute",
        rate_limit_login_per_account="1000/minute",
    )
    victims = [f"victim{n}@example.com" for n in range(3)]
    for email in victims:
        await register(env.client, email)
    targets = victims + [f"guess{n}@example.com" for n in range(12)]

    attacker = "198.51.100.66"
    statuses = [(await env.attempt(email, ip=attacker)).status_code for email in targets]
    assert statuses == [401] * 10 + [429] * 5
    assert_refused(await env.attempt("another@example.com", ip=attacker), "rate_limited")
    # No account was locked by one failure each: their owners log in from elsewhere.
    for email in victims:
        response = await env.attempt(email, DEFAULT_PASSWORD, ip="198.51.100.67")
        assert response.status_code == 200, response.text
