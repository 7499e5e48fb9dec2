"""HTTP helpers shared by the API tests."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt

from app.interfaces.token_codec import TokenCodec
from tests.conftest import DEFAULT_PASSWORD, SUPERUSER_EMAIL, SUPERUSER_PASSWORD

V1 = "/api/v1"
V2 = "/api/v2"
PROBLEM_JSON = "application/problem+json"
# Headers that legitimately differ between two responses to the same request.
VOLATILE_HEADERS = frozenset({"x-request-id", "date"})


@dataclass
class LoggedIn:
    user_id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.access_token)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def expired_copy(codec: TokenCodec, access_token: str) -> str:
    """The access token as it is once expired: same session and claims, signed by
    ``codec`` two minutes ago with a lifetime of 30 seconds."""
    claims: dict[str, Any] = jwt.decode(access_token, options={"verify_signature": False})
    return codec.encode_access(
        subject=claims["sub"],
        session_id=claims["sid"],
        role=claims["role"],
        permissions=claims["perms"],
        now=datetime.now(UTC) - timedelta(minutes=2),
        ttl_seconds=30,
    )


def assert_problem(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "code", "request_id"} <= body.keys()
    if code is not None:
        assert body["code"] == code, body
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    return body


def comparable(response: httpx.Response) -> tuple[int, dict[str, str], Any]:
    """Status, headers and body with the per-request values removed."""
    headers = {
        name: value for name, value in response.headers.items() if name not in VOLATILE_HEADERS
    }
    body = response.json() if response.content else None
    if isinstance(body, dict):
        body.pop("request_id", None)
    return response.status_code, headers, body


async def register(
    client: httpx.AsyncClient, email: str, password: str = DEFAULT_PASSWORD, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        f"{V1}/auth/register", json={"email": email, "password": password, **extra}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def login(
    client: httpx.AsyncClient,
    email: str,
    password: str = DEFAULT_PASSWORD,
    headers: dict[str, str] | None = None,
) -> LoggedIn:
    response = await client.post(
        f"{V1}/auth/login", data={"username": email, "password": password}, headers=headers
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    me = await client.get(f"{V1}/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200, me.text
    return LoggedIn(
        user_id=me.json()["id"],
        email=email,
        password=password,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )


async def register_and_login(
    client: httpx.AsyncClient, email: str, password: str = DEFAULT_PASSWORD
) -> LoggedIn:
    await register(client, email, password)
    return await login(client, email, password)


async def login_superuser(client: httpx.AsyncClient) -> LoggedIn:
    return await login(client, SUPERUSER_EMAIL, SUPERUSER_PASSWORD)


async def create_user_as(
    client: httpx.AsyncClient,
    actor: LoggedIn,
    email: str,
    role: str = "user",
    password: str = DEFAULT_PASSWORD,
) -> dict[str, Any]:
    response = await client.post(
        f"{V1}/users",
        json={"email": email, "password": password, "role": role, "is_verified": True},
        headers=actor.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
