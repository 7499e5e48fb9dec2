"""Dependency injection: build every long-lived object once and hand each its collaborators."""

from dataclasses import dataclass

import httpx

from app.commands.base import EmailBranding, EmailInvoker
from app.config import EmailBackend, Settings
from app.controllers.account_email_controller import AccountEmailController
from app.controllers.admin_audit_controller import AdminAuditController
from app.controllers.admin_email_controller import AdminEmailController
from app.controllers.admin_user_controller import AdminUserController
from app.controllers.auth_controller import AuthController
from app.controllers.metrics_controller import MetricsController
from app.controllers.system_controller import SystemController
from app.controllers.user_controller import UserController
from app.factories.user_factory import UserFactory
from app.interfaces.breached_passwords import BreachedPasswordChecker
from app.interfaces.clock import Clock
from app.interfaces.email_sender import EmailSender
from app.interfaces.rate_limiter import RateLimit, RateLimiter
from app.interfaces.storage import Storage
from app.interfaces.token_codec import TokenCodec
from app.middlewares.client_ip_middleware import ContextVarRequestContext
from app.models.email_request import EmailRequestPurpose
from app.repositories.mongo.storage import MongoStorage
from app.repositories.sql.storage import SqlStorage
from app.services.access_policy import AccessPolicy
from app.services.account_unlock_service import AccountUnlockService, UnlockTokens
from app.services.audit_trail import AuditTrail
from app.services.auth_service import AuthPolicy, AuthService
from app.services.cooldown import EmailCooldown
from app.services.email_request_queue import EmailRequestQueue
from app.services.email_request_worker import EmailRequestWorker, RequestWorkPolicy
from app.services.email_verification_service import EmailVerificationService
from app.services.login_throttle import LockoutPolicy, LoginThrottle
from app.services.one_time_code_service import CodePolicy, OneTimeCodeService
from app.services.outbox_dispatcher import DeliveryPolicy, OutboxDispatcher
from app.services.outbox_service import OutboxService
from app.services.password_policy import PasswordPolicy
from app.services.password_reset_service import PasswordResetService
from app.services.session_service import SessionService
from app.services.user_service import UserService
from app.utils.cached_token_codec import CachedTokenCodec
from app.utils.clock import SystemClock
from app.utils.email.console_sender import ConsoleEmailSender
from app.utils.email.file_sender import FileEmailSender
from app.utils.email.smtp_sender import SmtpConfig, SmtpEmailSender
from app.utils.jwt_codec import JwtTokenCodec
from app.utils.keyed_hasher import HmacHasher, SecretKey
from app.utils.keys import KeyRing
from app.utils.metrics import (
    DisabledAuthMetrics,
    DisabledPasswordPolicyMetrics,
    PrometheusMetrics,
)
from app.utils.password_hasher import PwdlibPasswordHasher
from app.utils.pwned_passwords import DisabledBreachCheck, PwnedPasswordsChecker
from app.utils.rate_limiter import DisabledRateLimiter, LimitsRateLimiter, build_limits_storage
from app.utils.template_renderer import JinjaTemplateRenderer
from app.utils.zxcvbn_estimator import ZxcvbnStrengthEstimator


@dataclass(frozen=True, slots=True)
class Container:
    """Every long-lived object of one app instance, built once by ``build_container``."""

    settings: Settings
    storage: Storage
    keys: KeyRing
    secret: SecretKey
    codec: TokenCodec
    hasher: PwdlibPasswordHasher
    strength_estimator: ZxcvbnStrengthEstimator
    # For the breached-password check; None when PASSWORD_BREACH_CHECK_URL is empty.
    http_client: httpx.AsyncClient | None
    auth_service: AuthService
    user_service: UserService
    dispatcher: OutboxDispatcher
    request_worker: EmailRequestWorker
    rate_limiter: RateLimiter
    auth_controller: AuthController
    user_controller: UserController
    admin_user_controller: AdminUserController
    account_email_controller: AccountEmailController
    admin_email_controller: AdminEmailController
    admin_audit_controller: AdminAuditController
    system_controller: SystemController
    # METRICS_ENABLED=false: both None, and neither /metrics nor its middleware exists.
    metrics: PrometheusMetrics | None
    metrics_controller: MetricsController | None


