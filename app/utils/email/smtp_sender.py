"""Delivery over SMTP with aiosmtplib."""

from dataclasses import dataclass

import aiosmtplib

from app.interfaces.email_sender import EmailDeliveryError, EmailSender
from app.models.email import OutboxMessage
from app.utils.email.mime import build_mime

# Refusals of this mailbox or this message (RFC 5321 §4.2.3): sending again cannot
# help. Other 5xx answers, such as 530 "authentication required", come from our own
# configuration and succeed once it is fixed, so they are retried.
PERMANENT_CODES = frozenset({550, 551, 552, 553, 554})


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    from_email: str
    from_name: str | None = None
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    implicit_tls: bool = False
    validate_certs: bool = True
    timeout_seconds: float = 10.0


class SmtpEmailSender(EmailSender):
    """Plain SMTP, STARTTLS or implicit TLS, with optional login.

    A refused mailbox or message is permanent; everything else (refused connection,
    timeout, 4xx, failed login, a server demanding TLS) is worth retrying later.
    """

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, message: OutboxMessage) -> None:
        config = self._config
        mime = build_mime(message, config.from_email, config.from_name)
        client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            use_tls=config.implicit_tls,
            start_tls=config.starttls,
            validate_certs=config.validate_certs,
            timeout=config.timeout_seconds,
        )
        try:
            async with client:
                if config.username:
                    await client.login(config.username, config.password or "")
                await client.send_message(mime)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            raise EmailDeliveryError(
                f"recipient refused (SMTP {', '.join(map(str, codes))})",
                permanent=all(code in PERMANENT_CODES for code in codes),
            ) from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise EmailDeliveryError(f"SMTP login failed ({exc.code})") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise EmailDeliveryError(
                f"SMTP server answered {exc.code}", permanent=exc.code in PERMANENT_CODES
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise EmailDeliveryError(f"SMTP connection failed: {type(exc).__name__}") from exc
