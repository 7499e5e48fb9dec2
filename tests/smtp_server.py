"""A real SMTP server (aiosmtpd) on a loopback port, recording what it receives."""

import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class ReceivedEmail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        assert part is not None
        return str(part.get_content())


@dataclass
class _Handler:
    received: list[ReceivedEmail] = field(default_factory=list)
    refused_recipients: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.lower() in self.refused_recipients:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or envelope.content or b""
        assert isinstance(raw, bytes)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.received.append(
                ReceivedEmail(str(envelope.mail_from), list(envelope.rcpt_tos), parsed)
            )
        return "250 Message accepted"


class _Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self._credentials = (username.encode(), password.encode())

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword) and (data.login, data.password) == self._credentials:
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


class SmtpTestServer:
    """Start, stop and start again on the same port; ``received`` survives restarts.

    ``tls_context`` with ``implicit_tls`` serves TLS from the first byte (like port
    465); with ``starttls`` it offers and requires STARTTLS (like port 587).
    """

    def __init__(
        self,
        *,
        username: str | None = None,
        password: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        starttls: bool = False,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self._handler = _Handler()
        self._username = username
        self._password = password
        self._tls_context = tls_context
        self._implicit_tls = implicit_tls
        self._starttls = starttls
        self._controller: Controller | None = None

    @property
    def received(self) -> list[ReceivedEmail]:
        with self._handler.lock:
            return list(self._handler.received)

    def refuse(self, address: str) -> None:
        self._handler.refused_recipients.add(address.lower())

    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self._username is not None:
            kwargs["authenticator"] = _Authenticator(self._username, self._password or "")
            kwargs["auth_require_tls"] = bool(self._tls_context)
            kwargs["auth_required"] = True
        if self._tls_context is not None and self._implicit_tls:
            kwargs["ssl_context"] = self._tls_context
        elif self._tls_context is not None and self._starttls:
            kwargs["tls_context"] = self._tls_context
            kwargs["require_starttls"] = True
        self._controller = Controller(
            self._handler, hostname=self.host, port=self.port, ready_timeout=10, **kwargs
        )
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    server = SmtpTestServer()
    server.start()
    yield server
    server.stop()
