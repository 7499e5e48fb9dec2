"""The mail server goes away: requests still succeed, the outbox keeps every message,
and once the server is back each message is delivered exactly once."""

import asyncio
from collections import Counter
from typing import Any

from app.db.mongo import MongoConnection
from app.models.email import OutboxStatus
from tests.api.email_helpers import (
    FROM_EMAIL,
    SUBJECT_VERIFY,
    MailEnv,
    email_settings,
    extract_code,
    installed_fake_mongo,
    running_mail_app,
    wait_for_messages,
    wait_until,
)
from tests.api.helpers import LoggedIn
from tests.conftest import DEFAULT_PASSWORD, SettingsFactory
from tests.smtp_server import SmtpTestServer

USERS = 20
# Retries come every 0.1-0.5 s during the outage; 50 attempts (the maximum allowed)
# keep every message retrying for well over ten seconds, so none gives up while the
# server is down, and a retry follows within half a second once it is back.
OUTAGE_OVERRIDES: dict[str, Any] = {
    "outbox_max_attempts": 50,
    "outbox_backoff_max_seconds": 0.5,
}


def addresses(count: int, prefix: str = "outage") -> list[str]:
    return [f"{prefix}-{n:02d}@example.com" for n in range(count)]


async def wait_for_failed_attempts(env: MailEnv, admin: LoggedIn, count: int) -> None:
    """Wait until a snapshot shows ``count`` messages pending after a failed attempt each."""

    async def all_pending_with_errors() -> bool:
        items = await env.admin_emails(admin)
        return len(items) == count and all(
            item["status"] == "pending" and item["attempts"] >= 1 and item["last_error"]
            for item in items
        )

    await wait_until(all_pending_with_errors, f"{count} pending messages with a recorded error")


async def test_outage_keeps_every_message_and_delivers_each_once_after(
    make_settings: SettingsFactory, smtp_server: SmtpTestServer
) -> None:
    smtp_server.stop()
    settings = email_settings(make_settings, smtp_server, **OUTAGE_OVERRIDES)
    emails = addresses(USERS)
    async with running_mail_app(settings, smtp_server) as env:
        admin = await env.superuser()
        responses = await asyncio.gather(
            *(
                env.client.post(
                    "/api/v1/auth/register", json={"email": email, "password": DEFAULT_PASSWORD}
                )
                for email in emails
            )
        )
        assert [r.status_code for r in responses] == [201] * USERS, [r.text for r in responses]

        # Every registration queued its email in its own transaction, before answering.
        queued = await env.admin_emails(admin)
        assert sorted(item["recipient"] for item in queued) == sorted(emails)
        assert {item["kind"] for item in queued} == {"verification_code"}

        await wait_for_failed_attempts(env, admin, USERS)
        items = await env.admin_emails(admin)
        assert all("SMTP connection failed" in item["last_error"] for item in items)
        assert all(item["sent_at"] is None for item in items)
        assert await env.admin_emails(admin, status="sent") == []
        assert await env.admin_emails(admin, status="failed") == []
        counts = await env.outbox.count_by_status()
        assert counts[OutboxStatus.SENT] == counts[OutboxStatus.FAILED] == 0
        assert smtp_server.received == []

        smtp_server.start()  # the same port as before
        received = await wait_for_messages(smtp_server, USERS)
        await env.settle()
        received = smtp_server.received
        assert len(received) == USERS, "no message was delivered twice"

        recipients = Counter(rcpt for mail in received for rcpt in mail.rcpt_tos)
        assert recipients == Counter(emails)
        message_ids = [mail.message["Message-ID"] for mail in received]
        assert len(set(message_ids)) == USERS
        sent = await env.admin_emails(admin, status="sent")
        assert len(sent) == USERS
        domain = FROM_EMAIL.rpartition("@")[2]
        assert set(message_ids) == {f"<{item['id']}@{domain}>" for item in sent}
        assert all(item["sent_at"] is not None for item in sent)
        assert all(item["attempts"] >= 2 for item in sent), "each failed at least once"
        counts = await env.outbox.count_by_status()
        assert counts == {
            OutboxStatus.PENDING: 0,
            OutboxStatus.SENDING: 0,
            OutboxStatus.SENT: USERS,
            OutboxStatus.FAILED: 0,
        }

        # The delayed codes still work.
        for mail in received:
            assert mail.message["Subject"] == SUBJECT_VERIFY
            (email,) = mail.rcpt_tos
            response = await env.verify(email, extract_code(mail))
            assert response.status_code == 200, response.text
            assert response.json()["is_verified"] is True


async def test_queued_messages_survive_an_app_restart(
    make_settings: SettingsFactory, smtp_server: SmtpTestServer
) -> None:
    """Queued while the server is down, the app stops; the next app process delivers them."""
    smtp_server.stop()
    settings = email_settings(make_settings, smtp_server, **OUTAGE_OVERRIDES)
    emails = addresses(3, prefix="restart")
    async with running_mail_app(settings, smtp_server) as env:
        admin = await env.superuser()
        for email in emails:
            await env.register(email)
        await wait_for_failed_attempts(env, admin, len(emails))
        fake_mongo = installed_fake_mongo()
    # The app has shut down; its worker finished cleanly, leaving nothing leased.
    if fake_mongo is not None:
        # The in-process MongoDB fake is the "server": it outlives the app's client.
        MongoConnection.install(fake_mongo)

    smtp_server.start()
    async with running_mail_app(settings, smtp_server) as env:
        admin = await env.superuser()
        await wait_for_messages(smtp_server, len(emails))
        await env.settle()
        received = smtp_server.received
        assert sorted(rcpt for mail in received for rcpt in mail.rcpt_tos) == sorted(emails)
        assert len({mail.message["Message-ID"] for mail in received}) == len(emails)
        sent = await env.admin_emails(admin, status="sent")
        assert sorted(item["recipient"] for item in sent) == sorted(emails)
        for mail in received:
            (email,) = mail.rcpt_tos
            assert (await env.verify(email, extract_code(mail))).status_code == 200
