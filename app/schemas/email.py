"""DTOs of the email-driven endpoints and the admin outbox view."""

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from app.models.email import EmailKind, OutboxMessage, OutboxStatus
from app.schemas.base import Email, InputModel, Password, Timestamp

Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6}$"),
    Field(description="The six-digit code from the email.", examples=["042917"]),
]


class EmailAddressRequest(InputModel):
    email: Email


class VerifyEmailRequest(InputModel):
    email: Email
    code: Code


class UnlockRequest(InputModel):
    email: Email
    token: Annotated[
        str,
        StringConstraints(strip_whitespace=True, max_length=200, pattern=r"^[0-9A-Za-z._-]+$"),
        Field(description="The unlock token from the email."),
    ]


class ResetPasswordRequest(InputModel):
    email: Email
    code: Code
    new_password: Password


class AcceptedResponse(BaseModel):
    detail: str = "If the address belongs to an account, an email is on its way."


class QueuedResponse(BaseModel):
    queued: int


class OutboxEntryRead(BaseModel):
    """An outbox entry without its bodies: they hold one-time codes."""

    id: str
    kind: EmailKind
    recipient: str
    subject: str
    status: OutboxStatus
    attempts: int
    last_error: str | None
    next_attempt_at: Timestamp
    created_at: Timestamp
    updated_at: Timestamp
    sent_at: Timestamp | None

    @classmethod
    def from_message(cls, message: OutboxMessage) -> "OutboxEntryRead":
        return cls(
            id=message.id,
            kind=message.kind,
            recipient=message.recipient,
            subject=message.subject,
            status=message.status,
            attempts=message.attempts,
            last_error=message.last_error,
            next_attempt_at=message.next_attempt_at,
            created_at=message.created_at,
            updated_at=message.updated_at,
            sent_at=message.sent_at,
        )


class OutboxList(BaseModel):
    items: list[OutboxEntryRead]
    next_cursor: str | None
