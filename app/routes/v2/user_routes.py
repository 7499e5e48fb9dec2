"""/api/v2/users: keyset-paginated listing and the v2 user representation."""

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Query, Request

from app.controllers.admin_user_controller import AdminUserController
from app.controllers.user_controller import UserController
from app.interfaces.repositories.user_repository import UserFilter
from app.interfaces.route import BaseRoutes
from app.models.auth import Principal
from app.models.role import Permission
from app.routes.dependencies import AuthDependencies
from app.routes.responses import problems
from app.routes.user_filters import user_filter
from app.schemas.user import UserListV2, UserReadV2


class UserRoutesV2(BaseRoutes):
    """v2 user endpoints."""

    prefix = "/users"
    tags = ("users v2",)

    def __init__(
        self,
        user_controller: UserController,
        admin_controller: AdminUserController,
        auth: AuthDependencies,
    ) -> None:
        self._users = user_controller
        self._admin = admin_controller
        self._auth = auth
        super().__init__()

    def register(self) -> None:
        users, admin = self._users, self._admin
        can_read_profile = self._auth.require(Permission.PROFILE_READ)
        can_read_users = self._auth.require(Permission.USER_READ)

        @self.router.get("/me", responses=problems(401, 403), summary="The current user (v2)")
        async def me(
            request: Request, caller: Annotated[Principal, Depends(can_read_profile)]
        ) -> UserReadV2:
            return users.me_v2(caller, _users_path(request) + f"/{caller.user.id}")

        @self.router.get(
            "",
            responses=problems(400, 401, 403, 422),
            summary="List users with keyset pagination",
        )
        async def list_users(
            request: Request,
            _: Annotated[Principal, Depends(can_read_users)],
            filters: Annotated[UserFilter, Depends(user_filter)],
            limit: Annotated[int, Query(ge=1, le=100)] = 20,
            cursor: Annotated[str | None, Query(max_length=512)] = None,
        ) -> UserListV2:
            return await admin.list_v2(filters, limit, cursor, _users_path(request))

        @self.router.get(
            "/{user_id}", responses=problems(401, 403, 404, 422), summary="Get a user (v2)"
        )
        async def get_user(
            request: Request, user_id: UUID, _: Annotated[Principal, Depends(can_read_users)]
        ) -> UserReadV2:
            return await admin.get_v2(str(user_id), request.url.path)


def _users_path(request: Request) -> str:
    path = request.url.path.rstrip("/")
    return path.removesuffix("/me")
