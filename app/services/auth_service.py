"""Registration, login, token refresh and logout."""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from app.factories.user_factory import UserFactory
from app.interfaces.clock import Clock
from app.interfaces.metrics import AuthMetrics, LoginOutcome
from app.interfaces.password_hasher import PasswordHasher
from app.interfaces.repositories.session_repository import SessionRepository
from app.interfaces.repositories.user_repository import UserRepository
from app.interfaces.token_codec import (
    AccessClaims,
    TokenCodec,
    TokenExpiredError,
    TokenInvalidError,
)
from app.interfaces.unit_of_work import UnitOfWork
from app.models.audit import AuditEventType
from app.models.auth import ClientInfo, Principal, TokenPair
from app.models.errors import (
    AccountDisabledError,
    AccountLockedError,
    DomainError,
    EmailNotVerifiedError,
    InvalidCredentialsError,
    InvalidTokenError,
    UnlockRequiredError,
)
from app.models.session import Session
from app.models.user import User, normalise_email
from app.services.audit_trail import AuditTrail
from app.services.email_verification_service import EmailVerificationService
from app.services.login_throttle import Attempt, LoginThrottle
from app.services.password_policy import PasswordPolicy
from app.utils.ids import new_id

logger = logging.getLogger(__name__)

# The failures a login counts, by the error that reports each.
_LOGIN_FAILURES: tuple[tuple[type[DomainError], LoginOutcome], ...] = (
    (InvalidCredentialsError, LoginOutcome.INVALID_CREDENTIALS),
    (AccountLockedError, LoginOutcome.LOCKED),
    (UnlockRequiredError, LoginOutcome.LOCKED),
    (AccountDisabledError, LoginOutcome.DISABLED),
    (EmailNotVerifiedError, LoginOutcome.UNVERIFIED),
)


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """The knobs of authentication, taken from Settings by the composition root."""

    access_ttl_seconds: int
    refresh_ttl_seconds: int
    session_max_lifetime_seconds: int
    reuse_grace_seconds: int
    require_verified_email: bool


