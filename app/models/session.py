"""The server-side Session entity that every refresh token is bound to."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True)
class Session:
    """One login of one user on one device.

    ``refresh_jti`` is the id of the only refresh token that may rotate the session;
    ``previous_refresh_jti`` and ``rotated_at`` remember the last rotation so that a
    concurrent duplicate refresh can be told apart from a replayed stolen token.
    """

    id: str
    user_id: str
    refresh_jti: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None = None
    ip_address: str | None = None
    previous_refresh_jti: str | None = None
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now
