"""The audit log: an append-only record of security-relevant account events."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# Stored values are clipped to these lengths (the SQL columns' sizes), so that an
# oversized header can never make recording an event fail.
MAX_SUBJECT_EMAIL_LENGTH = 320
MAX_IP_ADDRESS_LENGTH = 64
MAX_USER_AGENT_LENGTH = 512


class AuditEventType(StrEnum):
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    ACCOUNT_LOCKED = "account_locked"
    LOGIN_BUDGET_SPENT = "login_budget_spent"
    ACCOUNT_UNLOCKED = "account_unlocked"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"
    LOGGED_OUT = "logged_out"
    LOGGED_OUT_EVERYWHERE = "logged_out_everywhere"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    EMAIL_VERIFIED = "email_verified"
    ROLE_CHANGED = "role_changed"
    STATUS_CHANGED = "status_changed"
    USER_CREATED = "user_created"
    USER_DELETED = "user_deleted"
    SESSIONS_REVOKED = "sessions_revoked"


def _clip(value: str | None, length: int) -> str | None:
    return value[:length] if value is not None else None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One entry of the audit log; entries are never changed once written.

    ``id`` is a time-ordered UUIDv7 (``app.utils.ids.new_id``): listings sort on it.
    ``actor_id`` is who acted (None for an anonymous caller, e.g. a failed login),
    ``subject_id`` the user affected; neither is a reference that must stay valid,
    since events outlive deleted users. ``subject_email`` keeps the address as it was
    (for a failed login, the address tried, even when no such user exists).
    ``details`` holds a few small strings (``{"from": "user", "to": "admin"}``),
    never a secret: no password, token or code. Its keys are plain names (no ``.``
    or leading ``$``), which every backend stores as they are.

    ``subject_email``, ``ip_address`` and ``user_agent`` are clipped to their stored
    lengths on construction, so what is built is exactly what reads back.
    """

    id: str
    event: AuditEventType
    occurred_at: datetime
    actor_id: str | None = None
    subject_id: str | None = None
    subject_email: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    details: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Frozen: the clipped values and a private copy of ``details`` are set directly.
        object.__setattr__(self, "event", AuditEventType(self.event))
        object.__setattr__(
            self, "subject_email", _clip(self.subject_email, MAX_SUBJECT_EMAIL_LENGTH)
        )
        object.__setattr__(self, "ip_address", _clip(self.ip_address, MAX_IP_ADDRESS_LENGTH))
        object.__setattr__(self, "user_agent", _clip(self.user_agent, MAX_USER_AGENT_LENGTH))
        object.__setattr__(self, "details", dict(self.details))
