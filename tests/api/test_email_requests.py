"""Requests for emails that name an address are queued durably and fulfilled later.

forgot-password, resend-verification and request-unlock only queue the request (so
they cost the same for every address, see test_enumeration.py); the app's worker
sends what an account should get. A queued request survives the app stopping, and
an address without an account gets nothing.
"""

from app.db.mongo import MongoConnection
from app.models.email_request import EmailRequestPurpose
from tests.api.email_helpers import (
    SUBJECT_RESET,
    SUBJECT_VERIFY,
    email_settings,
    installed_fake_mongo,
    matching,
    running_mail_app,
)
from tests.conftest import SettingsFactory
from tests.smtp_server import SmtpTestServer


async def test_a_queued_request_survives_a_stop_and_is_sent_after_the_restart(
    make_settings: SettingsFactory, smtp_server: SmtpTestServer
) -> None:
    email = "patient@example.com"
    stopped = email_settings(make_settings, smtp_server, email_worker_enabled=False)
    async with running_mail_app(stopped, smtp_server) as mail:
        await mail.register(email)
        assert (await mail.forgot(email)).status_code == 202
        assert await mail.requests.count_by_purpose() == {
            EmailRequestPurpose.VERIFY_EMAIL: 0,
            EmailRequestPurpose.RESET_PASSWORD: 1,
            EmailRequestPurpose.UNLOCK_ACCOUNT: 0,
        }
        fake_mongo = installed_fake_mongo()
    assert matching(smtp_server, email, SUBJECT_RESET) == []
    if fake_mongo is not None:
        # The in-process MongoDB fake is the "server": it outlives the app's client.
        MongoConnection.install(fake_mongo)

    async with running_mail_app(email_settings(make_settings, smtp_server), smtp_server) as mail:
        code = await mail.reset_code(email)
        await mail.settle()
        assert sum((await mail.requests.count_by_purpose()).values()) == 0
        response = await mail.reset(email, code, "a-brand-new-passphrase-77")
        assert response.status_code == 204, response.text
        assert len(matching(smtp_server, email, SUBJECT_RESET)) == 1


async def test_requests_for_addresses_without_an_account_send_nothing(
    make_settings: SettingsFactory, smtp_server: SmtpTestServer
) -> None:
    settings = email_settings(make_settings, smtp_server, otp_resend_cooldown_seconds=0)
    async with running_mail_app(settings, smtp_server) as mail:
        for path in ("forgot-password", "resend-verification", "request-unlock"):
            response = await mail.client.post(
                f"/api/v1/auth/{path}", json={"email": "nobody@example.com"}
            )
            assert response.status_code == 202, response.text
        await mail.settle()
        assert sum((await mail.requests.count_by_purpose()).values()) == 0
        assert smtp_server.received == []
        assert await mail.all_messages() == []


async def test_resend_for_a_verified_account_sends_nothing(
    make_settings: SettingsFactory, smtp_server: SmtpTestServer
) -> None:
    settings = email_settings(make_settings, smtp_server, otp_resend_cooldown_seconds=0)
    async with running_mail_app(settings, smtp_server) as mail:
        email = "done@example.com"
        await mail.register_verified(email)
        await mail.settle()
        before = len(smtp_server.received)
        response = await mail.client.post("/api/v1/auth/resend-verification", json={"email": email})
        assert response.status_code == 202
        await mail.settle()
        assert len(smtp_server.received) == before
        assert len(matching(smtp_server, email, SUBJECT_VERIFY)) == 1
