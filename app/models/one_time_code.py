"""One-time codes for email verification and password reset."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class CodePurpose(StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"


@dataclass(slots=True)
class OneTimeCode:
    """A code as stored: only its keyed hash, never the digits."""

    id: str
    user_id: str
    purpose: CodePurpose
    code_hash: str
    attempts: int
    created_at: datetime
    expires_at: datetime

    def is_usable(self, now: datetime, max_attempts: int) -> bool:
        return self.expires_at > now and self.attempts < max_attempts
