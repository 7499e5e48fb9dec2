"""AccessPolicy: only a holder of root:admin manages or grants privileged roles."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from app.factories.user_factory import UserFactory
from app.models.errors import PermissionDeniedError
from app.models.role import Permission, Role
from app.models.user import User
from app.services.access_policy import AccessPolicy


class FixedClock:
    def now(self) -> datetime:
        return datetime(2030, 1, 1, tzinfo=UTC)


def make_user(role: Role) -> User:
    return UserFactory(FixedClock()).create(
        email=f"{role.value}@example.com", hashed_password="hash", role=role
    )


@pytest.fixture
def policy() -> AccessPolicy:
    return AccessPolicy()


@pytest.mark.parametrize("actor_role", [Role.USER, Role.ADMIN])
@pytest.mark.parametrize("target_role", [Role.ADMIN, Role.SUPERADMIN])
def test_non_root_may_not_manage_privileged_users(
    policy: AccessPolicy, actor_role: Role, target_role: Role
) -> None:
    with pytest.raises(PermissionDeniedError):
        policy.ensure_can_manage(make_user(actor_role), make_user(target_role))


@pytest.mark.parametrize("actor_role", [Role.USER, Role.ADMIN])
@pytest.mark.parametrize("role", [Role.ADMIN, Role.SUPERADMIN])
def test_non_root_may_not_assign_privileged_roles(
    policy: AccessPolicy, actor_role: Role, role: Role
) -> None:
    with pytest.raises(PermissionDeniedError):
        policy.ensure_can_assign(make_user(actor_role), role)


def test_admin_may_manage_and_assign_plain_users(policy: AccessPolicy) -> None:
    admin = make_user(Role.ADMIN)

    policy.ensure_can_manage(admin, make_user(Role.USER))
    policy.ensure_can_assign(admin, Role.USER)


@pytest.mark.parametrize("role", list(Role))
def test_root_may_manage_and_assign_every_role(policy: AccessPolicy, role: Role) -> None:
    root = make_user(Role.SUPERADMIN)

    policy.ensure_can_manage(root, make_user(role))
    policy.ensure_can_assign(root, role)


def test_policy_follows_the_root_permission_not_the_role_name(policy: AccessPolicy) -> None:
    superadmin_without_root = replace(make_user(Role.SUPERADMIN), permissions=frozenset())
    admin_with_root = replace(make_user(Role.ADMIN), permissions=frozenset({Permission.ROOT_ADMIN}))

    with pytest.raises(PermissionDeniedError):
        policy.ensure_can_manage(superadmin_without_root, make_user(Role.ADMIN))
    with pytest.raises(PermissionDeniedError):
        policy.ensure_can_assign(superadmin_without_root, Role.SUPERADMIN)
    policy.ensure_can_manage(admin_with_root, make_user(Role.SUPERADMIN))
    policy.ensure_can_assign(admin_with_root, Role.SUPERADMIN)
