"""Domain entities: plain Python objects with no database types."""

from app.models.errors import DomainError
from app.models.role import Permission, Role
from app.models.session import Session
from app.models.user import User

__all__ = ["DomainError", "Permission", "Role", "Session", "User"]
