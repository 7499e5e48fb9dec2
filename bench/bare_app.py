"""The ceiling: a bare FastAPI app with two endpoints that return constant JSON.

Started by the benchmark exactly like the real app (uvicorn, uvloop, httptools, one
worker), so the difference between the two is what the app itself costs per request:
middleware, authentication, database round trips and serialisation.
"""

from typing import Any

from fastapi import FastAPI

# Shaped like the app's ``UserRead`` so both responses weigh about the same on the wire.
CONSTANT_USER: dict[str, Any] = {
    "id": "0190a8d2-7c4e-7b1a-9c3d-5e6f7a8b9c0d",
    "email": "bench@example.com",
    "full_name": "Bench User",
    "role": "user",
    "permissions": ["profile:read", "profile:update"],
    "is_active": True,
    "is_verified": True,
    "created_at": "2025-01-01T00:00:00Z",
    "updated_at": "2025-01-01T00:00:00Z",
}

app = FastAPI(title="bare")


@app.get("/health")
async def health() -> dict[str, str]:
    """Constant liveness answer; the benchmark also polls it to know the server is up."""
    return {"status": "ok"}


@app.get("/api/v1/users/me")
async def me() -> dict[str, Any]:
    """Constant user-shaped JSON on the same path as the app's authenticated endpoint."""
    return CONSTANT_USER
