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
    """Persistence of users. Emails are unique; callers pass them lower-cased.

    The store keeps at least one active superadmin. ``update`` and ``delete`` raise
    ``LastSuperadminError`` rather than demote, disable or delete the last one, and
    the guard is part of the write, not a read before it: two admins demoting each
    other at the same moment cannot both go through.

    - SQLite: one conditional statement; the single writer makes it atomic.
    - PostgreSQL: the write's transaction first locks every active superadmin row
      (``FOR NO KEY UPDATE``, in id order), so guarded writes run one after another
      and each sees what the one before committed.
    - MongoDB: a lease document serializes the guarded writes (inside a transaction
      it is held until the transaction ends), and the count of the other active
      superadmins is read from the committed data, not the transaction's snapshot.
      Its limits: a holder stalled past the lease (``LEASE_SECONDS``) loses it, and a
      second writer may then go through too; a holder that dies blocks guarded writes
      until its lease expires; the hosts' clocks must agree to well within the lease.

    Writes that do not touch the database through this repository (a shell, a
    migration) are not guarded.
    """

    @abstractmethod
    async def add(self, user: User) -> User:
        """Insert a new user; raise ``EmailTakenError`` when the email exists."""

    @abstractmethod
    async def get_by_id(self, user_id: str) -> User | None: ...

    @abstractmethod
    async def get_by_email(self, email: str) -> User | None: ...

    @abstractmethod
    async def update(self, user_id: str, changes: dict[str, Any], now: datetime) -> User | None:
        """Apply field changes and set ``updated_at``; None when the user is gone.

        Raises ``LastSuperadminError`` when the change would leave no active superadmin.
        """

    @abstractmethod
    async def delete(self, user_id: str) -> bool:
        """Delete the user and every session of the user; True when a user was deleted.

        Raises ``LastSuperadminError`` when the user is the last active superadmin.
        """

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
