"""Profiles, password changes and the admin user management."""

from dataclasses import dataclass
from typing import Any

from app.commands.base import EmailInvoker
from app.commands.email_commands import PasswordChangedCommand
from app.factories.user_factory import UserFactory
from app.interfaces.clock import Clock
from app.interfaces.password_hasher import PasswordHasher
from app.interfaces.repositories.session_repository import SessionRepository
from app.interfaces.repositories.user_repository import UserFilter, UserPage, UserRepository
from app.interfaces.unit_of_work import UnitOfWork
from app.models.audit import AuditEventType
from app.models.auth import Principal
from app.models.errors import (
    EmailTakenError,
    IncorrectPasswordError,
    NotFoundError,
    SelfManagementError,
)
from app.models.role import Role
from app.models.user import User, normalise_email
from app.services.access_policy import AccessPolicy
from app.services.audit_trail import AuditTrail
from app.services.password_policy import PasswordPolicy


@dataclass(frozen=True, slots=True)
class NewUser:
    email: str
    password: str
    full_name: str | None = None
    role: Role = Role.USER
    is_verified: bool = False


@dataclass(frozen=True, slots=True)
class UserChanges:
    """An admin's partial update; None leaves a field as it is."""

    full_name: str | None = None
    role: Role | None = None
    is_active: bool | None = None
    is_verified: bool | None = None
    clear_full_name: bool = False