def build_email_sender(settings: Settings) -> EmailSender:
    """The Strategy for delivery, chosen by ``EMAIL_BACKEND``."""
    if settings.email_backend is EmailBackend.SMTP:
        return SmtpEmailSender(
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                from_email=settings.emails_from_email,
                from_name=settings.emails_from_name,
                username=settings.smtp_user or None,
                password=settings.smtp_password,
                starttls=settings.smtp_starttls,
                implicit_tls=settings.smtp_tls,
                validate_certs=settings.smtp_validate_certs,
                timeout_seconds=settings.smtp_timeout_seconds,
            )
        )
    if settings.email_backend is EmailBackend.FILE:
        return FileEmailSender(
            settings.resolved_email_file_dir, settings.emails_from_email, settings.emails_from_name
        )
    return ConsoleEmailSender()


def build_rate_limiter(settings: Settings) -> RateLimiter:
    if not settings.rate_limit_enabled:
        return DisabledRateLimiter()
    return LimitsRateLimiter(
        build_limits_storage(settings.rate_limit_storage_url),
        {
            RateLimit.LOGIN_PER_IP: settings.rate_limit_login_per_ip,
            RateLimit.LOGIN_PER_ACCOUNT: settings.rate_limit_login_per_account,
            RateLimit.REGISTER_PER_IP: settings.rate_limit_register_per_ip,
            RateLimit.EMAIL_PER_ADDRESS: settings.rate_limit_email_per_address,
            RateLimit.EMAIL_PER_IP: settings.rate_limit_email_per_ip,
            RateLimit.CODE_PER_ADDRESS: settings.rate_limit_code_per_address,
        },
    )


def build_http_client(settings: Settings) -> httpx.AsyncClient | None:
    """The client of outside HTTP services, only when one is configured."""
    if not settings.password_breach_check_url:
        return None
    return httpx.AsyncClient(
        timeout=settings.password_breach_check_timeout_seconds,
        headers={"User-Agent": settings.project_name},
    )


def build_breach_check(
    settings: Settings, client: httpx.AsyncClient | None
) -> BreachedPasswordChecker:
    """Pwned Passwords when ``PASSWORD_BREACH_CHECK_URL`` is set, else no check."""
    if client is None:
        return DisabledBreachCheck()
    return PwnedPasswordsChecker(
        client,
        settings.password_breach_check_url,
        settings.password_breach_check_timeout_seconds,
    )


def build_storage(settings: Settings) -> Storage:
    """SQL or MongoDB, from DATABASE_URL (or the original project's MONGO_* variables)."""
    mongo_url = settings.mongo_url
    if mongo_url is not None:
        return MongoStorage(mongo_url, settings.mongo_database)
    return SqlStorage(settings.database_url)


