"""Email senders against a real SMTP server (aiosmtpd on loopback), a folder and the log."""

import email
import email.policy
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.interfaces.email_sender import EmailDeliveryError
from app.models.email import EmailKind, OutboxMessage, OutboxStatus
from app.utils.email.console_sender import ConsoleEmailSender
from app.utils.email.file_sender import FileEmailSender
from app.utils.email.smtp_sender import SmtpConfig, SmtpEmailSender
from app.utils.ids import new_id
from tests.smtp_server import ReceivedEmail, SmtpTestServer, free_port

FROM_EMAIL = "noreply@acme.example"
FROM_NAME = "Acme Accounts"
RECIPIENT = "alice@example.com"
SMTP_USER = "mailer"
SMTP_PASSWORD = "s3cret-smtp-pass"

# aiosmtpd warns when AUTH is offered without TLS, which is what these tests want.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def outbox_message(
    *,
    recipient: str = RECIPIENT,
    subject: str = "Verify your email for Acme",
    text_body: str = "Hello Alice,\n\nYour code is 482913.\n",
    html_body: str = "<p>Hello Alice,</p><p>Your code is <b>482913</b>.</p>",
) -> OutboxMessage:
    now = datetime.now(UTC).replace(microsecond=0)
    return OutboxMessage(
        id=new_id(),
        kind=EmailKind.VERIFICATION_CODE,
        recipient=recipient,
        subject=subject,
        text_body=text_body,
        html_body=html_body,
        status=OutboxStatus.SENDING,
        attempts=1,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )


def smtp_sender(
    server: SmtpTestServer | None = None,
    *,
    port: int | None = None,
    username: str | None = None,
    password: str | None = None,
    starttls: bool = False,
    implicit_tls: bool = False,
    validate_certs: bool = False,
    timeout_seconds: float = 5.0,
) -> SmtpEmailSender:
    resolved_port = port if port is not None else server.port if server is not None else 0
    return SmtpEmailSender(
        SmtpConfig(
            host="127.0.0.1",
            port=resolved_port,
            from_email=FROM_EMAIL,
            from_name=FROM_NAME,
            username=username,
            password=password,
            starttls=starttls,
            implicit_tls=implicit_tls,
            validate_certs=validate_certs,
            timeout_seconds=timeout_seconds,
        )
    )


def assert_same_message(received: EmailMessage, sent: OutboxMessage) -> None:
    """The MIME message carries every part of the outbox message."""
    assert parseaddr(str(received["From"])) == (FROM_NAME, FROM_EMAIL)
    assert str(received["To"]) == sent.recipient
    assert str(received["Subject"]) == sent.subject
    assert sent.id in str(received["Message-ID"])
    assert received.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in received.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    text = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    # SMTP carries lines as CRLF; the content is otherwise unchanged.
    assert unix_lines(str(text.get_content())) == unix_lines(sent.text_body)
    assert unix_lines(str(html.get_content())) == unix_lines(sent.html_body)


