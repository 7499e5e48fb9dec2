"""Session DTOs."""

from pydantic import BaseModel

from app.models.session import Session
from app.schemas.base import Timestamp


class SessionRead(BaseModel):
    id: str
    created_at: Timestamp
    last_used_at: Timestamp
    expires_at: Timestamp
    user_agent: str | None
    ip_address: str | None
    current: bool

    @classmethod
    def from_session(cls, session: Session, current_session_id: str | None) -> "SessionRead":
        return cls(
            id=session.id,
            created_at=session.created_at,
            last_used_at=session.last_used_at,
            expires_at=session.expires_at,
            user_agent=session.user_agent,
            ip_address=session.ip_address,
            current=session.id == current_session_id,
        )
