"""Helpers of the email API tests: an app whose outbox worker talks to a real SMTP server.

Every wait is a bounded poll: it returns as soon as its condition holds and fails with
a message naming what it waited for when ``WAIT_SECONDS`` pass first.
"""

import asyncio
import dataclasses
import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from app.config import Settings
from app.db.mongo import MongoConnection
from app.interfaces.repositories.email_request_repository import EmailRequestRepository
from app.interfaces.repositories.outbox_repository import OutboxRepository
from app.main import create_app
from app.models.email import OutboxMessage, OutboxStatus
from app.models.one_time_code import CodePurpose
from tests.api.helpers import V1, LoggedIn, login_superuser
from tests.conftest import DEFAULT_PASSWORD, SettingsFactory
from tests.fakes.async_mongomock import AsyncMongomockClient
from tests.smtp_server import ReceivedEmail, SmtpTestServer

PROJECT = "Acme Test"
FROM_EMAIL = "noreply@acme.test"
FROM_NAME = "Acme Accounts"
SUBJECT_VERIFY = f"Verify your email for {PROJECT}"
SUBJECT_RESET = f"Reset your {PROJECT} password"
SUBJECT_CHANGED = f"Your {PROJECT} password was changed"
SUBJECT_WELCOME = f"Welcome to {PROJECT}"

WAIT_SECONDS = 10.0
POLL_SECONDS = 0.02

CODE_PATTERN = re.compile(r"(?<![0-9])[0-9]{6}(?![0-9])")
OUTBOX_FIELDS = {
    "id",
    "kind",
    "recipient",
    "subject",
    "status",
    "attempts",
    "last_error",
    "next_attempt_at",
    "created_at",
    "updated_at",
    "sent_at",
}


def email_settings(
    make_settings: SettingsFactory, smtp: SmtpTestServer, **overrides: Any
) -> Settings:
    """Settings with the real mail flow on: SMTP to ``smtp``, the worker, verified logins."""
    values: dict[str, Any] = {
        "email_backend": "smtp",
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "smtp_timeout_seconds": 5.0,
        "email_worker_enabled": True,
        "auth_require_verified_email": True,
        "outbox_poll_interval_seconds": 0.05,
        "outbox_backoff_base_seconds": 0.05,
        "outbox_backoff_max_seconds": 0.2,
        "project_name": PROJECT,
        "emails_from_email": FROM_EMAIL,
        "emails_from_name": FROM_NAME,
    }
    values.update(overrides)
    return make_settings(**values)


async def wait_until(
    condition: Callable[[], bool] | Callable[[], Awaitable[bool]],
    what: str,
    within: float = WAIT_SECONDS,
) -> None:
    """Poll ``condition`` (sync or async) until it is true; fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() >= deadline:
            raise AssertionError(f"timed out after {within:.0f}s waiting for {what}")
        await asyncio.sleep(POLL_SECONDS)


async def wait_for_messages(
    smtp: SmtpTestServer, count: int, within: float = WAIT_SECONDS
) -> list[ReceivedEmail]:
    """Wait until the SMTP server has received at least ``count`` messages; return them all."""
    await wait_until(
        lambda: len(smtp.received) >= count,
        f"{count} message(s) at the SMTP server (have {len(smtp.received)})",
        within,
    )
    return smtp.received


def matching(
    smtp: SmtpTestServer, to: str | None = None, subject: str | None = None
) -> list[ReceivedEmail]:
    return [
        mail
        for mail in smtp.received
        if (to is None or mail.rcpt_tos == [to])
        and (subject is None or mail.message["Subject"] == subject)
    ]


async def wait_for_mail(
    smtp: SmtpTestServer,
    to: str,
    subject: str,
    count: int = 1,
    within: float = WAIT_SECONDS,
) -> ReceivedEmail:
    """Wait for the ``count``-th message to ``to`` with ``subject``; return that one."""
    await wait_until(
        lambda: len(matching(smtp, to, subject)) >= count,
        f"message #{count} to {to} with subject {subject!r}",
        within,
    )
    return matching(smtp, to, subject)[count - 1]


def extract_code(mail: ReceivedEmail) -> str:
    """The one six-digit code of a message, read from its plain-text part."""
    codes: set[str] = set(CODE_PATTERN.findall(mail.text))
    assert len(codes) == 1, f"expected exactly one 6-digit code in the text part: {mail.text!r}"
    (code,) = codes
    assert code in mail.html, "the HTML part shows the same code"
    return code


def other_code(code: str) -> str:
    """A well-formed code that is certainly not ``code``."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def contains_code(text: str, code: str) -> bool:
    """Whether ``code`` appears as a token of its own (not inside an id or a timestamp)."""
    return re.search(rf"(?<![0-9A-Za-z.]){code}(?![0-9A-Za-z])", text) is not None


def installed_fake_mongo() -> AsyncMongomockClient | None:
    """The in-process MongoDB fake the test fixture installed, if the app runs on it."""
    client = MongoConnection._client
    return client if isinstance(client, AsyncMongomockClient) else None


