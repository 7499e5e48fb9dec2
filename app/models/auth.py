"""Value objects of authentication."""

from dataclasses import dataclass

from app.models.user import User


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request: a live user on a live session."""

    user: User
    session_id: str


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a login came from, recorded on its session."""

    user_agent: str | None = None
    ip_address: str | None = None
