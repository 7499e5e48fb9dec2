"""Unversioned endpoints: health, readiness, the JSON Web Key Set and the metrics."""

from typing import Any

from fastapi import Request, Response

from app.controllers.metrics_controller import MetricsController
from app.controllers.system_controller import SystemController
from app.interfaces.route import BaseRoutes
from app.routes.responses import problems
from app.schemas.health import HealthStatus
from app.utils.problem import problem, request_id_of


class SystemRoutes(BaseRoutes):
    """Probes for orchestrators, the keys for token verifiers and, when enabled, metrics."""

    tags = ("system",)

    def __init__(
        self, controller: SystemController, metrics: MetricsController | None = None
    ) -> None:
        self._controller = controller
        self._metrics = metrics
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

        if self._metrics is not None:
            self._register_metrics(self._metrics)

    def _register_metrics(self, metrics: MetricsController) -> None:
        # For Prometheus, not for API clients: kept out of the OpenAPI schema.
        @self.router.get("/metrics", include_in_schema=False)
        async def scrape() -> Response:
            page = await metrics.scrape()
            return Response(page.body, media_type=page.content_type)
