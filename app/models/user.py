"""The User entity."""

from dataclasses import dataclass
from datetime import datetime

from app.models.role import Permission, Role


def normalise_email(email: str) -> str:
    """An address as accounts store it and as every per-address key is made from."""
    return email.strip().lower()


@dataclass(slots=True)
class User:
    """An account. ``email`` is always stored lower-cased."""

    id: str
    email: str
    hashed_password: str
    role: Role
    permissions: frozenset[Permission]
    created_at: datetime
    updated_at: datetime
    full_name: str | None = None
    is_active: bool = True
    is_verified: bool = False

    def has_permission(self, permission: Permission) -> bool:
        return Permission.ROOT_ADMIN in self.permissions or permission in self.permissions

    @property
    def is_root(self) -> bool:
        return Permission.ROOT_ADMIN in self.permissions
