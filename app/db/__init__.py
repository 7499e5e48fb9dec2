"""The database engine, one per process."""

from app.db.engine import Database

__all__ = ["Database"]
