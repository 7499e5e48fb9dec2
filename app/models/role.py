"""Roles and permissions of the access-control model."""

from enum import StrEnum


class Role(StrEnum):
    """A user's role; the factory decides which permissions each role carries."""

    USER = "user"
    ADMIN = "admin"
    SUPERADMIN = "superadmin"

    @property
    def is_privileged(self) -> bool:
        """Admins and superadmins may only be managed by a holder of ``root:admin``."""
        return self is not Role.USER


class Permission(StrEnum):
    """A capability checked by the routes; ``root:admin`` grants every other one."""

    PROFILE_READ = "profile:read"
    PROFILE_UPDATE = "profile:update"
    USER_READ = "user:read"
    USER_CREATE = "user:create"
    USER_UPDATE = "user:update"
    USER_DELETE = "user:delete"
    ROOT_ADMIN = "root:admin"
