"""Turning an outbox message into a MIME message."""

from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from app.models.email import OutboxMessage


def build_mime(message: OutboxMessage, from_email: str, from_name: str | None) -> EmailMessage:
    """A multipart/alternative message: plain text first, HTML preferred by clients."""
    mime = EmailMessage()
    mime["From"] = formataddr((from_name, from_email)) if from_name else from_email
    mime["To"] = message.recipient
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(message.created_at)
    domain = from_email.rpartition("@")[2] or "localhost"
    # The outbox id makes a re-delivery recognisable as the same message.
    mime["Message-ID"] = f"<{message.id}@{domain}>"
    mime.set_content(message.text_body)
    mime.add_alternative(message.html_body, subtype="html")
    return mime
