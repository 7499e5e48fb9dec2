"""Account enumeration: an unknown address must look exactly like a known one.

For login (unknown address vs a known one with a wrong password), forgot-password,
resend-verification and request-unlock (unknown vs known), and verify-email and
reset-password with a wrong code (unknown vs a known address with a live code), the
status, the headers and the body (request id aside) are identical, and so is the
response time.

Time is judged by the probability statistic: over interleaved pairs of requests (one
for each address, back to back, alternating which goes first), the share of pairs in
which the known one was slower (ties count half). Where the two take the same time it
is 0.5 whatever the load on the machine, and it must stay within 0.35-0.65. With 100
pairs its standard deviation under equal times is 0.05, so the band is three
deviations wide each way: a real difference fails it, chance very rarely does. Login,
which hashes at the production argon2 cost, is judged on medians over fewer samples
instead (a missing dummy hash shows as a 20-50 ms gap). Rate limits are off; the
lockout threshold and the email cool-down are raised out of the way, and the clock is
moved past the code budgets' windows.
Timing is judged on SQLite and PostgreSQL; on the in-process MongoDB fake only the
responses are compared, since its timings are mongomock's, not a server's.
"""

import gc
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from tests.api.helpers import V1, comparable, register
from tests.clock import ManualClock
from tests.conftest import DEFAULT_PASSWORD, SettingsFactory

SAMPLES = 30
TIMING_SAMPLES = 100
WARM_UP = 3
P_BAND = (0.35, 0.65)
RATIO_TOLERANCE = 1.5
ABSOLUTE_TOLERANCE = 0.025
# Timed wrong codes a live code takes before the test issues a fresh one: with the
# untimed pair after each refresh, four guesses, one short of burning it.
CODE_REFRESH_EVERY = 3
KNOWN = "known.user@example.com"
UNKNOWN = "no.such.user@example.com"
WRONG_PASSWORD = "not-the-password-1"
WRONG_CODE = "000000"
NEW_PASSWORD = "an-entirely-new-passphrase-9"

Send = Callable[[str], Awaitable[httpx.Response]]


@dataclass
class Env:
    app: FastAPI
    client: httpx.AsyncClient
    clock: ManualClock
    # The in-process MongoDB fake copies every document it reads or writes in Python,
    # on the event loop; its timings say nothing of a MongoDB server's.
    on_fake_store: bool

    async def issue_reset_code(self) -> None:
        """A live reset code for the known address, as the worker issues one."""
        response = await self.client.post(f"{V1}/auth/forgot-password", json={"email": KNOWN})
        assert response.status_code == 202
        assert await self.app.state.container.request_worker.work_once() >= 1

    async def issue_verification_code(self) -> None:
        response = await self.client.post(f"{V1}/auth/resend-verification", json={"email": KNOWN})
        assert response.status_code == 202
        assert await self.app.state.container.request_worker.work_once() >= 1


@pytest.fixture
async def env(make_settings: SettingsFactory) -> AsyncIterator[Env]:
    settings = make_settings(
        # The OWASP minimum (the production default), so hashing costs what it costs.
        argon2_memory_kib=19_456,
        argon2_time_cost=2,
        rate_limit_enabled=False,
        login_max_failures=100,
        otp_resend_cooldown_seconds=0,
        otp_guesses_per_hour=100,
    )
    clock = ManualClock()
    app: FastAPI = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Env(app, http, clock, on_fake_store="fake.invalid" in settings.database_url)


async def timed(send: Send, email: str) -> tuple[float, httpx.Response]:
    start = time.perf_counter()
    response = await send(email)
    return time.perf_counter() - start, response


def probability_known_slower(known: list[float], unknown: list[float]) -> float:
    """P(the known request of a pair was the slower one), ties counting half.

    The two requests of a pair ran back to back, under the same load; comparing
    within pairs keeps load that comes and goes (other tests, the database's own
    work) out of the statistic.
    """
    wins = sum(
        1.0 if k > u else 0.5 if k == u else 0.0 for k, u in zip(known, unknown, strict=True)
    )
    return wins / len(known)


async def sample(
    send: Send,
    expected_status: int,
    samples: int,
    between: Callable[[int], Awaitable[None]] | None = None,
) -> dict[str, list[float]]:
    """Interleaved timings of ``send`` for both addresses, with identical responses."""
    for _ in range(WARM_UP):  # first calls pay for caches and the dummy hash
        await send(KNOWN)
        await send(UNKNOWN)

    durations: dict[str, list[float]] = {KNOWN: [], UNKNOWN: []}
    shapes: dict[str, set[Any]] = {KNOWN: set(), UNKNOWN: set()}
    # Late in a long run the test process's heap is large, and one full collection can
    # outlast a whole request; it lands on whichever request crossed the threshold,
    # which says nothing about the app. Collect now, and not while sampling.
    gc.collect()
    gc.disable()
    try:
        for n in range(samples):
            if between is not None:
                await between(n)
            # Alternate which goes first so drift in machine load hits both alike.
            order = (KNOWN, UNKNOWN) if n % 2 == 0 else (UNKNOWN, KNOWN)
            for email in order:
                seconds, response = await timed(send, email)
                assert response.status_code == expected_status, response.text
                durations[email].append(seconds)
                status, headers, body = comparable(response)
                shapes[email].add(repr((status, sorted(headers.items()), body)))
    finally:
        gc.enable()

    assert len(shapes[KNOWN]) == 1, shapes[KNOWN]
    assert shapes[KNOWN] == shapes[UNKNOWN], "the responses themselves tell the two apart"
    return durations


