"""Requests with more than 100 header fields or 16 KiB of them get 431, before they are read.

The size counts every field's name and value, the client's own (Host, User-Agent, ...)
included; each test pads a real request to the exact size or count it needs. The
limits are checked in-process and through a live ``python -m app serve``, whose
parser (httptools) would take a header of any size and any number of them.
"""

import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.middlewares.header_size_limit_middleware import (
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_HEADER_FIELDS,
)
from tests.api.helpers import V1, assert_problem
from tests.api.test_security_headers import assert_strict_api_headers
from tests.conftest import DEFAULT_PASSWORD, KeyPems
from tests.live_server import REPO_ROOT, LiveServer
from tests.smtp_server import free_port

CODE = "request_header_fields_too_large"
FILLER = "x-filler"

Client = httpx.Client | httpx.AsyncClient


def header_bytes(request: httpx.Request) -> int:
    return sum(len(name) + len(value) for name, value in request.headers.raw)


def padded_to_bytes(
    client: Client, method: str, url: str, total: int, json: Any = None
) -> httpx.Request:
    """The request with one more field, sized so its fields add up to ``total`` bytes."""
    request = client.build_request(method, url, json=json)
    request.headers[FILLER] = ""
    request.headers[FILLER] = "a" * (total - header_bytes(request))
    assert header_bytes(request) == total
    return request


def padded_to_fields(client: Client, method: str, url: str, count: int) -> httpx.Request:
    """The request with one-letter fields added until it has ``count`` of them."""
    request = client.build_request(method, url)
    for n in range(count - len(request.headers.raw)):
        request.headers[f"x-f{n}"] = "v"
    assert len(request.headers.raw) == count
    return request


def assert_refused(response: httpx.Response) -> None:
    body = assert_problem(response, 431, CODE)
    assert body["title"] == "Request Header Fields Too Large"
    assert_strict_api_headers(response)
    assert response.headers["connection"] == "close"


# --- through the ASGI app ----------------------------------------------------------------


async def test_headers_of_exactly_the_byte_limit_are_served(client: httpx.AsyncClient) -> None:
    request = padded_to_bytes(client, "GET", "/health", DEFAULT_MAX_HEADER_BYTES)
    response = await client.send(request)
    assert response.status_code == 200, response.text


async def test_one_byte_over_the_limit_is_431_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    account = {"email": "hdr@example.com", "password": DEFAULT_PASSWORD}
    request = padded_to_bytes(
        client, "POST", f"{V1}/auth/register", DEFAULT_MAX_HEADER_BYTES + 1, json=account
    )
    assert_refused(await client.send(request))
    # The registration never ran: the address is still free.
    registered = await client.post(f"{V1}/auth/register", json=account)
    assert registered.status_code == 201, registered.text


async def test_exactly_the_field_limit_is_served(client: httpx.AsyncClient) -> None:
    request = padded_to_fields(client, "GET", "/health", DEFAULT_MAX_HEADER_FIELDS)
    response = await client.send(request)
    assert response.status_code == 200, response.text


async def test_one_field_over_the_limit_is_431(client: httpx.AsyncClient) -> None:
    request = padded_to_fields(client, "GET", f"{V1}/users/me", DEFAULT_MAX_HEADER_FIELDS + 1)
    assert_refused(await client.send(request))


# --- through a live server ---------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, key_pems: KeyPems) -> Iterator[httpx.Client]:
    """``python -m app serve`` on SQLite, and a client of it."""
    tmp = tmp_path_factory.mktemp("header-limits")
    port = free_port()
    env = {
        "ENVIRONMENT": "test",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PYTHONPATH": str(REPO_ROOT),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'live.db'}",
        "DATA_DIR": str(tmp / "data"),
        "ACCESS_TOKEN_PRIVATE_KEY": key_pems.access_private,
        "ACCESS_TOKEN_PUBLIC_KEY": key_pems.access_public,
        "REFRESH_TOKEN_PRIVATE_KEY": key_pems.refresh_private,
        "REFRESH_TOKEN_PUBLIC_KEY": key_pems.refresh_public,
        "SECRET_KEY": "header-limits-secret-key-of-32-chars-or-more",
        "EMAIL_WORKER_ENABLED": "false",
    }
    cwd = tmp / "cwd"
    cwd.mkdir()
    command = [sys.executable, "-m", "app", "serve"]
    with (
        LiveServer(env, cwd=cwd, port=port, command=command) as server,
        httpx.Client(base_url=server.base_url, timeout=15) as client,
    ):
        yield client


def test_live_server_serves_headers_at_both_limits(live: httpx.Client) -> None:
    at_bytes = live.send(padded_to_bytes(live, "GET", "/health", DEFAULT_MAX_HEADER_BYTES))
    assert at_bytes.status_code == 200, at_bytes.text
    at_fields = live.send(padded_to_fields(live, "GET", "/health", DEFAULT_MAX_HEADER_FIELDS))
    assert at_fields.status_code == 200, at_fields.text


def test_live_server_refuses_one_over_either_limit(live: httpx.Client) -> None:
    assert_refused(live.send(padded_to_bytes(live, "GET", "/health", DEFAULT_MAX_HEADER_BYTES + 1)))
    assert_refused(
        live.send(padded_to_fields(live, "GET", "/health", DEFAULT_MAX_HEADER_FIELDS + 1))
    )


def test_live_server_refuses_what_it_used_to_process(live: httpx.Client) -> None:
    """The reported cases: a 1 MB header, and 2,000 header fields."""
    big = padded_to_bytes(live, "GET", "/health", 1024 * 1024)
    assert_refused(live.send(big))
    many = padded_to_fields(live, "GET", "/health", 2000)
    assert_refused(live.send(many))
    # The refusals closed their connections; the server still serves.
    assert live.get("/health").status_code == 200
