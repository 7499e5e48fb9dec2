"""Account enumeration: an unknown address must look exactly like a known one.

For login (unknown address vs a known one with a wrong password), forgot-password and
resend-verification (unknown vs known), the status, the headers and the body (request
id aside) are identical, and so is the response time, within a tolerance wide enough
for a loaded two-core machine: medians over many alternating samples may differ by at
most RATIO_TOLERANCE times or ABSOLUTE_TOLERANCE seconds. Rate limits are off; the
lockout threshold and email cool-down are raised out of the way, since they would
otherwise turn repeated samples into 429s. Login uses the production argon2 cost, so a
missing dummy hash for unknown addresses would show as a ~20-50 ms gap.
"""

import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from tests.api.helpers import V1, comparable, register
from tests.conftest import DEFAULT_PASSWORD, SettingsFactory

SAMPLES = 30
WARM_UP = 3
RATIO_TOLERANCE = 1.5
ABSOLUTE_TOLERANCE = 0.025
KNOWN = "known.user@example.com"
UNKNOWN = "no.such.user@example.com"
WRONG_PASSWORD = "not-the-password-1"

Send = Callable[[str], Awaitable[httpx.Response]]


@pytest.fixture
async def client(make_settings: SettingsFactory) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        # The OWASP minimum (the production default), so hashing costs what it costs.
        argon2_memory_kib=19_456,
        argon2_time_cost=2,
        rate_limit_enabled=False,
        login_max_failures=100,
        otp_resend_cooldown_seconds=0,
    )
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def timed(send: Send, email: str) -> tuple[float, httpx.Response]:
    start = time.perf_counter()
    response = await send(email)
    return time.perf_counter() - start, response


async def assert_indistinguishable(send: Send, expected_status: int) -> None:
    for _ in range(WARM_UP):  # first calls pay for caches and the dummy hash
        await send(KNOWN)
        await send(UNKNOWN)

    durations: dict[str, list[float]] = {KNOWN: [], UNKNOWN: []}
    shapes: dict[str, set[Any]] = {KNOWN: set(), UNKNOWN: set()}
    for n in range(SAMPLES):
        # Alternate which goes first so drift in machine load hits both alike.
        order = (KNOWN, UNKNOWN) if n % 2 == 0 else (UNKNOWN, KNOWN)
        for email in order:
            seconds, response = await timed(send, email)
            assert response.status_code == expected_status, response.text
            durations[email].append(seconds)
            status, headers, body = comparable(response)
            shapes[email].add(repr((status, sorted(headers.items()), body)))

    assert len(shapes[KNOWN]) == 1, shapes[KNOWN]
    assert shapes[KNOWN] == shapes[UNKNOWN], "the responses themselves tell the two apart"

    known, unknown = statistics.median(durations[KNOWN]), statistics.median(durations[UNKNOWN])
    slower, faster = max(known, unknown), min(known, unknown)
    report = (
        f"median known {known * 1000:.1f} ms vs unknown {unknown * 1000:.1f} ms "
        f"over {SAMPLES} samples each"
    )
    assert slower - faster <= ABSOLUTE_TOLERANCE or slower <= faster * RATIO_TOLERANCE, report


async def test_login_unknown_email_is_indistinguishable_from_a_wrong_password(
    client: httpx.AsyncClient,
) -> None:
    await register(client, KNOWN)

    async def send(email: str) -> httpx.Response:
        return await client.post(
            f"{V1}/auth/login", data={"username": email, "password": WRONG_PASSWORD}
        )

    await assert_indistinguishable(send, 401)
    # The known account still works: the samples did not lock or change it.
    ok = await client.post(
        f"{V1}/auth/login", data={"username": KNOWN, "password": DEFAULT_PASSWORD}
    )
    assert ok.status_code == 200, ok.text


async def test_login_timing_uses_a_realistic_hash(client: httpx.AsyncClient) -> None:
    """Guard for the test above: its hashing must be slow enough for a gap to show."""
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


@pytest.mark.parametrize("endpoint", ["forgot-password", "resend-verification"])
async def test_email_requests_for_unknown_addresses_are_indistinguishable(
    client: httpx.AsyncClient, endpoint: str
) -> None:
    # Known and unverified, so resend-verification really sends to it.
    await register(client, KNOWN)

    async def send(email: str) -> httpx.Response:
        return await client.post(f"{V1}/auth/{endpoint}", json={"email": email})

    await assert_indistinguishable(send, 202)
