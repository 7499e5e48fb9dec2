"""Unversioned endpoints: health, readiness and the JSON Web Key Set."""

from typing import Any

from fastapi import Request, Response

from app.controllers.system_controller import SystemController
from app.interfaces.route import BaseRoutes
from app.routes.responses import problems
from app.schemas.health import HealthStatus
from app.utils.problem import problem, request_id_of


class SystemRoutes(BaseRoutes):
    """Probes for orchestrators and the keys for token verifiers."""

    tags = ("system",)

    def __init__(self, controller: SystemController) -> None:
        self._controller = controller
        super().__init__()

    def register(self) -> None:
        controller = self._controller

        @self.router.get("/health", summary="Liveness")
        async def health() -> HealthStatus:
            return HealthStatus(status="ok")

        @self.router.get(
            "/ready", responses=problems(503), summary="Readiness", response_model=None
        )
        async def ready(request: Request) -> HealthStatus | Response:
            if await controller.ready():
                return HealthStatus(status="ok")
            return problem(
                503,
                detail="The database does not answer.",
                request_id=request_id_of(request.scope),
            )

        @self.router.get("/.well-known/jwks.json", summary="Public keys of access tokens")
        async def jwks(response: Response) -> dict[str, Any]:
            response.headers["Cache-Control"] = "public, max-age=300"
            return controller.jwks()
