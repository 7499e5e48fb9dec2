"""The composition root: ``create_app(settings)`` wires every layer together."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.middleware.cors import CORSMiddleware

from app.config import ConfigurationError, LogFormat, Settings, load_settings
from app.container import Container, build_container
from app.interfaces.clock import Clock
from app.middlewares.access_log_middleware import AccessLogMiddleware
from app.middlewares.body_size_limit_middleware import BodySizeLimitMiddleware
from app.middlewares.client_ip_middleware import ClientIpMiddleware
from app.middlewares.exception_handlers import register_exception_handlers
from app.middlewares.header_size_limit_middleware import HeaderSizeLimitMiddleware
from app.middlewares.metrics_middleware import MetricsMiddleware
from app.middlewares.request_id_middleware import RequestIdMiddleware
from app.middlewares.security_headers_middleware import (
    SecurityHeadersMiddleware,
    TrustedHostMiddleware,
)
from app.middlewares.token_refresh_middleware import TokenRefreshMiddleware
from app.models.errors import WeakPasswordError
from app.routes.dependencies import AuthDependencies
from app.routes.docs_routes import DocsRoutes
from app.routes.responses import problems
from app.routes.system_routes import SystemRoutes
from app.routes.v1.account_email_routes import AccountEmailRoutes
from app.routes.v1.admin_audit_routes import AdminAuditRoutes
from app.routes.v1.admin_email_routes import AdminEmailRoutes
from app.routes.v1.admin_user_routes import AdminUserRoutes
from app.routes.v1.auth_routes import AuthRoutes
from app.routes.v1.user_routes import UserRoutes
from app.routes.v2.user_routes import UserRoutesV2
from app.utils.keys import KeyLoadError
from app.utils.logging_config import configure_logging

logger = logging.getLogger("app")

API_V1 = "/api/v1"
API_V2 = "/api/v2"
REFRESH_PATHS = (f"{API_V1}/auth/refresh",)
# The order the docs present the API in, whatever order the routes are matched in.
OPENAPI_TAGS = [
    {"name": "auth", "description": "Register, verify the email, log in, refresh, log out."},
    {"name": "me", "description": "The signed-in user's profile, password and sessions."},
    {"name": "admin: users", "description": "Manage accounts (admins)."},
    {"name": "admin: email", "description": "The email outbox (admins)."},
    {"name": "admin: audit", "description": "The audit log (admins)."},
    {"name": "users v2", "description": "Version 2: cursor pagination."},
    {"name": "system", "description": "Health, readiness, public keys, metrics."},
]


def _lifespan(container: Container) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    settings = container.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            container.keys.load()
        except KeyLoadError as exc:
            raise ConfigurationError(str(exc)) from None
        container.secret.load()
        await container.storage.open()
        stop = asyncio.Event()
        workers: list[asyncio.Task[None]] = []
        try:
            if settings.first_superuser_email and settings.first_superuser_password:
                try:
                    _, created = await container.user_service.ensure_superuser(
                        settings.first_superuser_email, settings.first_superuser_password
                    )
                except WeakPasswordError as exc:
                    raise ConfigurationError(f"FIRST_SUPERUSER_PASSWORD: {exc.message}") from None
                if created:
                    logger.info("Created the first superuser from FIRST_SUPERUSER_EMAIL")
            if settings.email_worker_enabled:
                workers = [
                    asyncio.create_task(container.request_worker.run(stop), name="requests"),
                    asyncio.create_task(container.dispatcher.run(stop), name="outbox"),
                ]
            yield
        finally:
            stop.set()
            # A request or send in flight finishes; its lease would cover it otherwise.
            for worker in workers:
                await worker
            await container.storage.close()
            container.hasher.close()
            container.strength_estimator.close()
            if container.http_client is not None:
                await container.http_client.aclose()

    return lifespan


def _routers(container: Container) -> list[tuple[str, APIRouter]]:
    """Each resource's router with its version prefix, in matching order.

    They are included into the app directly: every level of nested routers costs
    FastAPI another pass over each route, at start-up and when matching requests.
    """
    auth = AuthDependencies(container.auth_controller, container.codec)
    limiter = container.rate_limiter
    return [
        # FastAPI tries the routes one by one, at a few microseconds each, so the ones
        # every client calls all the time come first. /users/me must also be matched
        # before /users/{user_id}.
        (API_V1, UserRoutes(container.user_controller, auth).router),
        (API_V1, AuthRoutes(container.auth_controller, auth, limiter).router),
        (API_V1, AccountEmailRoutes(container.account_email_controller, limiter).router),
        (
            API_V1,
            AdminEmailRoutes(
                container.account_email_controller, container.admin_email_controller, auth
            ).router,
        ),
        (API_V1, AdminAuditRoutes(container.admin_audit_controller, auth).router),
        (API_V1, AdminUserRoutes(container.admin_user_controller, auth).router),
        (
            API_V2,
            UserRoutesV2(container.user_controller, container.admin_user_controller, auth).router,
        ),
    ]


def _add_middleware(app: FastAPI, container: Container) -> None:
    settings = container.settings
    # Starlette runs the last one added first: header limit, client IP, metrics, request
    # id, access log, trusted host, security headers, body limit, CORS, token refresh.
    app.add_middleware(
        TokenRefreshMiddleware,
        codec=container.codec,
        auth_service=container.auth_service,
        skip_paths=REFRESH_PATHS,
    )
    if settings.backend_cors_origins:
        wildcard = "*" in settings.backend_cors_origins
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.backend_cors_origins,
            # Browsers refuse credentials with a wildcard origin anyway; say so explicitly.
            allow_credentials=not wildcard,
            allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["authorization", "content-type", "x-refresh", "x-request-id"],
            expose_headers=["x-access-token", "x-refresh-token", "x-request-id", "retry-after"],
            max_age=600,
        )
    app.add_middleware(BodySizeLimitMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.is_production)
    if settings.trusted_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts)
    # Inside the request id, so its record carries the id; outside the rest, so it
    # sees their refusals and times them.
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(RequestIdMiddleware)
    if container.metrics is not None:
        app.add_middleware(MetricsMiddleware, metrics=container.metrics, routes=lambda: app.routes)
    # Before the rest, so every other layer sees the scheme a trusted proxy forwarded
    # (HSTS, redirects) and the client it worked out.
    app.add_middleware(ClientIpMiddleware, trusted_proxies=settings.trusted_proxies)
    # Outermost: nothing reads the headers of a request that has too many or too large.
    app.add_middleware(HeaderSizeLimitMiddleware)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """Build a fully wired application; nothing touches the disk or database until start-up.

    ``clock`` replaces the system clock of the services' time-based rules (lockouts,
    code expiry, sessions), so tests can move time instead of waiting for it.
    """
    settings = settings or load_settings()
    configure_logging(
        json_lines=settings.resolved_log_format is LogFormat.JSON,
        level=settings.log_level.value.upper(),
    )
    if settings.is_production and (refusals := settings.production_problems()):
        raise ConfigurationError("Refusing to start in production: " + "; ".join(refusals))
    container = build_container(settings, clock=clock)
    app = FastAPI(
        title=settings.project_name,
        version="1.0.0",
        description="Accounts and authentication: registration, login, RS256 tokens bound "
        "to server-side sessions, roles and permissions.",
        lifespan=_lifespan(container),
        # Any operation may answer 400 when its body cannot be read (e.g. not UTF-8).
        responses=problems(400),
        openapi_tags=OPENAPI_TAGS,
        # DocsRoutes serves both pages with their assets, not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.container = container
    for prefix, router in _routers(container):
        app.include_router(router, prefix=prefix)
    # Probes and docs after the API: their paths never overlap it, and each route
    # tried before a match costs every API request a few microseconds.
    app.include_router(
        SystemRoutes(container.system_controller, container.metrics_controller).router
    )
    app.include_router(DocsRoutes().router)
    register_exception_handlers(app)
    _add_middleware(app, container)
    return app


app = create_app()
