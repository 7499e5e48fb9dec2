"""Every error is an ``application/problem+json`` body that never leaks what it should not."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from app.middlewares.body_size_limit_middleware import DEFAULT_MAX_BODY_BYTES
from tests.api.helpers import V1, assert_problem, register
from tests.conftest import DEFAULT_PASSWORD, SettingsFactory, running

REGISTER = f"{V1}/auth/register"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "request_id"}


def assert_full_problem(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    body = assert_problem(response, status, code)
    assert body.keys() >= PROBLEM_KEYS
    assert body["type"].startswith("https://")
    assert body["title"]
    assert body["detail"]
    assert body["request_id"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def assert_field_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = body["errors"]
    assert errors
    for error in errors:
        assert set(error) == {"loc", "msg", "type"}, error
        assert isinstance(error["loc"], list)
        assert isinstance(error["msg"], str)
        assert isinstance(error["type"], str)
    return errors


async def login_status(client: httpx.AsyncClient, email: str, password: str) -> int:
    response = await client.post(f"{V1}/auth/login", data={"username": email, "password": password})
    return response.status_code


# --- 422 -------------------------------------------------------------------------------


async def test_malformed_json_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        REGISTER,
        content=b'{"email": "a@example.com", "password": ',
        headers={"Content-Type": "application/json"},
    )
    body = assert_full_problem(response, 422, "validation_error")
    errors = assert_field_errors(body)
    assert any(error["type"] == "json_invalid" for error in errors), errors


async def test_wrong_types_are_422_and_never_echo_the_password(client: httpx.AsyncClient) -> None:
    secret_password = 9876543210123
    response = await client.post(
        REGISTER,
        json={"email": "types@example.com", "password": secret_password, "full_name": ["x"]},
    )
    body = assert_full_problem(response, 422, "validation_error")
    errors = assert_field_errors(body)
    locs = {tuple(error["loc"]) for error in errors}
    assert ("body", "password") in locs
    assert ("body", "full_name") in locs
    assert str(secret_password) not in response.text


async def test_short_password_string_is_never_echoed(client: httpx.AsyncClient) -> None:
    response = await client.post(
        REGISTER, json={"email": "echo@example.com", "password": "Zq7#kP!"}
    )
    body = assert_full_problem(response, 422, "validation_error")
    assert_field_errors(body)
    assert "Zq7#kP!" not in response.text
    assert "input" not in json.dumps(body["errors"])


async def test_unknown_fields_are_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        REGISTER,
        json={"email": "extra@example.com", "password": DEFAULT_PASSWORD, "role": "superadmin"},
    )
    body = assert_full_problem(response, 422, "validation_error")
    errors = assert_field_errors(body)
    assert [(error["loc"], error["type"]) for error in errors] == [
        (["body", "role"], "extra_forbidden")
    ]
    # Nothing was created: the same email registers normally afterwards.
    await register(client, "extra@example.com")


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", "a b@example.com", ""])
async def test_invalid_email_is_422(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post(REGISTER, json={"email": email, "password": DEFAULT_PASSWORD})
    body = assert_full_problem(response, 422, "validation_error")
    errors = assert_field_errors(body)
    assert [error["loc"] for error in errors] == [["body", "email"]]


@pytest.mark.parametrize("length", [7, 129])
async def test_password_out_of_bounds_is_422_and_creates_nobody(
    client: httpx.AsyncClient, length: int
) -> None:
    email = f"len{length}@example.com"
    password = "p" * length
    response = await client.post(REGISTER, json={"email": email, "password": password})
    body = assert_full_problem(response, 422, "validation_error")
    errors = assert_field_errors(body)
    assert [error["loc"] for error in errors] == [["body", "password"]]
    assert password not in response.text

    # No account exists: logging in fails and the email is still free.
    assert await login_status(client, email, password) == 401
    await register(client, email)


@pytest.mark.parametrize("length", [8, 128])
async def test_password_at_the_bounds_is_accepted(
    make_settings: SettingsFactory, length: int
) -> None:
    email = f"ok{length}@example.com"
    # The length rule alone: zxcvbn credits no 8 characters with more than 10^8 guesses
    # (score 2), so the default PASSWORD_MIN_SCORE of 3 refuses every one of them.
    password = ("Zq7!mT#w-plum-Orbit-4-ladder-" * 5)[:length]
    async with running(make_settings(password_min_score=2)) as (_app, client):
        await register(client, email, password)
        assert await login_status(client, email, password) == 200


# --- 413 -------------------------------------------------------------------------------


def oversized_json() -> bytes:
    padding = "x" * (DEFAULT_MAX_BODY_BYTES + 1)
    return json.dumps({"email": "big@example.com", "password": padding}).encode()


async def test_body_over_the_limit_with_content_length_is_413(client: httpx.AsyncClient) -> None:
    body = oversized_json()
    response = await client.post(
        REGISTER, content=body, headers={"Content-Type": "application/json"}
    )
    assert response.request.headers["content-length"] == str(len(body))
    assert_full_problem(response, 413, "payload_too_large")
    assert await login_status(client, "big@example.com", DEFAULT_PASSWORD) == 401


async def test_streamed_body_over_the_limit_without_content_length_is_413(
    client: httpx.AsyncClient,
) -> None:
    payload = oversized_json()
    chunk = 64 * 1024

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), chunk):
            yield payload[start : start + chunk]

    response = await client.post(
        REGISTER, content=stream(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_full_problem(response, 413, "payload_too_large")
    # Registration never ran.
    again = await client.post(
        REGISTER, json={"email": "big@example.com", "password": DEFAULT_PASSWORD}
    )
    assert again.status_code == 201, again.text


async def test_body_of_exactly_the_limit_is_not_refused(client: httpx.AsyncClient) -> None:
    body = b" " * (DEFAULT_MAX_BODY_BYTES - 2) + b"{}"
    assert len(body) == DEFAULT_MAX_BODY_BYTES
    response = await client.post(
        REGISTER, content=body, headers={"Content-Type": "application/json"}
    )
    # Read whole and validated: missing fields, not too large.
    assert_full_problem(response, 422, "validation_error")


# --- routing ---------------------------------------------------------------------------


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{V1}/does-not-exist")
    assert_full_problem(response, 404, "not_found")


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.get(REGISTER)
    assert_full_problem(response, 405, "method_not_allowed")
    assert "POST" in response.headers["allow"]


# --- 500 -------------------------------------------------------------------------------


@pytest.fixture
async def failing_app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)

    @application.get("/test-only/boom")
    async def boom() -> None:
        raise RuntimeError("secret-detail")

    async with application.router.lifespan_context(application):
        yield application


async def test_unhandled_error_is_500_problem_without_the_exception_text(
    failing_app: FastAPI,
) -> None:
    transport = httpx.ASGITransport(app=failing_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/test-only/boom", headers={"X-Request-ID": "boom-1"})
        health = await http.get("/health")

    body = assert_problem(response, 500, "internal_error")
    assert body.keys() >= PROBLEM_KEYS
    assert body["request_id"] == "boom-1"
    assert response.headers["x-request-id"] == "boom-1"
    assert "secret-detail" not in response.text
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text
    # The app keeps serving after the failure.
    assert health.status_code == 200
