"""Contract for storing users."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.models.role import Role
from app.models.user import User


@dataclass(frozen=True, slots=True)
class UserFilter:
    """Filters shared by the offset and keyset listings. ``email_prefix`` is lower-case."""

    role: Role | None = None
    is_active: bool | None = None
    is_verified: bool | None = None
    email_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class UserPage:
    items: list[User]
    total: int


class UserRepository(ABC):
    """Persistence of users. Emails are unique; callers pass them lower-cased."""

    @abstractmethod
    async def add(self, user: User) -> User:
        """Insert a new user; raise ``EmailTakenError`` when the email exists."""

    @abstractmethod
    async def get_by_id(self, user_id: str) -> User | None: ...

    @abstractmethod
    async def get_by_email(self, email: str) -> User | None: ...

    @abstractmethod
    async def update(self, user_id: str, changes: dict[str, Any], now: datetime) -> User | None:
        """Apply field changes and set ``updated_at``; None when the user is gone."""

    @abstractmethod
    async def delete(self, user_id: str) -> bool:
        """Delete the user and every session of the user; True when a user was deleted."""

    @abstractmethod
    async def list_page(self, filters: UserFilter, limit: int, offset: int) -> UserPage:
        """Users ordered by creation, with the total that match the filters."""

    @abstractmethod
    async def list_after(self, filters: UserFilter, limit: int, after_id: str | None) -> list[User]:
        """Keyset listing: users whose id sorts after ``after_id``, in id order.

        Ids are time-ordered, so rows inserted while a client pages arrive at the end
        and never shift the pages already read.
        """

    @abstractmethod
    async def count(self) -> int: ...