def build_container(settings: Settings, *, clock: Clock | None = None) -> Container:
    """Wire every layer; ``clock`` replaces the system clock (tests move time by hand)."""
    clock = clock or SystemClock()
    storage = build_storage(settings)
    uow, users, sessions, outbox = storage.uow, storage.users, storage.sessions, storage.outbox
    keys = KeyRing(
        access_private=settings.access_token_private_key,
        access_public=settings.access_token_public_key,
        refresh_private=settings.refresh_token_private_key,
        refresh_public=settings.refresh_token_public_key,
        data_dir=settings.data_dir,
        access_previous=settings.access_token_previous_public_keys,
        refresh_previous=settings.refresh_token_previous_public_keys,
    )
    secret = SecretKey(settings.secret_key, settings.data_dir)
    keyed_hasher = HmacHasher(secret)
    codec = CachedTokenCodec(JwtTokenCodec(keys, settings.jwt_issuer, settings.jwt_audience))
    hasher = PwdlibPasswordHasher(
        settings.password_hash_concurrency,
        memory_kib=settings.argon2_memory_kib,
        time_cost=settings.argon2_time_cost,
    )
    metrics = PrometheusMetrics() if settings.metrics_enabled else None
    factory = UserFactory(clock)
    policy = AccessPolicy()
    invoker = EmailInvoker(
        outbox,
        JinjaTemplateRenderer(),
        EmailBranding(project_name=settings.project_name, frontend_url=settings.frontend_url),
        clock,
    )
    codes = OneTimeCodeService(
        storage.codes,
        storage.guesses,
        users,
        keyed_hasher,
        clock,
        CodePolicy(
            ttl_seconds=settings.otp_ttl_seconds,
            max_attempts=settings.otp_max_attempts,
            guesses_per_hour=settings.otp_guesses_per_hour,
        ),
    )
    cooldown = EmailCooldown(
        storage.cooldowns, keyed_hasher, clock, settings.otp_resend_cooldown_seconds
    )
    request_context = ContextVarRequestContext()
    audit = AuditTrail(storage.audit, request_context, clock)
    throttle = LoginThrottle(
        storage.lockouts,
        storage.guesses,
        keyed_hasher,
        clock,
        request_context,
        LockoutPolicy(
            max_failures=settings.login_max_failures,
            base_seconds=settings.login_lockout_seconds,
            max_seconds=settings.login_lockout_max_seconds,
            account_guesses_per_hour=settings.login_account_guesses_per_hour,
            unlock_seconds=settings.login_unlock_seconds,
        ),
    )
    queue = EmailRequestQueue(storage.email_requests, clock)
    verification = EmailVerificationService(
        users, codes, cooldown, invoker, uow, clock, audit, throttle, queue
    )
    strength_estimator = ZxcvbnStrengthEstimator()
    http_client = build_http_client(settings)
    password_policy = PasswordPolicy(
        strength_estimator,
        build_breach_check(settings, http_client),
        metrics if metrics is not None else DisabledPasswordPolicyMetrics(),
        settings.password_min_score,
        product_words=(settings.project_name,),
    )
    password_reset = PasswordResetService(
        users,
        sessions,
        hasher,
        codes,
        cooldown,
        invoker,
        uow,
        clock,
        password_policy,
        audit,
        throttle,
        queue,
    )
    unlock = AccountUnlockService(
        users,
        UnlockTokens(keyed_hasher, storage.cooldowns, clock),
        cooldown,
        invoker,
        throttle,
        audit,
        queue,
        uow,
    )
    request_worker = EmailRequestWorker(
        storage.email_requests,
        {
            EmailRequestPurpose.VERIFY_EMAIL: verification.send_requested,
            EmailRequestPurpose.RESET_PASSWORD: password_reset.send_requested,
            EmailRequestPurpose.UNLOCK_ACCOUNT: unlock.send_requested,
        },
        uow,
        clock,
        RequestWorkPolicy(
            batch_size=settings.outbox_batch_size,
            lease_seconds=settings.outbox_lease_seconds,
            poll_interval_seconds=settings.outbox_poll_interval_seconds,
        ),
    )
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
            session_max_lifetime_seconds=settings.session_max_lifetime_seconds,
            reuse_grace_seconds=settings.refresh_reuse_grace_seconds,
            require_verified_email=settings.auth_require_verified_email,
        ),
        verification,
        uow,
        throttle,
        password_policy,
        audit,
        metrics if metrics is not None else DisabledAuthMetrics(),
    )
    user_service = UserService(
        users, sessions, hasher, factory, policy, clock, invoker, uow, password_policy, audit
    )
    session_service = SessionService(sessions, users, policy, clock, audit)
    dispatcher = OutboxDispatcher(
        outbox,
        build_email_sender(settings),
        clock,
        DeliveryPolicy(
            batch_size=settings.outbox_batch_size,
            max_attempts=settings.outbox_max_attempts,
            lease_seconds=settings.outbox_lease_seconds,
            backoff_base_seconds=settings.outbox_backoff_base_seconds,
            backoff_max_seconds=settings.outbox_backoff_max_seconds,
            poll_interval_seconds=settings.outbox_poll_interval_seconds,
        ),
    )
    outbox_service = OutboxService(outbox)
    return Container(
        settings=settings,
        storage=storage,
        keys=keys,
        secret=secret,
        codec=codec,
        hasher=hasher,
        strength_estimator=strength_estimator,
        http_client=http_client,
        auth_service=auth_service,
        user_service=user_service,
        dispatcher=dispatcher,
        request_worker=request_worker,
        rate_limiter=build_rate_limiter(settings),
        auth_controller=AuthController(auth_service),
        user_controller=UserController(user_service, session_service),
        admin_user_controller=AdminUserController(user_service, session_service),
        account_email_controller=AccountEmailController(verification, password_reset, unlock),
        admin_email_controller=AdminEmailController(outbox_service),
        admin_audit_controller=AdminAuditController(audit),
        system_controller=SystemController(codec, storage.probe),
        metrics=metrics,
        metrics_controller=(
            MetricsController(metrics, outbox_service, queue) if metrics is not None else None
        ),
    )
