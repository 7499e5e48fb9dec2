"""Contract for storing server-side sessions."""

from abc import ABC, abstractmethod
from datetime import datetime

from app.models.session import Session
from app.models.user import User


class SessionRepository(ABC):
    """Persistence of sessions, including the atomic refresh-token rotation."""

    @abstractmethod
    async def add(self, session: Session) -> Session: ...

    @abstractmethod
    async def get(self, session_id: str) -> Session | None: ...

    @abstractmethod
    async def get_with_user(self, session_id: str) -> tuple[Session, User | None] | None:
        """The session and its user (None if deleted) in one round trip where possible.

        Every authenticated request asks this, so SQL answers with one JOIN.
        """

    @abstractmethod
    async def rotate(
        self,
        session_id: str,
        expected_jti: str,
        new_jti: str,
        now: datetime,
        expires_at: datetime,
    ) -> Session | None:
        """Compare-and-set: replace ``expected_jti`` by ``new_jti`` on a live session.

        Exactly one of any number of concurrent callers with the same expected jti
        gets the updated session; the others get None.
        """

    @abstractmethod
    async def list_active(self, user_id: str, now: datetime) -> list[Session]:
        """Live sessions of the user, newest first."""

    @abstractmethod
    async def revoke(self, session_id: str, now: datetime, user_id: str | None = None) -> bool:
        """Revoke one live session (of ``user_id`` when given); True when one was revoked."""

    @abstractmethod
    async def revoke_all(
        self, user_id: str, now: datetime, except_session_id: str | None = None
    ) -> int:
        """Revoke every live session of the user but ``except_session_id``; return how many."""
