"""Email entities: a rendered message and its place in the outbox."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class EmailKind(StrEnum):
    VERIFICATION_CODE = "verification_code"
    PASSWORD_RESET_CODE = "password_reset_code"
    PASSWORD_CHANGED = "password_changed"
    WELCOME = "welcome"
    ACCOUNT_UNLOCK = "account_unlock"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """A message ready to queue: one recipient, a subject, a text and an HTML body."""

    kind: EmailKind
    recipient: str
    subject: str
    text_body: str
    html_body: str


@dataclass(slots=True)
class OutboxMessage:
    """A queued email and its delivery state.

    ``lease_owner``/``lease_until`` mark the worker that claimed it; a lease that
    runs out (the worker died mid-send) makes the message claimable again.
    """

    id: str
    kind: EmailKind
    recipient: str
    subject: str
    text_body: str
    html_body: str
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    lease_owner: str | None = None
    lease_until: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None
