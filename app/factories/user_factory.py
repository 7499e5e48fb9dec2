"""The Factory that builds new users with their role's permissions."""

from types import MappingProxyType

from app.interfaces.clock import Clock
from app.models.role import Permission, Role
from app.models.user import User, normalise_email
from app.utils.ids import new_id

_USER_PERMISSIONS = frozenset({Permission.PROFILE_READ, Permission.PROFILE_UPDATE})
_ADMIN_PERMISSIONS = _USER_PERMISSIONS | {
    Permission.USER_READ,
    Permission.USER_CREATE,
    Permission.USER_UPDATE,
    Permission.USER_DELETE,
}

ROLE_PERMISSIONS: MappingProxyType[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.USER: _USER_PERMISSIONS,
        Role.ADMIN: _ADMIN_PERMISSIONS,
        Role.SUPERADMIN: frozenset({Permission.ROOT_ADMIN}),
    }
)


class UserFactory:
    """Creates ``User`` entities; the only code that maps a role to its permissions."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    @staticmethod
    def permissions_for(role: Role) -> frozenset[Permission]:
        return ROLE_PERMISSIONS[role]

    def create(
        self,
        *,
        email: str,
        hashed_password: str,
        full_name: str | None = None,
        role: Role = Role.USER,
        is_verified: bool = False,
    ) -> User:
        now = self._clock.now()
        return User(
            id=new_id(),
            email=normalise_email(email),
            hashed_password=hashed_password,
            full_name=full_name,
            role=role,
            permissions=self.permissions_for(role),
            is_active=True,
            is_verified=is_verified,
            created_at=now,
            updated_at=now,
        )
