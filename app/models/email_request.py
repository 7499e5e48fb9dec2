"""A request for an email that names an address: queued, then fulfilled in the background."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class EmailRequestPurpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"
    UNLOCK_ACCOUNT = "unlock_account"


@dataclass(frozen=True, slots=True)
class EmailRequest:
    """Queued the same way whether or not an account has ``email``, so the request
    that asks for it does the same work either way; the worker finds out which.

    ``lease_until`` is set while a worker holds it; a request whose lease ran out
    (its worker died) is due again.
    """

    id: str
    purpose: EmailRequestPurpose
    email: str
    requested_at: datetime
    lease_until: datetime | None = None
