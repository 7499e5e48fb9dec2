"""Who may manage whom: the rules that protect privileged accounts."""

from app.models.errors import PermissionDeniedError
from app.models.role import Role
from app.models.user import User


class AccessPolicy:
    """Only a holder of ``root:admin`` may create, modify, promote or demote privileged users."""

    def ensure_can_manage(self, actor: User, target: User) -> None:
        if target.role.is_privileged and not actor.is_root:
            raise PermissionDeniedError("Only a superadmin may manage admins and superadmins.")

    def ensure_can_assign(self, actor: User, role: Role) -> None:
        if role.is_privileged and not actor.is_root:
            raise PermissionDeniedError("Only a superadmin may grant the admin or superadmin role.")
