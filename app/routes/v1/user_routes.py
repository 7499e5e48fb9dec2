"""/api/v1/users/me: the caller's own account."""

from typing import Annotated
from uuid import UUID

from fastapi import Depends, status

from app.controllers.user_controller import UserController
from app.interfaces.route import BaseRoutes
from app.models.auth import Principal
from app.models.role import Permission
from app.routes.dependencies import AuthDependencies
from app.routes.responses import problems
from app.schemas.session import SessionRead
from app.schemas.user import PasswordChange, UserProfileUpdate, UserRead


class UserRoutes(BaseRoutes):
    """Profile, password and session endpoints of the signed-in user."""

    prefix = "/users/me"
    tags = ("me",)

    def __init__(self, controller: UserController, auth: AuthDependencies) -> None:
        self._controller = controller
        self._auth = auth
        super().__init__()

    def register(self) -> None:
        controller = self._controller
        can_read = self._auth.require(Permission.PROFILE_READ)
        can_update = self._auth.require(Permission.PROFILE_UPDATE)

        @self.router.get("", responses=problems(401, 403), summary="The current user")
        async def me(caller: Annotated[Principal, Depends(can_read)]) -> UserRead:
            return controller.me(caller)

        @self.router.patch("", responses=problems(401, 403, 422), summary="Update your profile")
        async def update_me(
            body: UserProfileUpdate, caller: Annotated[Principal, Depends(can_update)]
        ) -> UserRead:
            return await controller.update_me(caller, body)

        @self.router.post(
            "/password",
            status_code=status.HTTP_204_NO_CONTENT,
            responses=problems(400, 401, 403, 422),
            summary="Change your password; every other session ends",
        )
        async def change_password(
            body: PasswordChange, caller: Annotated[Principal, Depends(can_update)]
        ) -> None:
            await controller.change_password(caller, body)

        @self.router.get("/sessions", responses=problems(401, 403), summary="Your active sessions")
        async def sessions(caller: Annotated[Principal, Depends(can_read)]) -> list[SessionRead]:
            return await controller.sessions(caller)

        @self.router.delete(
            "/sessions/{session_id}",
            status_code=status.HTTP_204_NO_CONTENT,
            responses=problems(401, 403, 404, 422),
            summary="End one of your sessions",
        )
        async def revoke_session(
            session_id: UUID, caller: Annotated[Principal, Depends(can_update)]
        ) -> None:
            await controller.revoke_session(caller, str(session_id))