def unix_lines(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


# --- TLS material -------------------------------------------------------------------


@dataclass(frozen=True)
class SelfSignedCert:
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@pytest.fixture(scope="session")
def self_signed_cert(tmp_path_factory: pytest.TempPathFactory) -> SelfSignedCert:
    """A certificate for localhost/127.0.0.1 that no trust store knows."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return SelfSignedCert(cert_file, key_file)


def running(server: SmtpTestServer) -> Iterator[SmtpTestServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def auth_server() -> Iterator[SmtpTestServer]:
    yield from running(SmtpTestServer(username=SMTP_USER, password=SMTP_PASSWORD))


@pytest.fixture
def starttls_server(self_signed_cert: SelfSignedCert) -> Iterator[SmtpTestServer]:
    yield from running(
        SmtpTestServer(
            username=SMTP_USER,
            password=SMTP_PASSWORD,
            tls_context=self_signed_cert.server_context(),
            starttls=True,
        )
    )


@pytest.fixture
def implicit_tls_server(self_signed_cert: SelfSignedCert) -> Iterator[SmtpTestServer]:
    server = SmtpTestServer(tls_context=self_signed_cert.server_context(), implicit_tls=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_helper_implicit_tls_server_starts_on_its_own(
    self_signed_cert: SelfSignedCert, monkeypatch: pytest.MonkeyPatch
) -> None:
    # aiosmtpd reads this when the controller is built; it only shortens the wait.
    monkeypatch.setenv("AIOSMTPD_CONTROLLER_TIMEOUT", "1")
    server = SmtpTestServer(tls_context=self_signed_cert.server_context(), implicit_tls=True)
    try:
        server.start()
    finally:
        server.stop()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel's backlog) but never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


# --- SMTP: plain delivery ---------------------------------------------------------


async def test_plain_delivery_carries_sender_recipient_subject_and_both_bodies(
    smtp_server: SmtpTestServer,
) -> None:
    message = outbox_message()

    await smtp_sender(smtp_server).send(message)

    [received] = smtp_server.received
    assert received.mail_from == FROM_EMAIL
    assert received.rcpt_tos == [RECIPIENT]
    assert_same_message(received.message, message)
    assert "482913" in received.text
    assert "<b>482913</b>" in received.html


async def test_message_id_is_derived_from_the_outbox_id_and_sender_domain(
    smtp_server: SmtpTestServer,
) -> None:
    first, second = outbox_message(), outbox_message()
    sender = smtp_sender(smtp_server)

    await sender.send(first)
    await sender.send(second)
    await sender.send(first)  # a re-delivery of the same outbox message

    ids = [str(item.message["Message-ID"]) for item in smtp_server.received]
    assert ids == [
        f"<{first.id}@acme.example>",
        f"<{second.id}@acme.example>",
        f"<{first.id}@acme.example>",
    ]


async def test_non_ascii_subject_and_bodies_survive_the_trip(
    smtp_server: SmtpTestServer,
) -> None:
    message = outbox_message(
        subject="Vérifiez votre adresse — Acmé",
        text_body="Bonjour Zoë,\n\nVotre code : 482913 ✓\n",
        html_body="<p>Bonjour Zoë, votre code : <b>482913</b> ✓</p>",
    )

    await smtp_sender(smtp_server).send(message)

    [received] = smtp_server.received
    assert str(received.message["Subject"]) == message.subject
    assert "Zoë" in received.text
    assert "✓" in received.html


# --- SMTP: login -------------------------------------------------------------------


async def test_login_with_the_right_credentials_delivers(auth_server: SmtpTestServer) -> None:
    message = outbox_message()

    await smtp_sender(auth_server, username=SMTP_USER, password=SMTP_PASSWORD).send(message)

    [received] = auth_server.received
    assert sent_id(received) == message.id


async def test_login_failure_is_retryable_and_does_not_leak_the_password(
    auth_server: SmtpTestServer,
) -> None:
    wrong_password = "wrong-password-xyz"
    sender = smtp_sender(auth_server, username=SMTP_USER, password=wrong_password)

    with pytest.raises(EmailDeliveryError) as caught:
        await sender.send(outbox_message())

    error = caught.value
    assert error.permanent is False
    assert "login" in error.reason.lower()
    assert wrong_password not in error.reason
    assert wrong_password not in str(error)
    assert auth_server.received == []


# --- SMTP: failures -------------------------------------------------------------------


async def test_refused_recipient_is_a_permanent_failure(smtp_server: SmtpTestServer) -> None:
    smtp_server.refuse("ghost@example.com")

    with pytest.raises(EmailDeliveryError) as caught:
        await smtp_sender(smtp_server).send(outbox_message(recipient="ghost@example.com"))

    assert caught.value.permanent is True
    assert "550" in caught.value.reason
    assert smtp_server.received == []


async def test_refusal_of_one_recipient_does_not_affect_another(
    smtp_server: SmtpTestServer,
) -> None:
    smtp_server.refuse("ghost@example.com")
    sender = smtp_sender(smtp_server)

    with pytest.raises(EmailDeliveryError):
        await sender.send(outbox_message(recipient="ghost@example.com"))
    await sender.send(outbox_message(recipient="bob@example.com"))

    assert [item.rcpt_tos for item in smtp_server.received] == [["bob@example.com"]]


async def test_connection_refused_is_retryable(smtp_server: SmtpTestServer) -> None:
    smtp_server.stop()

    with pytest.raises(EmailDeliveryError) as caught:
        await smtp_sender(smtp_server).send(outbox_message())

    assert caught.value.permanent is False
    assert "connection" in caught.value.reason.lower()


async def test_server_back_after_a_stop_accepts_mail_again(smtp_server: SmtpTestServer) -> None:
    sender = smtp_sender(smtp_server)
    smtp_server.stop()
    with pytest.raises(EmailDeliveryError):
        await sender.send(outbox_message())

    smtp_server.start()
    message = outbox_message()
    await sender.send(message)

    assert [sent_id(item) for item in smtp_server.received] == [message.id]


async def test_silent_server_times_out_quickly_and_is_retryable(silent_port: int) -> None:
    sender = smtp_sender(port=silent_port, timeout_seconds=0.3)

    started = time.monotonic()
    with pytest.raises(EmailDeliveryError) as caught:
        await sender.send(outbox_message())
    elapsed = time.monotonic() - started

    assert caught.value.permanent is False
    assert 0.25 <= elapsed < 3.0


async def test_nothing_listening_on_the_port_is_retryable() -> None:
    with pytest.raises(EmailDeliveryError) as caught:
        await smtp_sender(port=free_port(), timeout_seconds=2).send(outbox_message())

    assert caught.value.permanent is False


# --- SMTP: TLS -----------------------------------------------------------------------


async def test_starttls_then_login_delivers(starttls_server: SmtpTestServer) -> None:
    message = outbox_message()
    sender = smtp_sender(starttls_server, username=SMTP_USER, password=SMTP_PASSWORD, starttls=True)

    await sender.send(message)

    [received] = starttls_server.received
    assert_same_message(received.message, message)


async def test_plain_client_is_turned_away_by_a_server_that_requires_starttls(
    starttls_server: SmtpTestServer,
) -> None:
    with pytest.raises(EmailDeliveryError) as caught:
        await smtp_sender(starttls_server).send(outbox_message())

    assert "530" in caught.value.reason
    assert starttls_server.received == []


@pytest.mark.parametrize("requirement", ["auth", "starttls"])
async def test_530_from_a_misconfigured_client_is_retryable(
    requirement: str, self_signed_cert: SelfSignedCert
) -> None:
    if requirement == "auth":
        server = SmtpTestServer(username=SMTP_USER, password=SMTP_PASSWORD)
    else:
        server = SmtpTestServer(tls_context=self_signed_cert.server_context(), starttls=True)
    server.start()
    try:
        with pytest.raises(EmailDeliveryError) as caught:
            await smtp_sender(server).send(outbox_message())  # no login, no STARTTLS
    finally:
        server.stop()

    assert "530" in caught.value.reason
    assert caught.value.permanent is False


async def test_implicit_tls_delivers(implicit_tls_server: SmtpTestServer) -> None:
    message = outbox_message()

    await smtp_sender(implicit_tls_server, implicit_tls=True).send(message)

    [received] = implicit_tls_server.received
    assert_same_message(received.message, message)


async def test_implicit_tls_refuses_a_self_signed_cert_when_validating(
    implicit_tls_server: SmtpTestServer,
) -> None:
    sender = smtp_sender(implicit_tls_server, implicit_tls=True, validate_certs=True)

    with pytest.raises(EmailDeliveryError) as caught:
        await sender.send(outbox_message())

    assert caught.value.permanent is False
    assert implicit_tls_server.received == []


async def test_starttls_refuses_a_self_signed_cert_when_validating(
    starttls_server: SmtpTestServer,
) -> None:
    sender = smtp_sender(
        starttls_server,
        username=SMTP_USER,
        password=SMTP_PASSWORD,
        starttls=True,
        validate_certs=True,
    )

    with pytest.raises(EmailDeliveryError) as caught:
        await sender.send(outbox_message())

    assert caught.value.permanent is False
    assert SMTP_PASSWORD not in caught.value.reason
    assert starttls_server.received == []


# --- File and console senders -----------------------------------------------------


def file_names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def read_eml(path: Path) -> EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


async def test_file_sender_writes_one_parsable_eml_per_message(tmp_path: Path) -> None:
    directory = tmp_path / "outbox" / "emails"
    sender = FileEmailSender(directory, FROM_EMAIL, FROM_NAME)
    first, second = outbox_message(), outbox_message(recipient="bob@example.com")

    await sender.send(first)
    await sender.send(second)

    # Only the finished files: no temporary file is left behind.
    assert file_names(directory) == sorted([f"{first.id}.eml", f"{second.id}.eml"])
    for message in (first, second):
        assert_same_message(read_eml(directory / f"{message.id}.eml"), message)


async def test_file_sender_overwrites_a_redelivered_message(tmp_path: Path) -> None:
    sender = FileEmailSender(tmp_path, FROM_EMAIL, None)
    message = outbox_message()

    await sender.send(message)
    message.subject = "Second attempt"
    await sender.send(message)

    assert file_names(tmp_path) == [f"{message.id}.eml"]
    parsed = read_eml(tmp_path / f"{message.id}.eml")
    assert str(parsed["Subject"]) == "Second attempt"
    assert str(parsed["From"]) == FROM_EMAIL


async def test_file_sender_reports_an_unwritable_directory_as_retryable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the folder should be")
    sender = FileEmailSender(blocker, FROM_EMAIL, FROM_NAME)

    with pytest.raises(EmailDeliveryError) as caught:
        await sender.send(outbox_message())

    assert caught.value.permanent is False
    assert ".eml" in caught.value.reason


async def test_console_sender_logs_recipient_subject_and_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    message = outbox_message(recipient="carol@example.com", subject="Reset your Acme password")

    with caplog.at_level(logging.INFO, logger="app.email.console"):
        await ConsoleEmailSender().send(message)

    [record] = [r for r in caplog.records if r.name == "app.email.console"]
    logged = record.getMessage()
    assert "carol@example.com" in logged
    assert "Reset your Acme password" in logged
    assert "482913" in logged


def sent_id(received: ReceivedEmail) -> str:
    """The outbox id inside a received Message-ID ``<id@domain>``."""
    return str(received.message["Message-ID"]).strip("<>").partition("@")[0]
