"""Dependency injection: build every long-lived object once and hand each its collaborators."""

from dataclasses import dataclass
from functools import partial

from app.config import Settings
from app.controllers.admin_user_controller import AdminUserController
from app.controllers.auth_controller import AuthController
from app.controllers.system_controller import SystemController
from app.controllers.user_controller import UserController
from app.db import Database
from app.factories.user_factory import UserFactory
from app.repositories.sql.schema import SqlHealthProbe
from app.repositories.sql.session_repository import SqlSessionRepository
from app.repositories.sql.user_repository import SqlUserRepository
from app.services.access_policy import AccessPolicy
from app.services.auth_service import AuthPolicy, AuthService
from app.services.session_service import SessionService
from app.services.user_service import UserService
from app.utils.clock import SystemClock
from app.utils.jwt_codec import JwtTokenCodec
from app.utils.keys import KeyRing
from app.utils.password_hasher import PwdlibPasswordHasher


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
