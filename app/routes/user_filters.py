"""Query parameters shared by the v1 and v2 user listings."""

from typing import Annotated

from fastapi import Query

from app.interfaces.repositories.user_repository import UserFilter
from app.models.role import Role


def user_filter(
    role: Annotated[Role | None, Query(description="Only users with this role.")] = None,
    is_active: Annotated[bool | None, Query()] = None,
    is_verified: Annotated[bool | None, Query()] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=320, description="Email prefix.")
    ] = None,
) -> UserFilter:
    return UserFilter(
        role=role,
        is_active=is_active,
        is_verified=is_verified,
        email_prefix=q.strip().lower() if q else None,
    )
