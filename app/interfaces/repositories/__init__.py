"""Repository contracts, shaped so a document store can implement them too:
string ids, no joins, and compare-and-set updates where concurrency matters."""

from app.interfaces.repositories.session_repository import SessionRepository
from app.interfaces.repositories.user_repository import UserFilter, UserPage, UserRepository

__all__ = ["SessionRepository", "UserFilter", "UserPage", "UserRepository"]
