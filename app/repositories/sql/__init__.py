"""SQLAlchemy 2 async adapters (SQLite by default, PostgreSQL through the same code)."""
