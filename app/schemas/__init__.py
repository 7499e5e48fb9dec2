"""Pydantic DTOs: what crosses the HTTP boundary. Input models forbid unknown fields."""
