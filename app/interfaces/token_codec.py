"""Contract for issuing and reading signed tokens."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified claims of an access token."""

    subject: str
    session_id: str
    jti: str
    role: str
    permissions: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RefreshClaims:
    """The verified claims of a refresh token."""

    subject: str
    session_id: str
    jti: str
    issued_at: datetime
    expires_at: datetime


class TokenExpiredError(Exception):
    """The token is authentic but past its ``exp``; the refresh middleware acts on this.

    ``session_id`` is the expired token's ``sid``, so a refresh can be bound to it.
    """

    def __init__(self, message: str, session_id: str | None = None) -> None:
        super().__init__(message)
        self.session_id = session_id


class TokenInvalidError(Exception):
    """The token is malformed, forged, of the wrong kind or not yet valid."""


class TokenCodec(ABC):
    """Signs and verifies access and refresh tokens."""

    @abstractmethod
    def encode_access(
        self,
        *,
        subject: str,
        session_id: str,
        role: str,
        permissions: list[str],
        now: datetime,
        ttl_seconds: int,
    ) -> str: ...

    @abstractmethod
    def encode_refresh(
        self, *, subject: str, session_id: str, jti: str, now: datetime, expires_at: datetime
    ) -> str: ...

    @abstractmethod
    def decode_access(self, token: str) -> AccessClaims:
        """Verify and read an access token; raise TokenExpiredError or TokenInvalidError."""

    @abstractmethod
    def decode_refresh(self, token: str) -> RefreshClaims:
        """Verify and read a refresh token; raise TokenExpiredError or TokenInvalidError."""

    @abstractmethod
    def jwks(self) -> dict[str, Any]:
        """The public keys that verify access tokens, as a JSON Web Key Set."""