async def assert_same_timing(
    env: Env,
    send: Send,
    expected_status: int,
    between: Callable[[int], Awaitable[None]] | None = None,
) -> None:
    durations = await sample(send, expected_status, TIMING_SAMPLES, between)
    if env.on_fake_store:
        return  # the responses were compared; their timing is the fake's, not a server's
    p = probability_known_slower(durations[KNOWN], durations[UNKNOWN])
    report = (
        f"P(known slower) = {p:.2f}; median known "
        f"{statistics.median(durations[KNOWN]) * 1000:.2f} ms vs unknown "
        f"{statistics.median(durations[UNKNOWN]) * 1000:.2f} ms over {TIMING_SAMPLES} each"
    )
    assert P_BAND[0] <= p <= P_BAND[1], report


async def test_login_unknown_email_is_indistinguishable_from_a_wrong_password(env: Env) -> None:
    client = env.client
    await register(client, KNOWN)

    async def send(email: str) -> httpx.Response:
        return await client.post(
            f"{V1}/auth/login", data={"username": email, "password": WRONG_PASSWORD}
        )

    durations = await sample(send, 401, SAMPLES)
    known, unknown = statistics.median(durations[KNOWN]), statistics.median(durations[UNKNOWN])
    slower, faster = max(known, unknown), min(known, unknown)
    report = (
        f"median known {known * 1000:.1f} ms vs unknown {unknown * 1000:.1f} ms "
        f"over {SAMPLES} samples each"
    )
    assert slower - faster <= ABSOLUTE_TOLERANCE or slower <= faster * RATIO_TOLERANCE, report
    # The known account still works: the samples did not lock or change it.
    ok = await client.post(
        f"{V1}/auth/login", data={"username": KNOWN, "password": DEFAULT_PASSWORD}
    )
    assert ok.status_code == 200, ok.text


async def test_login_timing_uses_a_realistic_hash(env: Env) -> None:
    """Guard for the test above: its hashing must be slow enough for a gap to show."""
    client = env.client
    await register(client, KNOWN)
    seconds = []
    for _ in range(3):
        elapsed, response = await timed(
            lambda email: client.post(
                f"{V1}/auth/login", data={"username": email, "password": WRONG_PASSWORD}
            ),
            KNOWN,
        )
        assert response.status_code == 401
        seconds.append(elapsed)
    assert min(seconds) >= 0.005, f"argon2 at the OWASP cost takes milliseconds: {seconds}"


@pytest.mark.parametrize("endpoint", ["forgot-password", "resend-verification", "request-unlock"])
async def test_email_requests_for_unknown_addresses_take_the_same_time(
    env: Env, endpoint: str
) -> None:
    # Known and unverified, so resend-verification really sends to it.
    await register(env.client, KNOWN)

    async def send(email: str) -> httpx.Response:
        return await env.client.post(f"{V1}/auth/{endpoint}", json={"email": email})

    await assert_same_timing(env, send, 202)


async def test_a_wrong_verification_code_takes_the_same_time_for_unknown_addresses(
    env: Env,
) -> None:
    await register(env.client, KNOWN)  # unverified: it has a live verification code

    async def send(email: str) -> httpx.Response:
        return await env.client.post(
            f"{V1}/auth/verify-email", json={"email": email, "code": WRONG_CODE}
        )

    async def refresh(n: int) -> None:
        if n % CODE_REFRESH_EVERY == 0:
            env.clock.advance(hours=1)
            await env.issue_verification_code()
            # Untimed, so the work of the refresh (and the first request after it)
            # weighs on neither address's samples.
            await send(KNOWN)
            await send(UNKNOWN)

    await assert_same_timing(env, send, 400, refresh)


async def test_a_wrong_reset_code_takes_the_same_time_for_unknown_addresses(env: Env) -> None:
    await register(env.client, KNOWN)

    async def send(email: str) -> httpx.Response:
        return await env.client.post(
            f"{V1}/auth/reset-password",
            json={"email": email, "code": WRONG_CODE, "new_password": NEW_PASSWORD},
        )

    async def refresh(n: int) -> None:
        if n % CODE_REFRESH_EVERY == 0:
            env.clock.advance(hours=1)
            await env.issue_reset_code()
            # Untimed, so the work of the refresh (and the first request after it)
            # weighs on neither address's samples.
            await send(KNOWN)
            await send(UNKNOWN)

    await assert_same_timing(env, send, 400, refresh)
