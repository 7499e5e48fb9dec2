"""The composition root: ``create_app(settings)`` wires every layer together."""

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import partial

from fastapi import APIRouter, FastAPI
from starlette.middleware.cors import CORSMiddleware

from app.config import ConfigurationError, Settings, load_settings
from app.controllers.admin_user_controller import AdminUserController
from app.controllers.auth_controller import AuthController
from app.controllers.system_controller import SystemController
from app.controllers.user_controller import UserController
from app.db import Database
from app.factories.user_factory import UserFactory
from app.middlewares.body_size_limit_middleware import BodySizeLimitMiddleware
from app.middlewares.exception_handlers import register_exception_handlers
from app.middlewares.request_id_middleware import RequestIdMiddleware
from app.middlewares.token_refresh_middleware import TokenRefreshMiddleware
from app.repositories.sql.schema import SqlHealthProbe, create_schema
from app.repositories.sql.session_repository import SqlSessionRepository
from app.repositories.sql.user_repository import SqlUserRepository
from app.routes.dependencies import AuthDependencies
from app.routes.system_routes import SystemRoutes
from app.routes.v1.admin_user_routes import AdminUserRoutes
from app.routes.v1.auth_routes import AuthRoutes
from app.routes.v1.user_routes import UserRoutes
from app.routes.v2.user_routes import UserRoutesV2
from app.services.access_policy import AccessPolicy
from app.services.auth_service import AuthPolicy, AuthService
from app.services.session_service import SessionService
from app.services.user_service import UserService
from app.utils.clock import SystemClock
from app.utils.jwt_codec import JwtTokenCodec
from app.utils.keys import KeyRing
from app.utils.password_hasher import PwdlibPasswordHasher

logger = logging.getLogger("app")

API_V1 = "/api/v1"
API_V2 = "/api/v2"
REFRESH_PATHS = (f"{API_V1}/auth/refresh",)


@dataclass(frozen=True, slots=True)
class Container:
    """Every long-lived object of one app instance, built once by ``build_container``."""

    settings: Settings
    keys: KeyRing
    codec: JwtTokenCodec
    hasher: PwdlibPasswordHasher
    auth_service: AuthService
    user_service: UserService
    auth_controller: AuthController
    user_controller: UserController
    admin_user_controller: AdminUserController
    system_controller: SystemController


def build_container(settings: Settings) -> Container:
    clock = SystemClock()
    engine = partial(Database.engine)
    users = SqlUserRepository(engine)
    sessions = SqlSessionRepository(engine)
    keys = KeyRing(
        access_private=settings.access_token_private_key,
        access_public=settings.access_token_public_key,
        refresh_private=settings.refresh_token_private_key,
        refresh_public=settings.refresh_token_public_key,
        data_dir=settings.data_dir,
    )
    codec = JwtTokenCodec(keys, settings.jwt_issuer, settings.jwt_audience)
    hasher = PwdlibPasswordHasher(settings.password_hash_concurrency)
    factory = UserFactory(clock)
    policy = AccessPolicy()
    auth_service = AuthService(
        users,
        sessions,
        hasher,
        codec,
        factory,
        clock,
        AuthPolicy(
            access_ttl_seconds=settings.access_token_ttl_seconds,
            refresh_ttl_seconds=settings.refresh_token_ttl_seconds,
            reuse_grace_seconds=settings.refresh_reuse_grace_seconds,
            require_verified_email=settings.auth_require_verified_email,
        ),
    )
    user_service = UserService(users, sessions, hasher, factory, policy, clock)
    session_service = SessionService(sessions, users, policy, clock)
    return Container(
        settings=settings,
        keys=keys,
        codec=codec,
        hasher=hasher,
        auth_service=auth_service,
        user_service=user_service,
        auth_controller=AuthController(auth_service),
        user_controller=UserController(user_service, session_service),
        admin_user_controller=AdminUserController(user_service, session_service),
        system_controller=SystemController(codec, SqlHealthProbe(engine)),
    )


def _lifespan(container: Container) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    settings = container.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        container.keys.load()
        await create_schema(Database.connect(settings.database_url))
        try:
            if settings.first_superuser_email and settings.first_superuser_password:
                _, created = await container.user_service.ensure_superuser(
                    settings.first_superuser_email, settings.first_superuser_password
                )
                if created:
                    logger.info("Created the first superuser from FIRST_SUPERUSER_EMAIL")
            yield
        finally:
            await Database.dispose()
            container.hasher.close()

    return lifespan


def _routers(container: Container) -> tuple[APIRouter, APIRouter]:
    auth = AuthDependencies(container.auth_controller, container.codec)
    v1 = APIRouter(prefix=API_V1)
    v1.include_router(AuthRoutes(container.auth_controller, auth).router)
    # /users/me must be matched before /users/{user_id}.
    v1.include_router(UserRoutes(container.user_controller, auth).router)
    v1.include_router(AdminUserRoutes(container.admin_user_controller, auth).router)
    v2 = APIRouter(prefix=API_V2)
    v2.include_router(
        UserRoutesV2(container.user_controller, container.admin_user_controller, auth).router
    )
    return v1, v2


def _add_middleware(app: FastAPI, container: Container) -> None:
    settings = container.settings
    # Starlette runs the last one added first: request id, body limit, CORS, refresh.
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
    app.add_middleware(RequestIdMiddleware)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build a fully wired application; nothing touches the disk or database until start-up."""
    settings = settings or load_settings()
    if settings.is_production and (problems := settings.production_problems()):
        raise ConfigurationError("Refusing to start in production: " + "; ".join(problems))
    container = build_container(settings)
    app = FastAPI(
        title=settings.project_name,
        version="1.0.0",
        description="Accounts and authentication: registration, login, RS256 tokens bound "
        "to server-side sessions, roles and permissions.",
        lifespan=_lifespan(container),
    )
    app.state.container = container
    v1, v2 = _routers(container)
    app.include_router(SystemRoutes(container.system_controller).router)
    app.include_router(v1)
    app.include_router(v2)
    register_exception_handlers(app)
    _add_middleware(app, container)
    return app


app = create_app()
