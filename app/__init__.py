"""oop-fastapi-backend: accounts and authentication for FastAPI in object-oriented layers."""
