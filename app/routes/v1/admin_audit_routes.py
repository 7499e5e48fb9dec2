"""/api/v1/admin/audit: the audit log, for superadmins only."""

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Query

from app.controllers.admin_audit_controller import AdminAuditController
from app.interfaces.route import BaseRoutes
from app.models.audit import AuditEventType
from app.models.auth import Principal
from app.models.role import Permission
from app.routes.dependencies import AuthDependencies
from app.routes.responses import problems
from app.schemas.audit import AuditList


class AdminAuditRoutes(BaseRoutes):
    """Read-only: entries are never updated or deleted through the API."""

    prefix = "/admin/audit"
    tags = ("admin: audit",)

    def __init__(self, controller: AdminAuditController, auth: AuthDependencies) -> None:
        self._controller = controller
        self._auth = auth
        super().__init__()

    def register(self) -> None:
        controller = self._controller
        is_root = self._auth.require(Permission.ROOT_ADMIN)

        @self.router.get(
            "",
            responses=problems(401, 403, 422),
            summary="Security events, newest first",
        )
        async def list_audit_events(
            _: Annotated[Principal, Depends(is_root)],
            user_id: Annotated[UUID | None, Query(description="As subject or actor.")] = None,
            event: Annotated[AuditEventType | None, Query()] = None,
            limit: Annotated[int, Query(ge=1, le=100)] = 50,
            cursor: Annotated[UUID | None, Query()] = None,
        ) -> AuditList:
            return await controller.list_events(
                str(user_id) if user_id else None,
                event,
                limit,
                str(cursor) if cursor else None,
            )
