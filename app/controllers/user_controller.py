"""The caller's own account: profile, password and sessions."""

from app.models.auth import Principal
from app.schemas.session import SessionRead
from app.schemas.user import PasswordChange, UserProfileUpdate, UserRead, UserReadV2
from app.services.session_service import SessionService
from app.services.user_service import UserService


class UserController:
    """Endpoints under ``/users/me``."""

    def __init__(self, user_service: UserService, session_service: SessionService) -> None:
        self._users = user_service
        self._sessions = session_service

    def me(self, principal: Principal) -> UserRead:
        return UserRead.from_user(principal.user)

    def me_v2(self, principal: Principal, self_link: str) -> UserReadV2:
        return UserReadV2.from_user(principal.user, self_link)

    async def update_me(self, principal: Principal, update: UserProfileUpdate) -> UserRead:
        user = await self._users.update_profile(principal, update.full_name)
        return UserRead.from_user(user)

    async def change_password(self, principal: Principal, change: PasswordChange) -> None:
        await self._users.change_password(principal, change.current_password, change.new_password)

    async def sessions(self, principal: Principal) -> list[SessionRead]:
        sessions = await self._sessions.list_own(principal)
        return [SessionRead.from_session(s, principal.session_id) for s in sessions]

    async def revoke_session(self, principal: Principal, session_id: str) -> None:
        await self._sessions.revoke_own(principal, session_id)
