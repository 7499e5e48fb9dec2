"""What the SQL and MongoDB user adapters share: reading a stored user record (row or
document) into a ``User``, and telling which changes the superadmin guard must check."""

from collections.abc import Mapping
from typing import Any

from app.models.role import Permission, Role
from app.models.user import User


def user_from_record(record: Mapping[Any, Any], user_id: str, prefix: str = "") -> User:
    """``prefix`` reads columns labelled ``<prefix><field>`` (a joined query's user side)."""
    return User(
        id=user_id,
        email=record[f"{prefix}email"],
        hashed_password=record[f"{prefix}hashed_password"],
        full_name=record.get(f"{prefix}full_name"),
        role=Role(record[f"{prefix}role"]),
        permissions=frozenset(Permission(p) for p in record[f"{prefix}permissions"]),
        is_active=record[f"{prefix}is_active"],
        is_verified=record[f"{prefix}is_verified"],
        created_at=record[f"{prefix}created_at"],
        updated_at=record[f"{prefix}updated_at"],
    )


def removes_active_superadmin(changes: Mapping[str, Any]) -> bool:
    """Whether ``changes`` would end an active superadmin's status if applied to one."""
    demotes = "role" in changes and Role(changes["role"]) is not Role.SUPERADMIN
    return demotes or changes.get("is_active") is False
