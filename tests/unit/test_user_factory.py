"""UserFactory: the role to permission table, e-mail normalisation, the injected clock."""

import uuid
from datetime import UTC, datetime

import pytest

from app.factories.user_factory import ROLE_PERMISSIONS, UserFactory
from app.models.role import Permission, Role
from app.models.user import User

FIXED_NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)

USER_PERMISSIONS = {"profile:read", "profile:update"}
ADMIN_PERMISSIONS = USER_PERMISSIONS | {"user:read", "user:create", "user:update", "user:delete"}
SUPERADMIN_PERMISSIONS = {"root:admin"}


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


@pytest.fixture
def factory() -> UserFactory:
    return UserFactory(FixedClock(FIXED_NOW))


def make_user(factory: UserFactory, role: Role) -> User:
    return factory.create(email=f"{role.value}@example.com", hashed_password="hash", role=role)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.USER, USER_PERMISSIONS),
        (Role.ADMIN, ADMIN_PERMISSIONS),
        (Role.SUPERADMIN, SUPERADMIN_PERMISSIONS),
    ],
)
def test_role_permission_table(factory: UserFactory, role: Role, expected: set[str]) -> None:
    assert {str(p) for p in UserFactory.permissions_for(role)} == expected
    assert {str(p) for p in make_user(factory, role).permissions} == expected


def test_every_role_has_a_permission_entry() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_create_lower_cases_and_strips_the_email(factory: UserFactory) -> None:
    user = factory.create(email="  Alice.Smith@Example.COM ", hashed_password="hash")

    assert user.email == "alice.smith@example.com"


def test_create_uses_the_injected_clock(factory: UserFactory) -> None:
    user = factory.create(email="a@example.com", hashed_password="hash")

    assert user.created_at == FIXED_NOW
    assert user.updated_at == FIXED_NOW


def test_create_defaults_and_passthrough_fields(factory: UserFactory) -> None:
    user = factory.create(
        email="a@example.com", hashed_password="$argon2id$stored", full_name="Alice"
    )

    assert user.role is Role.USER
    assert user.hashed_password == "$argon2id$stored"
    assert user.full_name == "Alice"
    assert user.is_active is True
    assert user.is_verified is False
    assert uuid.UUID(user.id).version == 7


def test_create_honours_is_verified_and_gives_distinct_ids(factory: UserFactory) -> None:
    first = factory.create(email="a@example.com", hashed_password="h", is_verified=True)
    second = factory.create(email="b@example.com", hashed_password="h")

    assert first.is_verified is True
    assert first.id != second.id


def test_plain_user_has_only_profile_permissions(factory: UserFactory) -> None:
    user = make_user(factory, Role.USER)

    assert user.has_permission(Permission.PROFILE_READ)
    assert user.has_permission(Permission.PROFILE_UPDATE)
    assert not user.has_permission(Permission.USER_READ)
    assert not user.has_permission(Permission.ROOT_ADMIN)
    assert not user.is_root


def test_admin_manages_users_but_is_not_root(factory: UserFactory) -> None:
    admin = make_user(factory, Role.ADMIN)

    assert admin.has_permission(Permission.USER_DELETE)
    assert admin.has_permission(Permission.PROFILE_READ)
    assert not admin.has_permission(Permission.ROOT_ADMIN)
    assert not admin.is_root


def test_root_admin_grants_every_permission(factory: UserFactory) -> None:
    superadmin = make_user(factory, Role.SUPERADMIN)

    assert superadmin.permissions == frozenset({Permission.ROOT_ADMIN})
    assert superadmin.is_root
    assert all(superadmin.has_permission(permission) for permission in Permission)