class AuthService:
    """Accounts' entry points: register, log in, rotate refresh tokens, log out."""

    def __init__(
        self,
        users: UserRepository,
        sessions: SessionRepository,
        hasher: PasswordHasher,
        codec: TokenCodec,
        factory: UserFactory,
        clock: Clock,
        policy: AuthPolicy,
        verification: EmailVerificationService,
        uow: UnitOfWork,
        throttle: LoginThrottle,
        password_policy: PasswordPolicy,
        audit: AuditTrail,
        metrics: AuthMetrics,
    ) -> None:
        self._metrics = metrics
        self._audit = audit
        self._throttle = throttle
        self._password_policy = password_policy
        self._verification = verification
        self._uow = uow
        self._users = users
        self._sessions = sessions
        self._hasher = hasher
        self._codec = codec
        self._factory = factory
        self._clock = clock
        self._policy = policy

    async def register(self, email: str, password: str, full_name: str | None) -> User:
        await self._password_policy.check(password, email, full_name)
        hashed = await self._hasher.hash(password)
        user = self._factory.create(email=email, hashed_password=hashed, full_name=full_name)
        async with self._uow.atomic():
            await self._users.add(user)
            await self._verification.send_code(user)
            await self._audit.record(AuditEventType.USER_CREATED, subject=user, actor=user)
        return user

    async def login(self, email: str, password: str, client: ClientInfo) -> TokenPair:
        try:
            pair = await self._login(email, password, client)
        except DomainError as exc:
            for kind, outcome in _LOGIN_FAILURES:
                if isinstance(exc, kind):
                    self._metrics.login_attempt(outcome)
                    break
            raise
        self._metrics.login_attempt(LoginOutcome.SUCCESS)
        return pair

    async def _login(self, email: str, password: str, client: ClientInfo) -> TokenPair:
        email = normalise_email(email)
        attempt = await self._throttle.admit(email)
        user = await self._users.get_by_email(email)
        if user is None:
            # Same cost as a wrong password, so timing does not reveal which emails exist.
            await self._hasher.verify_dummy(password)
            await self._login_failed(email, None, attempt)
        result = await self._hasher.verify(password, user.hashed_password)
        if not result.valid:
            await self._login_failed(email, user, attempt)
        await self._throttle.succeeded(email)
        if not user.is_active:
            raise AccountDisabledError()
        if self._policy.require_verified_email and not user.is_verified:
            raise EmailNotVerifiedError()
        now = self._clock.now()
        if result.new_hash is not None:
            await self._users.update(user.id, {"hashed_password": result.new_hash}, now)
        lifetime = min(self._policy.refresh_ttl_seconds, self._policy.session_max_lifetime_seconds)
        session = await self._sessions.add(
            Session(
                id=new_id(),
                user_id=user.id,
                refresh_jti=new_id(),
                created_at=now,
                last_used_at=now,
                expires_at=now + timedelta(seconds=lifetime),
                user_agent=client.user_agent,
                ip_address=client.ip_address,
            )
        )
        await self._audit.record(AuditEventType.LOGIN_SUCCEEDED, subject=user, actor=user)
        return self._issue(user, session)

    async def _login_failed(self, email: str, user: User | None, attempt: Attempt) -> NoReturn:
        await self._audit.record(AuditEventType.LOGIN_FAILED, subject=user, subject_email=email)
        if attempt.locks_client:
            await self._audit.record(
                AuditEventType.ACCOUNT_LOCKED, subject=user, subject_email=email
            )
        if attempt.spends_budget:
            await self._audit.record(
                AuditEventType.LOGIN_BUDGET_SPENT, subject=user, subject_email=email
            )
        raise InvalidCredentialsError()

    async def refresh(
        self, refresh_token: str, expected_session_id: str | None = None
    ) -> TokenPair:
        """Rotate a refresh token; ``expected_session_id`` binds it to one session."""
        try:
            claims = self._codec.decode_refresh(refresh_token)
        except (TokenExpiredError, TokenInvalidError) as exc:
            raise InvalidTokenError() from exc
        if expected_session_id is not None and claims.session_id != expected_session_id:
            raise InvalidTokenError()
        found = await self._sessions.get_with_user(claims.session_id)
        if found is None:
            raise InvalidTokenError()
        current, user = found
        if current.user_id != claims.subject or user is None or not user.is_active:
            raise InvalidTokenError()
        now = self._clock.now()
        # Sliding expiry, but never past the session's absolute lifetime.
        expires_at = min(
            now + timedelta(seconds=self._policy.refresh_ttl_seconds),
            current.created_at + timedelta(seconds=self._policy.session_max_lifetime_seconds),
        )
        session = await self._sessions.rotate(
            claims.session_id,
            expected_jti=claims.jti,
            new_jti=new_id(),
            now=now,
            expires_at=expires_at,
        )
        if session is None:
            session = await self._resolve_failed_rotation(claims.session_id, claims.jti)
        return self._issue(user, session)

    async def _resolve_failed_rotation(self, session_id: str, jti: str) -> Session:
        """Tell a concurrent duplicate refresh from a replayed, already-rotated token."""
        now = self._clock.now()
        session = await self._sessions.get(session_id)
        if session is None or not session.is_active(now):
            raise InvalidTokenError()
        grace = timedelta(seconds=self._policy.reuse_grace_seconds)
        if (
            jti == session.previous_refresh_jti
            and session.rotated_at is not None
            and now - session.rotated_at <= grace
        ):
            # The rotation that beat this request happened a moment ago: a client
            # retrying or racing itself. Hand it the session's current token.
            return session
        await self._sessions.revoke(session.id, now)
        await self._audit.record(
            AuditEventType.REFRESH_TOKEN_REUSED,
            subject_id=session.user_id,
            details={"session_id": session.id},
        )
        logger.warning(
            "Refresh token reuse detected; session %s of user %s revoked",
            session.id,
            session.user_id,
        )
        raise InvalidTokenError()

    async def authenticate(self, claims: AccessClaims) -> Principal:
        """The caller behind verified access-token claims, if session and user are live."""
        found = await self._sessions.get_with_user(claims.session_id)
        if found is None:
            raise InvalidTokenError()
        session, user = found
        if (
            session.user_id != claims.subject
            or not session.is_active(self._clock.now())
            or user is None
            or not user.is_active
        ):
            raise InvalidTokenError()
        return Principal(user=user, session_id=session.id)

    async def logout(self, principal: Principal) -> None:
        await self._sessions.revoke(principal.session_id, self._clock.now())
        await self._audit.record(
            AuditEventType.LOGGED_OUT, subject=principal.user, actor=principal.user
        )

    async def logout_all(self, principal: Principal) -> None:
        await self._sessions.revoke_all(principal.user.id, self._clock.now())
        await self._audit.record(
            AuditEventType.LOGGED_OUT_EVERYWHERE, subject=principal.user, actor=principal.user
        )

    def _issue(self, user: User, session: Session) -> TokenPair:
        now = self._clock.now()
        access = self._codec.encode_access(
            subject=user.id,
            session_id=session.id,
            role=user.role.value,
            permissions=sorted(p.value for p in user.permissions),
            now=now,
            ttl_seconds=self._policy.access_ttl_seconds,
        )
        refresh = self._codec.encode_refresh(
            subject=user.id,
            session_id=session.id,
            jti=session.refresh_jti,
            now=now,
            expires_at=session.expires_at,
        )
        return TokenPair(
            access_token=access,
            refresh_token=refresh,
            expires_in=self._policy.access_ttl_seconds,
        )
