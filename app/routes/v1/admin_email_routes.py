"""/api/v1: the admin side of email: bulk verification codes and the outbox."""

from typing import Annotated

from fastapi import Depends, Query, status

from app.controllers.account_email_controller import AccountEmailController
from app.controllers.admin_email_controller import AdminEmailController
from app.interfaces.route import BaseRoutes
from app.models.auth import Principal
from app.models.email import OutboxStatus
from app.models.role import Permission
from app.routes.dependencies import AuthDependencies
from app.routes.responses import problems
from app.schemas.email import OutboxList, QueuedResponse


class AdminEmailRoutes(BaseRoutes):
    """Admin endpoints about email."""

    tags = ("admin: email",)

    def __init__(
        self,
        account_controller: AccountEmailController,
        outbox_controller: AdminEmailController,
        auth: AuthDependencies,
    ) -> None:
        self._accounts = account_controller
        self._outbox = outbox_controller
        self._auth = auth
        super().__init__()

    def register(self) -> None:
        accounts, outbox = self._accounts, self._outbox
        can_update = self._auth.require(Permission.USER_UPDATE)
        can_read = self._auth.require(Permission.USER_READ)

        @self.router.post(
            "/users/send-verification",
            status_code=status.HTTP_202_ACCEPTED,
            responses=problems(401, 403),
            summary="Queue a fresh code for every unverified active user",
        )
        async def send_verification(
            _: Annotated[Principal, Depends(can_update)],
        ) -> QueuedResponse:
            return QueuedResponse(queued=await accounts.send_verification_to_all())

        @self.router.get(
            "/admin/emails",
            responses=problems(400, 401, 403, 422),
            summary="The email outbox, newest first, without bodies",
        )
        async def list_emails(
            _: Annotated[Principal, Depends(can_read)],
            status: Annotated[OutboxStatus | None, Query()] = None,
            limit: Annotated[int, Query(ge=1, le=100)] = 50,
            cursor: Annotated[str | None, Query(max_length=64)] = None,
        ) -> OutboxList:
            return await outbox.list_messages(status, limit, cursor)