class UserService:
    """Everything done to a user record after registration."""

    def __init__(
        self,
        users: UserRepository,
        sessions: SessionRepository,
        hasher: PasswordHasher,
        factory: UserFactory,
        policy: AccessPolicy,
        clock: Clock,
        invoker: EmailInvoker,
        uow: UnitOfWork,
        password_policy: PasswordPolicy,
        audit: AuditTrail,
    ) -> None:
        self._audit = audit
        self._password_policy = password_policy
        self._invoker = invoker
        self._uow = uow
        self._users = users
        self._sessions = sessions
        self._hasher = hasher
        self._factory = factory
        self._policy = policy
        self._clock = clock

    async def get(self, user_id: str) -> User:
        user = await self._users.get_by_id(user_id)
        if user is None:
            raise NotFoundError("No user with this id.")
        return user

    async def update_profile(self, principal: Principal, full_name: str | None) -> User:
        return await self._save(principal.user.id, {"full_name": full_name})

    async def change_password(self, principal: Principal, current: str, new: str) -> None:
        result = await self._hasher.verify(current, principal.user.hashed_password)
        if not result.valid:
            raise IncorrectPasswordError()
        await self._password_policy.check(new, principal.user.email, principal.user.full_name)
        hashed = await self._hasher.hash(new)
        now = self._clock.now()
        async with self._uow.atomic():
            updated = await self._save(principal.user.id, {"hashed_password": hashed})
            await self._sessions.revoke_all(
                principal.user.id, now, except_session_id=principal.session_id
            )
            await self._invoker.execute(PasswordChangedCommand(updated, now))
            await self._audit.record(
                AuditEventType.PASSWORD_CHANGED, subject=updated, actor=principal.user
            )

    async def list_page(self, filters: UserFilter, limit: int, offset: int) -> UserPage:
        return await self._users.list_page(filters, limit, offset)

    async def list_after(self, filters: UserFilter, limit: int, after_id: str | None) -> list[User]:
        return await self._users.list_after(filters, limit, after_id)

    async def create(self, actor: User, new_user: NewUser) -> User:
        self._policy.ensure_can_assign(actor, new_user.role)
        await self._password_policy.check(new_user.password, new_user.email, new_user.full_name)
        hashed = await self._hasher.hash(new_user.password)
        user = self._factory.create(
            email=new_user.email,
            hashed_password=hashed,
            full_name=new_user.full_name,
            role=new_user.role,
            is_verified=new_user.is_verified,
        )
        async with self._uow.atomic():
            await self._users.add(user)
            await self._audit.record(
                AuditEventType.USER_CREATED, subject=user, actor=actor, details={"role": user.role}
            )
        return user

    async def update(self, actor: User, user_id: str, changes: UserChanges) -> User:
        target = await self.get(user_id)
        self._policy.ensure_can_manage(actor, target)
        values: dict[str, Any] = {}
        if changes.full_name is not None or changes.clear_full_name:
            values["full_name"] = changes.full_name
        if changes.role is not None and changes.role is not target.role:
            self._policy.ensure_can_assign(actor, changes.role)
            if target.id == actor.id:
                raise SelfManagementError()
            values["role"] = changes.role
            values["permissions"] = self._factory.permissions_for(changes.role)
        if changes.is_active is not None and changes.is_active != target.is_active:
            if target.id == actor.id:
                raise SelfManagementError()
            values["is_active"] = changes.is_active
        if changes.is_verified is not None:
            values["is_verified"] = changes.is_verified
        if not values:
            return target
        async with self._uow.atomic():
            updated = await self._save(target.id, values)
            if not updated.is_active:
                await self._sessions.revoke_all(updated.id, self._clock.now())
            await self._record_access_changes(target, updated, actor)
        return updated

    async def find_by_email(self, email: str) -> User | None:
        return await self._users.get_by_email(normalise_email(email))

    async def promote_to_superuser(self, user: User) -> User:
        """Make an existing account an active, verified superadmin; its password stays.

        The operator's way back in when no superadmin can sign in. Audited like an
        admin's change, with no actor and ``by: operator``: it came from outside the API.
        """
        values: dict[str, Any] = {"is_active": True, "is_verified": True}
        if user.role is not Role.SUPERADMIN:
            values["role"] = Role.SUPERADMIN
            values["permissions"] = self._factory.permissions_for(Role.SUPERADMIN)
        async with self._uow.atomic():
            updated = await self._save(user.id, values)
            await self._record_access_changes(user, updated, None, {"by": "operator"})
        return updated

    async def _record_access_changes(
        self,
        before: User,
        after: User,
        actor: User | None,
        extra: dict[str, str] | None = None,
    ) -> None:
        if after.role is not before.role:
            await self._audit.record(
                AuditEventType.ROLE_CHANGED,
                subject=after,
                actor=actor,
                details={"from": before.role, "to": after.role, **(extra or {})},
            )
        if after.is_active != before.is_active:
            await self._audit.record(
                AuditEventType.STATUS_CHANGED,
                subject=after,
                actor=actor,
                details={"is_active": str(after.is_active).lower(), **(extra or {})},
            )

    async def delete(self, actor: User, user_id: str) -> None:
        target = await self.get(user_id)
        self._policy.ensure_can_manage(actor, target)
        if target.id == actor.id:
            raise SelfManagementError()
        # The delete goes first: it may refuse (the last superadmin), and without a
        # transaction nothing may have changed by then. It takes the sessions with it.
        async with self._uow.atomic():
            if not await self._users.delete(target.id):
                raise NotFoundError("No user with this id.")
            await self._audit.record(AuditEventType.USER_DELETED, subject=target, actor=actor)

    async def _save(self, user_id: str, values: dict[str, Any]) -> User:
        updated = await self._users.update(user_id, values, self._clock.now())
        if updated is None:
            raise NotFoundError("No user with this id.")
        return updated

    async def ensure_superuser(self, email: str, password: str) -> tuple[User, bool]:
        """Create the first superadmin unless an account with this email exists."""
        existing = await self._users.get_by_email(normalise_email(email))
        if existing is not None:
            return existing, False
        await self._password_policy.check(password, email)
        hashed = await self._hasher.hash(password)
        user = self._factory.create(
            email=email, hashed_password=hashed, role=Role.SUPERADMIN, is_verified=True
        )
        try:
            return await self._users.add(user), True
        except EmailTakenError:
            # Another process starting at the same moment created it first.
            winner = await self._users.get_by_email(user.email)
            if winner is None:
                raise
            return winner, False