@dataclass
class MailEnv:
    """A running app with the outbox worker, its HTTP client and the SMTP server."""

    app: FastAPI
    client: httpx.AsyncClient
    smtp: SmtpTestServer
    settings: Settings
    outbox: OutboxRepository
    requests: EmailRequestRepository

    async def settle(self, within: float = WAIT_SECONDS) -> None:
        """Wait until no email request waits and the outbox has nothing left to deliver.

        Every email is queued in its request's own transaction, or, for requests that
        name an address, by the worker that fulfils the queued request together with
        its removal; so once no request waits and nothing is pending any more, every
        message a request caused has reached the SMTP server (or failed for good).
        """

        async def no_requests() -> bool:
            return sum((await self.requests.count_by_purpose()).values()) == 0

        async def idle() -> bool:
            counts = await self.outbox.count_by_status()
            return counts[OutboxStatus.PENDING] + counts[OutboxStatus.SENDING] == 0

        await wait_until(no_requests, "no queued email request", within)
        await wait_until(idle, "an idle outbox", within)

    async def all_messages(self) -> list[OutboxMessage]:
        return await self.outbox.list_messages(None, 1000, None)

    async def register(
        self, email: str, password: str = DEFAULT_PASSWORD, **extra: Any
    ) -> dict[str, Any]:
        response = await self.client.post(
            f"{V1}/auth/register", json={"email": email, "password": password, **extra}
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def verification_code(self, email: str, count: int = 1) -> str:
        return extract_code(await wait_for_mail(self.smtp, email, SUBJECT_VERIFY, count))

    async def reset_code(self, email: str, count: int = 1) -> str:
        return extract_code(await wait_for_mail(self.smtp, email, SUBJECT_RESET, count))

    async def verify(self, email: str, code: str) -> httpx.Response:
        return await self.client.post(
            f"{V1}/auth/verify-email", json={"email": email, "code": code}
        )

    async def reset(self, email: str, code: str, new_password: str) -> httpx.Response:
        return await self.client.post(
            f"{V1}/auth/reset-password",
            json={"email": email, "code": code, "new_password": new_password},
        )

    async def resend(self, email: str) -> httpx.Response:
        return await self.client.post(f"{V1}/auth/resend-verification", json={"email": email})

    async def forgot(self, email: str) -> httpx.Response:
        return await self.client.post(f"{V1}/auth/forgot-password", json={"email": email})

    async def login_response(self, email: str, password: str = DEFAULT_PASSWORD) -> httpx.Response:
        return await self.client.post(
            f"{V1}/auth/login", data={"username": email, "password": password}
        )

    async def register_verified(self, email: str, password: str = DEFAULT_PASSWORD) -> str:
        """Register and verify through the real flow; returns the user id."""
        user = await self.register(email, password)
        response = await self.verify(email, await self.verification_code(email))
        assert response.status_code == 200, response.text
        user_id: str = user["id"]
        return user_id

    async def superuser(self) -> LoggedIn:
        return await login_superuser(self.client)

    async def admin_emails(
        self, admin: LoggedIn, status: str | None = None, page_size: int = 100
    ) -> list[dict[str, Any]]:
        """Every entry of GET /admin/emails, following the cursor."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": page_size}
            if status is not None:
                params["status"] = status
            if cursor is not None:
                params["cursor"] = cursor
            response = await self.client.get(
                f"{V1}/admin/emails", params=params, headers=admin.headers
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert set(body) == {"items", "next_cursor"}
            items.extend(body["items"])
            cursor = body["next_cursor"]
            if cursor is None:
                return items


@asynccontextmanager
async def running_mail_app(settings: Settings, smtp: SmtpTestServer) -> AsyncIterator[MailEnv]:
    """Start the app (lifespan included, so the outbox worker runs) and a client for it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield MailEnv(
                app=app,
                client=client,
                smtp=smtp,
                settings=settings,
                outbox=app.state.container.storage.outbox,
                requests=app.state.container.storage.email_requests,
            )


async def expire_code(env: MailEnv, user_id: str, purpose: CodePurpose) -> None:
    """Move a stored code's expiry into the past, as if its TTL had run out.

    OTP_TTL_SECONDS cannot go below 60 s and the app reads the real system clock, so
    waiting for a code to expire is not an option in a fast test. The service decides
    expiry only from the stored ``expires_at`` (``OneTimeCode.is_usable`` and the
    ``expires_at > now`` guard of ``consume``). So the test reads the stored code
    through the app's own repository and writes it back (same id, same hash, same
    attempts) with ``expires_at`` a second ago: exactly the state a minute of waiting
    would leave, on whichever storage backend the app runs.
    """
    codes = env.app.state.container.storage.codes
    stored = await codes.get(user_id, purpose)
    assert stored is not None, "a stored code to expire"
    await codes.replace(
        dataclasses.replace(stored, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    expired = await codes.get(user_id, purpose)
    assert expired is not None
    assert expired.id == stored.id
    assert expired.expires_at < datetime.now(UTC)
