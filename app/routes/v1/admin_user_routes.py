"""/api/v1/users: user management for admins."""

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Query, status

from app.controllers.admin_user_controller import AdminUserController
from app.interfaces.repositories.user_repository import UserFilter
from app.interfaces.route import BaseRoutes
from app.models.auth import Principal
from app.models.role import Permission
from app.routes.dependencies import AuthDependencies
from app.routes.responses import problems
from app.routes.user_filters import user_filter
from app.schemas.session import SessionRead
from app.schemas.user import AdminUserCreate, AdminUserUpdate, UserList, UserRead


class AdminUserRoutes(BaseRoutes):
    """Permission-gated endpoints over every user."""

    prefix = "/users"
    tags = ("admin: users",)

    def __init__(self, controller: AdminUserController, auth: AuthDependencies) -> None:
        self._controller = controller
        self._auth = auth
        super().__init__()

    def register(self) -> None:
        controller = self._controller
        can_read = self._auth.require(Permission.USER_READ)
        can_create = self._auth.require(Permission.USER_CREATE)
        can_update = self._auth.require(Permission.USER_UPDATE)
        can_delete = self._auth.require(Permission.USER_DELETE)

        @self.router.get("", responses=problems(401, 403, 422), summary="List users")
        async def list_users(
            _: Annotated[Principal, Depends(can_read)],
            filters: Annotated[UserFilter, Depends(user_filter)],
            limit: Annotated[int, Query(ge=1, le=100)] = 20,
            offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
        ) -> UserList:
            return await controller.list_page(filters, limit, offset)

        @self.router.post(
            "",
            status_code=status.HTTP_201_CREATED,
            responses=problems(401, 403, 409, 422),
            summary="Create a user",
        )
        async def create_user(
            body: AdminUserCreate, caller: Annotated[Principal, Depends(can_create)]
        ) -> UserRead:
            return await controller.create(caller, body)

        @self.router.get("/{user_id}", responses=problems(401, 403, 404, 422), summary="Get a user")
        async def get_user(user_id: UUID, _: Annotated[Principal, Depends(can_read)]) -> UserRead:
            return await controller.get(str(user_id))

        @self.router.patch(
            "/{user_id}", responses=problems(401, 403, 404, 409, 422), summary="Update a user"
        )
        async def update_user(
            user_id: UUID,
            body: AdminUserUpdate,
            caller: Annotated[Principal, Depends(can_update)],
        ) -> UserRead:
            return await controller.update(caller, str(user_id), body)

        @self.router.delete(
            "/{user_id}",
            status_code=status.HTTP_204_NO_CONTENT,
            responses=problems(401, 403, 404, 409, 422),
            summary="Delete a user",
        )
        async def delete_user(
            user_id: UUID, caller: Annotated[Principal, Depends(can_delete)]
        ) -> None:
            await controller.delete(caller, str(user_id))

        @self.router.get(
            "/{user_id}/sessions",
            responses=problems(401, 403, 404, 422),
            summary="A user's active sessions",
        )
        async def user_sessions(
            user_id: UUID, caller: Annotated[Principal, Depends(can_update)]
        ) -> list[SessionRead]:
            return await controller.sessions(caller, str(user_id))

        @self.router.delete(
            "/{user_id}/sessions",
            status_code=status.HTTP_204_NO_CONTENT,
            responses=problems(401, 403, 404, 422),
            summary="End every session of a user",
        )
        async def revoke_user_sessions(
            user_id: UUID, caller: Annotated[Principal, Depends(can_update)]
        ) -> None:
            await controller.revoke_sessions(caller, str(user_id))
