"""Admin user management."""

import base64
import binascii
import json

from app.controllers.pagination import cursor_id, split_page
from app.interfaces.repositories.user_repository import UserFilter
from app.models.auth import Principal
from app.models.errors import InvalidCursorError
from app.schemas.session import SessionRead
from app.schemas.user import (
    AdminUserCreate,
    AdminUserUpdate,
    UserList,
    UserListV2,
    UserRead,
    UserReadV2,
)
from app.services.session_service import SessionService
from app.services.user_service import NewUser, UserChanges, UserService


def encode_cursor(after_id: str) -> str:
    raw = json.dumps({"after": after_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise InvalidCursorError() from exc
    return cursor_id(data.get("after") if isinstance(data, dict) else None)


class AdminUserController:
    """Endpoints under ``/users`` that need an admin permission."""

    def __init__(self, user_service: UserService, session_service: SessionService) -> None:
        self._users = user_service
        self._sessions = session_service

    async def list_page(self, filters: UserFilter, limit: int, offset: int) -> UserList:
        page = await self._users.list_page(filters, limit, offset)
        return UserList(
            items=[UserRead.from_user(u) for u in page.items],
            total=page.total,
            limit=limit,
            offset=offset,
        )

    async def list_v2(
        self, filters: UserFilter, limit: int, cursor: str | None, base_path: str
    ) -> UserListV2:
        after = decode_cursor(cursor) if cursor else None
        # One extra row tells whether another page exists without a COUNT.
        page, last = split_page(await self._users.list_after(filters, limit + 1, after), limit)
        return UserListV2(
            items=[UserReadV2.from_user(u, f"{base_path}/{u.id}") for u in page],
            next_cursor=encode_cursor(last.id) if last else None,
        )

    async def create(self, principal: Principal, body: AdminUserCreate) -> UserRead:
        user = await self._users.create(
            principal.user,
            NewUser(
                email=body.email,
                password=body.password,
                full_name=body.full_name,
                role=body.role,
                is_verified=body.is_verified,
            ),
        )
        return UserRead.from_user(user)

    async def get(self, user_id: str) -> UserRead:
        return UserRead.from_user(await self._users.get(user_id))

    async def get_v2(self, user_id: str, self_link: str) -> UserReadV2:
        return UserReadV2.from_user(await self._users.get(user_id), self_link)

    async def update(self, principal: Principal, user_id: str, body: AdminUserUpdate) -> UserRead:
        changes = UserChanges(
            full_name=body.full_name,
            clear_full_name="full_name" in body.model_fields_set and body.full_name is None,
            role=body.role,
            is_active=body.is_active,
            is_verified=body.is_verified,
        )
        return UserRead.from_user(await self._users.update(principal.user, user_id, changes))

    async def delete(self, principal: Principal, user_id: str) -> None:
        await self._users.delete(principal.user, user_id)

    async def sessions(self, principal: Principal, user_id: str) -> list[SessionRead]:
        sessions = await self._sessions.list_for_user(principal.user, user_id)
        return [SessionRead.from_session(s, principal.session_id) for s in sessions]

    async def revoke_sessions(self, principal: Principal, user_id: str) -> None:
        await self._sessions.revoke_all_for_user(principal.user, user_id)
