"""Health, readiness, the JWKS, the API docs and the request id."""

import shutil
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from app.db import Database
from tests.api.helpers import V1, assert_problem, login_superuser

PRIVATE_JWK_FIELDS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


async def test_health_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_is_ok_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_ready_is_503_problem_when_the_database_is_unreachable(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    # The app's SQLite file is tmp_path/app.db (the `database_url` fixture). Closing
    # the pooled connections and putting a directory where the file was makes every
    # new connection fail with "unable to open database file", as a lost volume would.
    # Removing the file is not enough: SQLite would quietly create an empty one, and
    # chmod does not stop root. The engine itself stays open, so the probe really runs.
    database = tmp_path / "app.db"
    assert (await client.get("/ready")).status_code == 200
    await Database.engine().dispose()
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        path.unlink(missing_ok=True)
    database.mkdir()

    response = await client.get("/ready", headers={"X-Request-ID": "ready-check-1"})

    body = assert_problem(response, 503, "service_unavailable")
    assert body["request_id"] == "ready-check-1"
    assert "unable to open" not in response.text.lower()
    assert (await client.get("/health")).status_code == 200

    # Readiness follows the database: once the file can be opened again it is ready.
    shutil.rmtree(database)
    assert (await client.get("/ready")).status_code == 200


async def test_jwks_publishes_the_access_key_without_private_fields(
    client: httpx.AsyncClient,
) -> None:
    caller = await login_superuser(client)
    header = jwt.get_unverified_header(caller.access_token)

    response = await client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    keys: list[dict[str, Any]] = response.json()["keys"]
    assert keys
    by_kid = {key["kid"]: key for key in keys}
    assert header["kid"] in by_kid
    key = by_kid[header["kid"]]
    assert key["alg"] == "RS256"
    assert key["use"] == "sig"
    assert key["kty"] == "RSA"
    assert key["n"]
    assert key["e"]
    for published in keys:
        assert not PRIVATE_JWK_FIELDS & published.keys(), published
    # The published key really verifies the token.
    public_key = jwt.PyJWK(key).key
    claims = jwt.decode(
        caller.access_token,
        public_key,
        algorithms=["RS256"],
        options={"verify_aud": False, "verify_iss": False},
    )
    assert claims["sub"] == caller.user_id


async def test_jwks_does_not_publish_the_refresh_key(client: httpx.AsyncClient) -> None:
    caller = await login_superuser(client)
    refresh_kid = jwt.get_unverified_header(caller.refresh_token)["kid"]
    keys = (await client.get("/.well-known/jwks.json")).json()["keys"]
    assert refresh_kid not in {key["kid"] for key in keys}


async def test_docs_page_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger" in response.text.lower()
    assert "/openapi.json" in response.text


async def test_openapi_has_the_oauth2_password_flow(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    schemes = schema["components"]["securitySchemes"]
    password_flows = [
        scheme["flows"]["password"]
        for scheme in schemes.values()
        if scheme.get("type") == "oauth2" and "password" in scheme.get("flows", {})
    ]
    assert password_flows, schemes
    assert password_flows[0]["tokenUrl"] == f"{V1}/auth/login"
    assert f"{V1}/auth/login" in schema["paths"]
    assert "/health" in schema["paths"]


async def test_openapi_declares_every_tag_in_reading_order(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    declared = [tag["name"] for tag in schema["tags"]]
    used = {tag for path in schema["paths"].values() for op in path.values() for tag in op["tags"]}
    # Routes are matched hottest first; the docs still start with logging in.
    assert declared[:2] == ["auth", "me"]
    assert set(declared) == used
    assert all(tag.get("description") for tag in schema["tags"])


# --- X-Request-ID ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_id", ["abc-123", "req.2024:01_x", "A" * 128, "0f8fad5b-d9cb-469f-a165-70867728950e"]
)
async def test_safe_request_id_is_echoed(client: httpx.AsyncClient, request_id: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": request_id})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id


async def test_safe_request_id_appears_in_problem_bodies(client: httpx.AsyncClient) -> None:
    response = await client.get("/no-such-route", headers={"X-Request-ID": "trace-42"})
    body = assert_problem(response, 404, "not_found")
    assert body["request_id"] == "trace-42"
    assert response.headers["x-request-id"] == "trace-42"


@pytest.mark.parametrize(
    "unsafe",
    [
        "has spaces in it",
        "A" * 129,
        "x" * 1000,
        "<script>alert(1)</script>",
        "semi;colon",
        "",
    ],
)
async def test_unsafe_request_id_is_replaced(client: httpx.AsyncClient, unsafe: str) -> None:
    response = await client.get("/no-such-route", headers={"X-Request-ID": unsafe})
    body = assert_problem(response, 404)
    generated = response.headers["x-request-id"]
    assert generated != unsafe
    assert generated
    assert len(generated) <= 128
    assert body["request_id"] == generated
    assert unsafe not in response.text or unsafe == ""


async def test_request_id_is_generated_when_absent_and_differs(client: httpx.AsyncClient) -> None:
    first = await client.get("/health")
    second = await client.get("/health")
    assert first.headers["x-request-id"]
    assert second.headers["x-request-id"]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
