"""Email verification, password reset and the admin email endpoints, end to end.

Every test runs the real app with its outbox worker over HTTP, on each storage backend
of ``tests/api/conftest.py`` (SQLite always), and delivers to a real SMTP server
(aiosmtpd) on a loopback port; nothing is mocked.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.models.one_time_code import CodePurpose
from tests.api.email_helpers import (
    FROM_EMAIL,
    FROM_NAME,
    OUTBOX_FIELDS,
    PROJECT,
    SUBJECT_CHANGED,
    SUBJECT_RESET,
    SUBJECT_VERIFY,
    SUBJECT_WELCOME,
    MailEnv,
    contains_code,
    email_settings,
    expire_code,
    extract_code,
    matching,
    other_code,
    running_mail_app,
    wait_for_mail,
    wait_for_messages,
)
from tests.api.helpers import V1, assert_problem, bearer, login
from tests.conftest import DEFAULT_PASSWORD, SUPERUSER_EMAIL, SettingsFactory
from tests.smtp_server import SmtpTestServer

NEW_PASSWORD = "a-brand-new-passphrase"


@pytest.fixture
async def mail(
    make_settings: SettingsFactory, smtp_server: SmtpTestServer
) -> AsyncIterator[MailEnv]:
    """The app with the default cool-down (60 s) between emails to one address."""
    settings = email_settings(make_settings, smtp_server)
    async with running_mail_app(settings, smtp_server) as env:
        yield env


@pytest.fixture
async def mail_no_cooldown(
    make_settings: SettingsFactory, smtp_server: SmtpTestServer
) -> AsyncIterator[MailEnv]:
    """The app with OTP_RESEND_COOLDOWN_SECONDS=0, for tests that resend on purpose, and
    the address's hourly bound on wrong codes raised out of the way of one code's own."""
    settings = email_settings(
        make_settings, smtp_server, otp_resend_cooldown_seconds=0, otp_guesses_per_hour=100
    )
    async with running_mail_app(settings, smtp_server) as env:
        yield env


# --- registration and verification ---------------------------------------------------


async def test_register_sends_code_and_verifying_unlocks_login(mail: MailEnv) -> None:
    email = "alice@example.com"
    user = await mail.register(email, full_name="Alice")
    assert user["is_verified"] is False

    received = await wait_for_messages(mail.smtp, 1)
    assert len(received) == 1
    message = received[0]
    assert message.mail_from == FROM_EMAIL
    assert message.rcpt_tos == [email]
    assert message.message["To"] == email
    assert message.message["From"] == f"{FROM_NAME} <{FROM_EMAIL}>"
    assert message.message["Subject"] == SUBJECT_VERIFY
    assert message.message["Message-ID"]
    assert message.message.is_multipart()
    assert message.message.get_content_type() == "multipart/alternative"
    assert "Alice" in message.text
    assert PROJECT in message.text
    assert "10 minutes" in message.text
    assert "<html" in message.html.lower()
    code = extract_code(message)  # from the text part; also checks the HTML shows it

    before = await mail.login_response(email)
    assert_problem(before, 403, "email_not_verified")
    # A wrong password is refused as such: being unverified is only told to the owner.
    assert_problem(await mail.login_response(email, "wrong-password"), 401, "invalid_credentials")

    verified = await mail.verify(email, code)
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["id"] == user["id"]
    assert body["email"] == email
    assert body["is_verified"] is True

    welcome = await wait_for_mail(mail.smtp, email, SUBJECT_WELCOME)
    assert welcome.mail_from == FROM_EMAIL
    assert welcome.html
    assert welcome.text.strip()

    session = await login(mail.client, email)
    me = await mail.client.get(f"{V1}/users/me", headers=session.headers)
    assert me.json()["is_verified"] is True

    await mail.settle()
    assert [m.message["Subject"] for m in matching(mail.smtp, to=email)] == [
        SUBJECT_VERIFY,
        SUBJECT_WELCOME,
    ]


async def test_reset_of_a_verified_address_sends_no_second_welcome(mail: MailEnv) -> None:
    """Only the first verification welcomes; a reset marks verified but only notifies."""
    email = "once@example.com"
    await mail.register_verified(email)
    await wait_for_mail(mail.smtp, email, SUBJECT_WELCOME)
    assert (await mail.forgot(email)).status_code == 202
    code = await mail.reset_code(email)
    assert (await mail.reset(email, code, NEW_PASSWORD)).status_code == 204
    await wait_for_mail(mail.smtp, email, SUBJECT_CHANGED)
    await mail.settle()
    assert [m.message["Subject"] for m in matching(mail.smtp, to=email)] == [
        SUBJECT_VERIFY,
        SUBJECT_WELCOME,
        SUBJECT_RESET,
        SUBJECT_CHANGED,
    ]


async def test_user_text_is_escaped_in_html_and_verbatim_in_text(mail: MailEnv) -> None:
    email = "zoe@example.com"
    name = "Zoë <b>Ünïcode</b> & Co"
    await mail.register(email, full_name=name)
    message = await wait_for_mail(mail.smtp, email, SUBJECT_VERIFY)
    assert name in message.text
    assert "Zoë &lt;b&gt;Ünïcode&lt;/b&gt; &amp; Co" in message.html
    assert "<b>Ünïcode</b>" not in message.html
    extract_code(message)


# --- password reset and change -------------------------------------------------------


async def test_forgot_and_reset_password_revokes_every_session(mail: MailEnv) -> None:
    email = "bob@example.com"
    await mail.register_verified(email)
    first = await login(mail.client, email)
    second = await login(mail.client, email)

    forgot = await mail.forgot(email)
    assert forgot.status_code == 202, forgot.text
    assert forgot.json()["detail"]
    reset_mail = await wait_for_mail(mail.smtp, email, SUBJECT_RESET)
    assert reset_mail.mail_from == FROM_EMAIL
    code = extract_code(reset_mail)

    response = await mail.reset(email, code, NEW_PASSWORD)
    assert response.status_code == 204, response.text
    assert response.content == b""

    for old in (first, second):
        me = await mail.client.get(f"{V1}/users/me", headers=old.headers)
        assert_problem(me, 401, "invalid_token")
        refreshed = await mail.client.post(
            f"{V1}/auth/refresh", json={"refresh_token": old.refresh_token}
        )
        assert refreshed.status_code == 401, refreshed.text

    assert_problem(await mail.login_response(email, DEFAULT_PASSWORD), 401, "invalid_credentials")
    fresh = await login(mail.client, email, NEW_PASSWORD)
    assert fresh.access_token

    changed = await wait_for_mail(mail.smtp, email, SUBJECT_CHANGED)
    assert changed.rcpt_tos == [email]
    assert "changed" in changed.text
    assert not contains_code(changed.text, code)


async def test_reset_password_also_verifies_the_address(mail: MailEnv) -> None:
    """The reset code arrived by email, which proves the address: login then works."""
    email = "unverified-reset@example.com"
    await mail.register(email)
    assert_problem(await mail.login_response(email), 403, "email_not_verified")
    assert (await mail.forgot(email)).status_code == 202
    code = await mail.reset_code(email)
    assert (await mail.reset(email, code, NEW_PASSWORD)).status_code == 204
    session = await login(mail.client, email, NEW_PASSWORD)
    me = await mail.client.get(f"{V1}/users/me", headers=session.headers)
    assert me.json()["is_verified"] is True
    await wait_for_mail(mail.smtp, email, SUBJECT_CHANGED)


async def test_change_password_sends_password_changed_email(mail: MailEnv) -> None:
    email = "carol@example.com"
    await mail.register_verified(email)
    current = await login(mail.client, email)
    other = await login(mail.client, email)

    response = await mail.client.post(
        f"{V1}/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=current.headers,
    )
    assert response.status_code == 204, response.text

    changed = await wait_for_mail(mail.smtp, email, SUBJECT_CHANGED)
    assert changed.mail_from == FROM_EMAIL
    assert changed.rcpt_tos == [email]
    assert changed.html
    assert "changed" in changed.text
    # The session that changed it stays, every other one ends.
    assert (await mail.client.get(f"{V1}/users/me", headers=current.headers)).status_code == 200
    assert_problem(
        await mail.client.get(f"{V1}/users/me", headers=other.headers), 401, "invalid_token"
    )
    await login(mail.client, email, NEW_PASSWORD)


async def test_wrong_current_password_sends_no_email(mail: MailEnv) -> None:
    email = "dave@example.com"
    await mail.register_verified(email)
    session = await login(mail.client, email)
    response = await mail.client.post(
        f"{V1}/users/me/password",
        json={"current_password": "not-the-password", "new_password": NEW_PASSWORD},
        headers=session.headers,
    )
    assert_problem(response, 400, "incorrect_password")
    await mail.settle()
    assert matching(mail.smtp, email, SUBJECT_CHANGED) == []


# --- codes: wrong, burned, used, expired, replaced, purpose-bound --------------------


async def test_wrong_code_and_unknown_email_answer_the_same(mail: MailEnv) -> None:
    email = "erin@example.com"
    await mail.register(email)
    code = await mail.verification_code(email)

    wrong = assert_problem(await mail.verify(email, other_code(code)), 400, "invalid_code")
    unknown = assert_problem(await mail.verify("nobody@example.com", code), 400, "invalid_code")
    assert {k: v for k, v in wrong.items() if k != "request_id"} == {
        k: v for k, v in unknown.items() if k != "request_id"
    }
    # The wrong guess did not burn the code.
    assert (await mail.verify(email, code)).status_code == 200


async def test_code_burns_after_five_wrong_attempts(mail_no_cooldown: MailEnv) -> None:
    mail = mail_no_cooldown
    email = "frank@example.com"
    await mail.register(email)
    code = await mail.verification_code(email)
    wrong = other_code(code)

    for _ in range(5):
        assert_problem(await mail.verify(email, wrong), 400, "invalid_code")
    assert_problem(await mail.verify(email, code), 400, "invalid_code")
    assert_problem(await mail.login_response(email), 403, "email_not_verified")

    # A burned code is gone for good; only a new one helps.
    assert (await mail.resend(email)).status_code == 202
    fresh = await mail.verification_code(email, count=2)
    assert (await mail.verify(email, fresh)).status_code == 200


async def test_four_wrong_attempts_leave_the_code_usable(mail: MailEnv) -> None:
    email = "grace@example.com"
    await mail.register_verified(email)
    assert (await mail.forgot(email)).status_code == 202
    code = await mail.reset_code(email)
    for _ in range(4):
        assert_problem(await mail.reset(email, other_code(code), NEW_PASSWORD), 400, "invalid_code")
    assert (await mail.reset(email, code, NEW_PASSWORD)).status_code == 204
    await login(mail.client, email, NEW_PASSWORD)


async def test_used_codes_cannot_be_used_again(mail: MailEnv) -> None:
    email = "heidi@example.com"
    await mail.register(email)
    code = await mail.verification_code(email)
    assert (await mail.verify(email, code)).status_code == 200
    assert_problem(await mail.verify(email, code), 400, "invalid_code")

    assert (await mail.forgot(email)).status_code == 202
    reset_code = await mail.reset_code(email)
    assert (await mail.reset(email, reset_code, NEW_PASSWORD)).status_code == 204
    replay = await mail.reset(email, reset_code, "yet-another-passphrase")
    assert_problem(replay, 400, "invalid_code")
    # The replay changed nothing: the password is the one of the first reset.
    await login(mail.client, email, NEW_PASSWORD)
    await mail.settle()
    assert len(matching(mail.smtp, email, SUBJECT_CHANGED)) == 1


async def test_expired_codes_are_refused(mail: MailEnv) -> None:
    email = "ivan@example.com"
    user = await mail.register(email)
    code = await mail.verification_code(email)
    await expire_code(mail, user["id"], CodePurpose.VERIFY_EMAIL)
    assert_problem(await mail.verify(email, code), 400, "invalid_code")
    assert_problem(await mail.login_response(email), 403, "email_not_verified")

    assert (await mail.forgot(email)).status_code == 202
    reset_code = await mail.reset_code(email)
    await expire_code(mail, user["id"], CodePurpose.RESET_PASSWORD)
    assert_problem(await mail.reset(email, reset_code, NEW_PASSWORD), 400, "invalid_code")
    assert_problem(await mail.login_response(email, NEW_PASSWORD), 401, "invalid_credentials")


async def test_resend_replaces_the_previous_code(mail_no_cooldown: MailEnv) -> None:
    mail = mail_no_cooldown
    email = "judy@example.com"
    await mail.register(email)
    old = await mail.verification_code(email)
    new, sent = old, 1
    while new == old and sent < 4:  # two random codes are equal once in a million
        assert (await mail.resend(email)).status_code == 202
        sent += 1
        new = await mail.verification_code(email, count=sent)
    assert new != old

    assert_problem(await mail.verify(email, old), 400, "invalid_code")
    assert (await mail.verify(email, new)).status_code == 200


async def test_codes_only_work_for_their_purpose(mail: MailEnv) -> None:
    email = "ken@example.com"
    await mail.register(email)
    verify_code = await mail.verification_code(email)
    assert (await mail.forgot(email)).status_code == 202
    reset_code = await mail.reset_code(email)
    if verify_code == reset_code:  # once in a million: the test would prove nothing
        pytest.skip("the two random codes happen to be equal")

    assert_problem(await mail.reset(email, verify_code, NEW_PASSWORD), 400, "invalid_code")
    assert_problem(await mail.verify(email, reset_code), 400, "invalid_code")

    # Each still works for what it was sent for.
    assert (await mail.verify(email, verify_code)).status_code == 200
    assert (await mail.reset(email, reset_code, NEW_PASSWORD)).status_code == 204
    await login(mail.client, email, NEW_PASSWORD)


async def test_malformed_codes_are_422_and_not_counted(mail: MailEnv) -> None:
    email = "leo@example.com"
    await mail.register(email)
    code = await mail.verification_code(email)
    for malformed in ("12345", "1234567", "abcdef", "12 456", "", "١٢٣٤٥٦"):
        assert_problem(await mail.verify(email, malformed), 422)
    # Six malformed requests counted no attempt: the code is not burned.
    assert (await mail.verify(email, code)).status_code == 200


async def test_concurrent_uses_of_one_code_succeed_once(mail: MailEnv) -> None:
    email = "olga@example.com"
    await mail.register(email)
    code = await mail.verification_code(email)
    verifies = await asyncio.gather(*(mail.verify(email, code) for _ in range(5)))
    assert sorted(r.status_code for r in verifies) == [200] + [400] * 4

    assert (await mail.forgot(email)).status_code == 202
    reset_code = await mail.reset_code(email)
    passwords = [f"concurrent-passphrase-{n}" for n in range(4)]
    resets = await asyncio.gather(*(mail.reset(email, reset_code, pw) for pw in passwords))
    assert sorted(r.status_code for r in resets) == [204] + [400] * 3
    (winner,) = (pw for pw, r in zip(passwords, resets, strict=True) if r.status_code == 204)
    await login(mail.client, email, winner)

    await mail.settle()
    assert len(matching(mail.smtp, email, SUBJECT_WELCOME)) == 1
    assert len(matching(mail.smtp, email, SUBJECT_CHANGED)) == 1


# --- enumeration and cool-down -------------------------------------------------------


async def test_unknown_or_verified_addresses_get_202_and_no_email(
    mail_no_cooldown: MailEnv,
) -> None:
    # No cool-down here: registration started one for the verified address.
    mail = mail_no_cooldown
    verified = "mallory@example.com"
    await mail.register_verified(verified)
    await mail.settle()
    before = len(mail.smtp.received)
    queued_before = len(await mail.all_messages())

    responses = [
        await mail.resend("ghost@example.com"),
        await mail.forgot("phantom@example.com"),
        await mail.resend(verified),  # verified already: nothing to send
    ]
    for response in responses:
        assert response.status_code == 202, response.text
    assert len({r.text for r in responses}) == 1, "the answer does not depend on the address"

    # Anything these requests queued would be in the outbox before the response; none is.
    assert len(await mail.all_messages()) == queued_before
    await mail.settle()
    assert len(mail.smtp.received) == before
    recipients = {rcpt for m in mail.smtp.received for rcpt in m.rcpt_tos}
    assert "ghost@example.com" not in recipients
    assert "phantom@example.com" not in recipients


async def test_cooldown_refuses_a_second_request_known_or_unknown(mail: MailEnv) -> None:
    known = "niaj@example.com"
    await mail.register(known)  # registration starts the verification cool-down
    await mail.verification_code(known)

    refused = [await mail.resend(known)]
    assert (await mail.resend("ghost@example.com")).status_code == 202
    refused.append(await mail.resend("ghost@example.com"))
    assert (await mail.forgot(known)).status_code == 202
    refused.append(await mail.forgot(known))
    assert (await mail.forgot("phantom@example.com")).status_code == 202
    refused.append(await mail.forgot("PHANTOM@example.com"))  # case does not dodge it

    bodies = []
    for response in refused:
        body = assert_problem(response, 429, "rate_limited")
        retry_after = int(response.headers["retry-after"])
        assert 1 <= retry_after <= 60
        bodies.append({k: v for k, v in body.items() if k != "request_id"})
    assert all(body == bodies[0] for body in bodies), "a 429 reveals nothing about the address"

    await mail.settle()
    # One verification (registration) and one reset code; the refused requests sent nothing.
    assert [m.message["Subject"] for m in matching(mail.smtp, to=known)] == [
        SUBJECT_VERIFY,
        SUBJECT_RESET,
    ]
    assert len(mail.smtp.received) == 2


async def test_concurrent_requests_within_the_cooldown_send_one_email(mail: MailEnv) -> None:
    email = "pablo@example.com"
    await mail.register_verified(email)
    responses = await asyncio.gather(*(mail.forgot(email) for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [202] + [429] * 4
    await mail.settle()
    assert len(matching(mail.smtp, email, SUBJECT_RESET)) == 1


async def test_disabled_accounts_get_no_codes_and_codes_stop_working(mail: MailEnv) -> None:
    admin = await mail.superuser()
    email = "quinn@example.com"
    user = await mail.register(email)
    code = await mail.verification_code(email)
    disabled = await mail.client.patch(
        f"{V1}/users/{user['id']}", json={"is_active": False}, headers=admin.headers
    )
    assert disabled.status_code == 200, disabled.text

    assert_problem(await mail.verify(email, code), 400, "invalid_code")
    assert (await mail.forgot(email)).status_code == 202
    assert_problem(await mail.reset(email, code, NEW_PASSWORD), 400, "invalid_code")
    await mail.settle()
    assert [m.message["Subject"] for m in matching(mail.smtp, to=email)] == [SUBJECT_VERIFY]


# --- admin ---------------------------------------------------------------------------


async def test_admin_send_verification_targets_unverified_active_users(mail: MailEnv) -> None:
    admin = await mail.superuser()
    pending = ["olivia@example.com", "peggy@example.com"]
    users = {email: await mail.register(email) for email in pending}
    old_codes = {email: await mail.verification_code(email) for email in pending}
    verified = "quentin@example.com"
    await mail.register_verified(verified)
    inactive = "rupert@example.com"
    inactive_user = await mail.register(inactive)
    disabled = await mail.client.patch(
        f"{V1}/users/{inactive_user['id']}", json={"is_active": False}, headers=admin.headers
    )
    assert disabled.status_code == 200, disabled.text
    await mail.settle()
    before = len(mail.smtp.received)

    response = await mail.client.post(f"{V1}/users/send-verification", headers=admin.headers)
    assert response.status_code == 202, response.text
    assert response.json() == {"queued": 2}

    received = await wait_for_messages(mail.smtp, before + 2)
    await mail.settle()
    fresh = mail.smtp.received[before:]
    assert len(fresh) == 2
    assert sorted(r for m in fresh for r in m.rcpt_tos) == sorted(pending)
    assert all(m.message["Subject"] == SUBJECT_VERIFY for m in fresh)
    assert len(received) == before + 2

    for email in pending:
        new_code = await mail.verification_code(email, count=2)
        if new_code != old_codes[email]:
            assert_problem(await mail.verify(email, old_codes[email]), 400, "invalid_code")
        verified_now = await mail.verify(email, new_code)
        assert verified_now.status_code == 200, verified_now.text
        assert verified_now.json()["id"] == users[email]["id"]
    assert_problem(await mail.login_response(inactive), 403, "account_disabled")


async def test_plain_users_cannot_use_the_admin_email_endpoints(mail: MailEnv) -> None:
    email = "sybil@example.com"
    await mail.register_verified(email)
    await mail.register("unverified@example.com")
    user = await login(mail.client, email)
    await mail.settle()
    before = len(mail.smtp.received)

    send = await mail.client.post(f"{V1}/users/send-verification", headers=user.headers)
    assert_problem(send, 403)
    listing = await mail.client.get(f"{V1}/admin/emails", headers=user.headers)
    assert_problem(listing, 403)
    assert_problem(await mail.client.get(f"{V1}/admin/emails"), 401)
    assert_problem(await mail.client.post(f"{V1}/users/send-verification"), 401)

    assert "subject" not in listing.text
    await mail.settle()
    assert len(mail.smtp.received) == before


async def test_admin_email_list_shows_status_but_no_body_or_code(
    mail: MailEnv,
) -> None:
    mail.smtp.refuse("bounce@example.com")
    admin = await mail.superuser()
    await mail.register_verified("trent@example.com")
    await mail.register("bounce@example.com")
    assert (await mail.forgot("trent@example.com")).status_code == 202
    await mail.reset_code("trent@example.com")
    await mail.settle()
    codes = {
        extract_code(m)
        for m in mail.smtp.received
        if m.message["Subject"] in (SUBJECT_VERIFY, SUBJECT_RESET)
    }
    assert len(codes) >= 2

    response = await mail.client.get(f"{V1}/admin/emails", headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    items: list[dict[str, Any]] = body["items"]
    assert body["next_cursor"] is None
    assert len(items) == 4  # verification x2, welcome, reset code
    for item in items:
        assert set(item) == OUTBOX_FIELDS, "no body fields"
        assert item["status"] in {"sent", "failed"}
    for code in codes:
        assert not contains_code(response.text, code), "a one-time code leaked into the list"
    by_recipient = {(i["recipient"], i["kind"]): i for i in items}
    assert by_recipient[("trent@example.com", "verification_code")]["status"] == "sent"
    assert by_recipient[("trent@example.com", "welcome")]["status"] == "sent"
    assert by_recipient[("trent@example.com", "password_reset_code")]["status"] == "sent"
    assert by_recipient[("bounce@example.com", "verification_code")]["status"] == "failed"
    assert [i["id"] for i in items] == sorted((i["id"] for i in items), reverse=True)

    sent = await mail.admin_emails(admin, status="sent")
    failed = await mail.admin_emails(admin, status="failed")
    assert {i["status"] for i in sent} == {"sent"}
    assert len(sent) == 3
    assert [i["recipient"] for i in failed] == ["bounce@example.com"]
    assert await mail.admin_emails(admin, status="pending") == []

    # Pages of one follow the cursor through the same entries.
    paged = await mail.admin_emails(admin, page_size=1)
    assert [i["id"] for i in paged] == [i["id"] for i in items]

    bad = await mail.client.get(
        f"{V1}/admin/emails", params={"status": "lost"}, headers=admin.headers
    )
    assert_problem(bad, 422)


async def test_refused_recipient_is_recorded_and_request_still_succeeds(mail: MailEnv) -> None:
    mail.smtp.refuse("bounce@example.com")
    admin = await mail.superuser()
    user = await mail.register("bounce@example.com")
    assert user["email"] == "bounce@example.com"
    await mail.register("fine@example.com")
    await mail.verification_code("fine@example.com")  # the server still delivers others
    await mail.settle()

    failed = await mail.admin_emails(admin, status="failed")
    assert len(failed) == 1
    entry = failed[0]
    assert entry["recipient"] == "bounce@example.com"
    assert entry["kind"] == "verification_code"
    assert entry["attempts"] == 1, "a 5xx refusal is permanent: no retries"
    assert entry["sent_at"] is None
    assert entry["last_error"]
    assert "550" in entry["last_error"]
    assert all("bounce@example.com" not in m.rcpt_tos for m in mail.smtp.received)
    # The account exists with its password; it only lacks verification.
    assert_problem(await mail.login_response("bounce@example.com"), 403, "email_not_verified")


# --- bad input -----------------------------------------------------------------------


KNOWN = "known@example.com"
RESET_BODY = {"email": KNOWN, "code": "123456", "new_password": "x" * 12}
BadBody = bytes | dict[str, Any] | list[str]
# (what is wrong, endpoint under /auth, body); bytes are sent raw as application/json.
BAD_INPUT: list[tuple[str, str, BadBody]] = [
    ("resend: bad JSON", "resend-verification", b'{"email": "known@example.com"'),
    ("resend: unknown field", "resend-verification", {"email": KNOWN, "extra": 1}),
    ("resend: invalid email", "resend-verification", {"email": "not-an-email"}),
    ("resend: missing email", "resend-verification", {}),
    ("forgot: form body as JSON", "forgot-password", b"email=known@example.com"),
    ("forgot: unknown field", "forgot-password", {"email": KNOWN, "admin": True}),
    ("forgot: invalid email", "forgot-password", {"email": "known@"}),
    ("forgot: array body", "forgot-password", [KNOWN]),
    ("verify: bad JSON", "verify-email", b"{]"),
    ("verify: unknown field", "verify-email", {"email": KNOWN, "code": "123456", "x": 1}),
    ("verify: invalid email", "verify-email", {"email": "known", "code": "123456"}),
    ("verify: missing code", "verify-email", {"email": KNOWN}),
    ("reset: bad JSON", "reset-password", b"not json at all"),
    ("reset: unknown field", "reset-password", {**RESET_BODY, "y": 1}),
    ("reset: invalid email", "reset-password", {**RESET_BODY, "email": "@example.com"}),
    ("reset: short password", "reset-password", {**RESET_BODY, "new_password": "short"}),
    ("register: invalid email", "register", {"email": "new@example", "password": "x" * 12}),
    (
        "register: unknown field",
        "register",
        {"email": "n@example.com", "password": "x" * 12, "role": "admin"},
    ),
]


async def test_bad_input_is_422_and_sends_nothing(mail: MailEnv) -> None:
    await mail.register(KNOWN)
    code = await mail.verification_code(KNOWN)
    await mail.settle()
    queued_before = len(await mail.all_messages())

    for case, endpoint, body in BAD_INPUT:
        url = f"{V1}/auth/{endpoint}"
        if isinstance(body, bytes):
            response = await mail.client.post(
                url, content=body, headers={"content-type": "application/json"}
            )
        else:
            response = await mail.client.post(url, json=body)
        assert response.status_code == 422, f"{case}: {response.text}"
        assert_problem(response, 422)
        assert response.json()["errors"], case
        assert len(await mail.all_messages()) == queued_before, f"{case} queued an email"

    await mail.settle()
    assert len(mail.smtp.received) == 1, "only the registration's email was sent"
    # The refused requests started no cool-down, counted no attempt, created no account.
    assert (await mail.forgot(KNOWN)).status_code == 202
    await mail.reset_code(KNOWN)
    assert (await mail.verify(KNOWN, code)).status_code == 200
    assert_problem(await mail.login_response("n@example.com", "x" * 12), 401, "invalid_credentials")


async def test_superuser_is_not_sent_verification(mail: MailEnv) -> None:
    """The bootstrap superuser is created verified: no code is queued for it."""
    admin = await mail.superuser()
    await mail.settle()
    assert await mail.admin_emails(admin) == []
    assert all(SUPERUSER_EMAIL not in m.rcpt_tos for m in mail.smtp.received)
    me = await mail.client.get(f"{V1}/users/me", headers=bearer(admin.access_token))
    assert me.json()["is_verified"] is True
