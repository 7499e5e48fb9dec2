"""Wrong one-time codes are counted per address and purpose across codes.

Asking for a new code gives no fresh guesses: an address takes at most
OTP_GUESSES_PER_HOUR (10 by default, counted 5 per one-hour window) wrong codes in any
hour, whatever the resends. Time is a ``ManualClock``; codes live two hours here so
they outlast a window. Rate limits are off: this holds without them.
"""

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from tests.api.email_helpers import (
    SUBJECT_RESET,
    SUBJECT_VERIFY,
    email_settings,
    extract_code,
    matching,
    other_code,
    wait_for_mail,
)
from tests.api.helpers import V1, assert_problem, register
from tests.clock import ManualClock
from tests.conftest import SettingsFactory
from tests.smtp_server import SmtpTestServer

PER_HOUR = 10
PER_WINDOW = PER_HOUR // 2
NEW_PASSWORD = "a-brand-new-passphrase-77"


class Env:
    def __init__(self, client: httpx.AsyncClient, clock: ManualClock, smtp: SmtpTestServer):
        self.client = client
        self.clock = clock
        self.smtp = smtp

    async def verify(self, email: str, code: str) -> httpx.Response:
        return await self.client.post(
            f"{V1}/auth/verify-email", json={"email": email, "code": code}
        )

    async def reset(self, email: str, code: str) -> httpx.Response:
        return await self.client.post(
            f"{V1}/auth/reset-password",
            json={"email": email, "code": code, "new_password": NEW_PASSWORD},
        )

    async def new_code(self, email: str, subject: str = SUBJECT_VERIFY) -> str:
        """Ask for another code and return it from the mail that brings it."""
        path = "resend-verification" if subject == SUBJECT_VERIFY else "forgot-password"
        count = len(matching(self.smtp, email, subject)) + 1
        response = await self.client.post(f"{V1}/auth/{path}", json={"email": email})
        assert response.status_code == 202, response.text
        return extract_code(await wait_for_mail(self.smtp, email, subject, count))


@pytest.fixture
async def env(make_settings: SettingsFactory, smtp_server: SmtpTestServer) -> AsyncIterator[Env]:
    settings = email_settings(
        make_settings,
        smtp_server,
        otp_guesses_per_hour=PER_HOUR,
        otp_resend_cooldown_seconds=0,
        otp_ttl_seconds=7_200,
    )
    clock = ManualClock()
    app: FastAPI = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Env(client, clock, smtp_server)


async def test_a_new_code_gives_no_fresh_guesses_until_the_window_closes(env: Env) -> None:
    email = "frank@example.com"
    await register(env.client, email)
    first = extract_code(await wait_for_mail(env.smtp, email, SUBJECT_VERIFY))
    for _ in range(PER_WINDOW):
        assert_problem(await env.verify(email, other_code(first)), 400, "invalid_code")

    fresh = await env.new_code(email)
    refused = await env.verify(email, fresh)
    assert_problem(refused, 429, "too_many_code_attempts")
    assert int(refused.headers["retry-after"]) == 3_600

    env.clock.advance(seconds=3_600)
    response = await env.verify(email, fresh)
    assert response.status_code == 200, response.text
    assert response.json()["is_verified"] is True


async def test_hours_of_resends_and_guesses_stay_within_the_hourly_bound(env: Env) -> None:
    """The attack the issue measured: resend after each cool-down, guess each code."""
    email = "target@example.com"
    await register(env.client, email)
    start = env.clock.now()

    wrong_checked: list[datetime] = []
    while env.clock.now() - start < timedelta(hours=3):
        code = await env.new_code(email)
        for _ in range(5):
            response = await env.verify(email, other_code(code))
            if response.status_code == 400:
                wrong_checked.append(env.clock.now())
            else:
                assert_problem(response, 429, "too_many_code_attempts")
        env.clock.advance(minutes=10)

    busiest = max(
        sum(1 for moment in wrong_checked if begin <= moment < begin + timedelta(hours=1))
        for begin in wrong_checked
    )
    assert busiest <= PER_HOUR
    assert len(wrong_checked) >= 2 * PER_WINDOW, "the bound, not a lack of tries, held"


async def test_each_purpose_has_its_own_count(env: Env) -> None:
    email = "purposes@example.com"
    await register(env.client, email)
    verify_code = extract_code(await wait_for_mail(env.smtp, email, SUBJECT_VERIFY))
    for _ in range(PER_WINDOW):
        assert_problem(await env.verify(email, other_code(verify_code)), 400, "invalid_code")
    assert_problem(await env.verify(email, verify_code), 429, "too_many_code_attempts")

    reset_code = await env.new_code(email, SUBJECT_RESET)
    assert (await env.reset(email, reset_code)).status_code == 204


async def test_unknown_addresses_count_exactly_like_known_ones(env: Env) -> None:
    known, unknown = "known@example.com", "nobody@example.com"
    await register(env.client, known)
    code = extract_code(await wait_for_mail(env.smtp, known, SUBJECT_VERIFY))

    observed: dict[str, list[tuple[int, str, str]]] = {}
    for email in (known, unknown):
        seen = []
        for _ in range(PER_WINDOW + 2):
            response = await env.verify(email, other_code(code))
            body = response.json()
            seen.append(
                (response.status_code, response.headers.get("retry-after", ""), body["code"])
            )
        observed[email] = seen
    assert [status for status, _, _ in observed[known]] == [400] * PER_WINDOW + [429, 429]
    assert observed[known] == observed[unknown]
    assert not re.search(r"[0-9]{6}", str(observed))


async def test_wrong_codes_packed_around_a_window_boundary_stay_within_the_hourly_bound(
    env: Env,
) -> None:
    """The worst case of fixed windows: one guess opens a window, the rest of it is
    spent in its last minute, and the next window is spent at once."""
    email = "boundary@example.com"
    await register(env.client, email)
    code = extract_code(await wait_for_mail(env.smtp, email, SUBJECT_VERIFY))

    async def guess_until_refused() -> list[datetime]:
        checked = []
        while (response := await env.verify(email, other_code(code))).status_code == 400:
            checked.append(env.clock.now())
        assert_problem(response, 429, "too_many_code_attempts")
        return checked

    assert_problem(await env.verify(email, other_code(code)), 400, "invalid_code")
    opened = env.clock.now()
    env.clock.advance(minutes=59)
    late = await guess_until_refused()
    env.clock.advance(minutes=1)
    early = await guess_until_refused()

    assert (len(late), len(early)) == (PER_WINDOW - 1, PER_WINDOW)
    moments = [opened, *late, *early]
    assert (
        max(sum(1 for m in moments if b <= m < b + timedelta(hours=1)) for b in moments) <= PER_HOUR
    )


async def test_concurrent_wrong_codes_cannot_overrun_the_budget(env: Env) -> None:
    email = "stampede@example.com"
    await register(env.client, email)
    code = extract_code(await wait_for_mail(env.smtp, email, SUBJECT_VERIFY))

    responses = await asyncio.gather(*(env.verify(email, other_code(code)) for _ in range(20)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [400] * PER_WINDOW + [429] * (20 - PER_WINDOW)
