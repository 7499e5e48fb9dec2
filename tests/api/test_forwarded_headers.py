"""X-Forwarded-For and -Proto are believed from TRUSTED_PROXIES only, however the app runs.

The app reads them itself (``ClientIpMiddleware``); the servers it is started with
must not rewrite the client first. Bare ``uvicorn`` does, from 127.0.0.1 by default,
which let ``make run`` take a forged X-Forwarded-For past every per-IP limit, so the
live tests below start the app with the two documented command lines, ``make run``
(from the repository root, as the README says) and ``python -m app serve``, and forge
the header from 127.0.0.1 with no trusted proxy configured.
"""

import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.main import create_app
from tests.api.helpers import V1, bearer
from tests.backends import empty_postgres_database, postgres_server
from tests.conftest import SUPERUSER_EMAIL, SUPERUSER_PASSWORD, KeyPems, SettingsFactory, client_of
from tests.live_server import REPO_ROOT, LiveServer
from tests.smtp_server import free_port

LOGIN = f"{V1}/auth/login"
LOOPBACK = "127.0.0.1"
LOGINS_PER_IP = 3
# Documentation addresses (RFC 5737): never a real client.
FORGED = [f"198.51.100.{n}" for n in range(1, LOGINS_PER_IP + 2)]


# --- X-Forwarded-Proto, in-process -------------------------------------------------------


@pytest.mark.parametrize(
    ("trusted_proxies", "proto", "scheme"),
    [
        (["203.0.113.7"], "https", "https"),
        (["203.0.113.0/24"], "http, https", "https"),
        (["203.0.113.7"], "https, http", "http"),
        (["203.0.113.7"], "gopher", "http"),
        ([], "https", "http"),
        (["198.51.100.1"], "https", "http"),
    ],
    ids=["trusted", "right-most", "right-most-http", "not-a-scheme", "no-proxies", "other-proxy"],
)
async def test_x_forwarded_proto_sets_the_scheme_only_from_a_trusted_proxy(
    make_settings: SettingsFactory, trusted_proxies: list[str], proto: str, scheme: str
) -> None:
    app = create_app(make_settings(trusted_proxies=trusted_proxies))
    # The test client's socket address is 203.0.113.7.
    async with app.router.lifespan_context(app), client_of(app) as client:
        # A trailing slash is redirected to the route without it, as an absolute URL.
        response = await client.get(f"{V1}/users/me/", headers={"X-Forwarded-Proto": proto})
    assert response.status_code == 307, response.text
    assert response.headers["location"] == f"{scheme}://testserver{V1}/users/me"


# --- X-Forwarded-For through live servers ------------------------------------------------


def make_run(port: int) -> tuple[list[str], dict[str, str]]:
    """``PORT=... make run`` in the repository root, on this interpreter's virtualenv."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    venv = sys.prefix
    # -o: the virtualenv is taken as installed; the test must not pip install into it.
    command = [make, "--no-print-directory", "-C", str(REPO_ROOT), "-o", f"{venv}/.installed"]
    return [*command, "run"], {"VENV": venv, "HOST": LOOPBACK, "PORT": str(port)}


def python_m_app_serve(port: int) -> tuple[list[str], dict[str, str]]:
    return [sys.executable, "-m", "app", "serve"], {
        "HOST": LOOPBACK,
        "PORT": str(port),
        "PYTHONPATH": str(REPO_ROOT),
    }


COMMANDS = {"make-run": make_run, "python-m-app-serve": python_m_app_serve}


@pytest.fixture(params=["sqlite", "postgres"])
async def live_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the backend: the server migrates it as it starts."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
        return
    postgres_server()  # skips with its reason when PostgreSQL is not configured
    async with empty_postgres_database("forwarded") as url:
        yield url


def server_env(database_url: str, data_dir: Path, key_pems: KeyPems) -> dict[str, str]:
    """Every setting the test depends on, so a developer's .env in the root changes none."""
    return {
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "DATA_DIR": str(data_dir),
        "WORKERS": "1",
        "ACCESS_TOKEN_PRIVATE_KEY": key_pems.access_private,
        "ACCESS_TOKEN_PUBLIC_KEY": key_pems.access_public,
        "REFRESH_TOKEN_PRIVATE_KEY": key_pems.refresh_private,
        "REFRESH_TOKEN_PUBLIC_KEY": key_pems.refresh_public,
        "SECRET_KEY": "forwarded-headers-secret-key-of-32-chars",
        "FIRST_SUPERUSER_EMAIL": SUPERUSER_EMAIL,
        "FIRST_SUPERUSER_PASSWORD": SUPERUSER_PASSWORD,
        "PASSWORD_HASH_CONCURRENCY": "2",
        "ARGON2_MEMORY_KIB": "1024",
        "ARGON2_TIME_COST": "1",
        "EMAIL_BACKEND": "console",
        "EMAIL_WORKER_ENABLED": "false",
        "TRUSTED_PROXIES": "",
        "TRUSTED_HOSTS": "",
        "METRICS_ENABLED": "false",
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_STORAGE_URL": "memory://",
        "RATE_LIMIT_LOGIN_PER_IP": f"{LOGINS_PER_IP}/minute",
        "RATE_LIMIT_LOGIN_PER_ACCOUNT": "100/minute",
    }


def forged_login(client: httpx.Client, forged_ip: str) -> httpx.Response:
    return client.post(
        LOGIN,
        data={"username": SUPERUSER_EMAIL, "password": SUPERUSER_PASSWORD},
        headers={"X-Forwarded-For": forged_ip},
    )


def recorded_ips(client: httpx.Client, access_token: str) -> tuple[list[str], list[str]]:
    """The IPs on the superuser's sessions, and on the audit log's successful logins."""
    auth = bearer(access_token)
    sessions = client.get(f"{V1}/users/me/sessions", headers=auth)
    assert sessions.status_code == 200, sessions.text
    audit = client.get(f"{V1}/admin/audit", params={"event": "login_succeeded"}, headers=auth)
    assert audit.status_code == 200, audit.text
    for forged in FORGED:
        assert forged not in sessions.text
        assert forged not in audit.text
    return (
        [session["ip_address"] for session in sessions.json()],
        [event["ip_address"] for event in audit.json()["items"]],
    )


@pytest.mark.parametrize("how", sorted(COMMANDS))
def test_a_forged_x_forwarded_for_from_loopback_is_not_the_client(
    how: str, live_database_url: str, tmp_path: Path, key_pems: KeyPems
) -> None:
    port = free_port()
    command, extra_env = COMMANDS[how](port)
    env = {**server_env(live_database_url, tmp_path / "data", key_pems), **extra_env}
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    server = LiveServer(env, cwd=cwd, port=port, command=command)
    with server, httpx.Client(base_url=server.base_url, timeout=15) as client:
        allowed = [forged_login(client, ip) for ip in FORGED[:LOGINS_PER_IP]]
        for response in allowed:
            assert response.status_code == 200, response.text
        # A new X-Forwarded-For each time, yet the same client: the limit holds.
        refused = forged_login(client, FORGED[LOGINS_PER_IP])
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "rate_limited"

        session_ips, audit_ips = recorded_ips(client, allowed[0].json()["access_token"])
    assert session_ips == [LOOPBACK] * LOGINS_PER_IP
    assert audit_ips == [LOOPBACK] * LOGINS_PER_IP
