"""What the running server logs over a whole account's life: one access line per request
with its id, and never a password, token, code or key.

The app runs under uvicorn as ``python -m app serve`` runs it (``log_config=None``, no
uvicorn access log) and is driven over real HTTP, with email through a real SMTP
server. Every logger of the process is at DEBUG (the root, the app, uvicorn, SQLAlchemy,
the drivers...), and everything they emit is read back from stderr, where the app's
handler writes it, then searched for each secret the flow handled.
"""

import asyncio
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn

from app.config import Settings
from app.main import create_app
from tests.api.email_helpers import MailEnv, contains_code, email_settings, wait_until
from tests.api.helpers import V1, bearer, expired_copy
from tests.conftest import SUPERUSER_PASSWORD, KeyPems, SettingsFactory
from tests.smtp_server import SmtpTestServer, free_port

ME = f"{V1}/users/me"
REFRESH = f"{V1}/auth/refresh"
LOGOUT = f"{V1}/auth/logout"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """What is logged does not depend on the store: SQLite only."""
    return f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"


# Loggers of the test's own side, quieted: the SMTP server (the recipient's mail
# server) logs every DATA line, the codes included; the HTTP client (the caller) logs
# its URLs, queries included, and the response headers, renewed tokens included.
# The app uses neither library.
TEST_SIDE_LOGGERS = ("mail.log", "httpx", "httpcore")


@pytest.fixture
def everything_at_debug() -> Iterator[None]:
    """The root logger at DEBUG, so no library's record is dropped for its level."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in TEST_SIDE_LOGGERS)]
    levels = [logger.level for logger in loggers]
    loggers[0].setLevel(logging.DEBUG)
    for logger in loggers[1:]:
        logger.setLevel(logging.WARNING)
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


@dataclass
class Secrets:
    """Everything the flow handled that must never be logged."""

    texts: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)

    def text(self, value: str) -> str:
        self.texts.add(value)
        return value

    def token(self, token: str) -> str:
        self.texts.add(token)
        # The signature alone would let nobody forge a token, but it is the token's
        # proof: a log holding it holds most of a credential.
        self.texts.add(token.rsplit(".", 1)[1])
        return token

    def pem(self, pem: str) -> None:
        self.texts.update(
            line for line in pem.strip().splitlines() if line and not line.startswith("-----")
        )


@asynccontextmanager
async def served(
    settings: Settings, smtp: SmtpTestServer
) -> AsyncIterator[tuple[MailEnv, list[str]]]:
    """The app under uvicorn on a free port, a client over HTTP, the ids it sent."""
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await wait_until(lambda: server.started or task.done(), "uvicorn to start")
    assert server.started, "uvicorn did not start"
    sent: list[str] = []

    async def remember(request: httpx.Request) -> None:
        sent.append(request.headers.get("x-request-id", ""))

    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", event_hooks={"request": [remember]}
        ) as client:
            yield (
                MailEnv(
                    app=app,
                    client=client,
                    smtp=smtp,
                    settings=settings,
                    outbox=app.state.container.storage.outbox,
                    requests=app.state.container.storage.email_requests,
                ),
                sent,
            )
    finally:
        server.should_exit = True
        await task


async def account_life(env: MailEnv, tag: str, found: Secrets) -> str:
    """Register, verify, log in, refresh (both ways), reset the password, log out.

    Returns the user's id. ``tag`` names the request ids of the requests checked later.
    """
    email = f"logs-{tag}@example.com"
    password = found.text(f"first-{secrets.token_urlsafe(12)}")
    new_password = found.text(f"second-{secrets.token_urlsafe(12)}")
    wrong_password = found.text(f"wrong-{secrets.token_urlsafe(12)}")

    user_id = (await env.register(email, password))["id"]
    code = await env.verification_code(email)
    found.codes.add(code)
    assert (await env.verify(email, code)).status_code == 200
    assert (await env.login_response(email, wrong_password)).status_code == 401

    tokens = (await env.login_response(email, password)).json()
    access, refresh = found.token(tokens["access_token"]), found.token(tokens["refresh_token"])
    query_secret = found.text(secrets.token_urlsafe(16))
    me = await env.client.get(
        f"{ME}?code={query_secret}", headers={**bearer(access), "X-Request-ID": f"me-{tag}"}
    )
    assert me.status_code == 200, me.text

    # The refresh middleware: an expired access token renewed from x-refresh.
    expired = found.token(expired_copy(env.app.state.container.codec, access))
    renewed = await env.client.get(ME, headers={**bearer(expired), "x-refresh": refresh})
    assert renewed.status_code == 200, renewed.text
    found.token(renewed.headers["x-access-token"])
    rotated = found.token(renewed.headers["x-refresh-token"])

    response = await env.client.post(REFRESH, json={"refresh_token": rotated})
    assert response.status_code == 200, response.text
    found.token(response.json()["access_token"])
    found.token(response.json()["refresh_token"])
    # A replay of the rotated token: the session is revoked, with a warning.
    replay = await env.client.post(
        REFRESH, json={"refresh_token": rotated}, headers={"X-Request-ID": f"replay-{tag}"}
    )
    assert replay.status_code == 401

    assert (await env.forgot(email)).status_code == 202
    reset_code = await env.reset_code(email)
    found.codes.add(reset_code)
    assert (await env.reset(email, reset_code, new_password)).status_code == 204

    tokens = (await env.login_response(email, new_password)).json()
    found.token(tokens["refresh_token"])
    last = found.token(tokens["access_token"])
    logout = await env.client.post(
        LOGOUT, headers={**bearer(last), "X-Request-ID": f"logout-{tag}"}
    )
    assert logout.status_code == 204, logout.text
    return str(user_id)


@pytest.mark.usefixtures("everything_at_debug")
@pytest.mark.parametrize("log_format", ["json", "text"])
async def test_the_log_has_an_access_line_per_request_and_no_secret(
    log_format: str,
    make_settings: SettingsFactory,
    smtp_server: SmtpTestServer,
    key_pems: KeyPems,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = email_settings(
        make_settings,
        smtp_server,
        log_format=log_format,
        log_level="debug",
        refresh_reuse_grace_seconds=0,
    )
    found = Secrets(texts={SUPERUSER_PASSWORD, str(settings.secret_key)})
    found.pem(key_pems.access_private)
    found.pem(key_pems.refresh_private)
    capsys.readouterr()

    async with served(settings, smtp_server) as (env, sent):
        user_id = await account_life(env, log_format, found)
        await env.settle()
    output = capsys.readouterr().err

    leaked = sorted(text for text in found.texts if text in output)
    leaked += sorted(code for code in found.codes if contains_code(output, code))
    assert not leaked, f"secrets in the {log_format} log: {leaked}"
    if log_format == "json":
        check_json_log(output, len(sent), user_id)
    else:
        check_text_log(output, len(sent), user_id)


def check_json_log(output: str, requests: int, user_id: str) -> None:
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    loggers = {record["logger"] for record in records}
    # uvicorn's records and the libraries' come out as JSON lines too.
    assert "uvicorn.error" in loggers, loggers
    access = [record for record in records if record["logger"] == "app.access"]
    assert len(access) == requests, "one access line per request"
    for record in access:
        assert {"time", "level", "request_id", "method", "path", "status", "duration_ms"} <= (
            record.keys()
        ), record
        assert isinstance(record["duration_ms"], float)
        assert record["duration_ms"] >= 0
        assert "?" not in record["path"]

    [me] = [record for record in access if record["request_id"] == "me-json"]
    assert (me["method"], me["path"], me["status"]) == ("GET", ME, 200)
    assert me["user_id"] == user_id
    [logout] = [record for record in access if record["request_id"] == "logout-json"]
    assert (logout["path"], logout["status"], logout["user_id"]) == (LOGOUT, 204, user_id)
    [replay] = [record for record in access if record["request_id"] == "replay-json"]
    assert (replay["status"], replay["user_id"]) == (401, None)
    # A record the app logs while serving a request carries that request's id.
    [reuse] = [record for record in records if "reuse detected" in record["message"]]
    assert reuse["level"] == "WARNING"
    assert reuse["request_id"] == "replay-json"


def check_text_log(output: str, requests: int, user_id: str) -> None:
    lines = output.splitlines()
    access = [line for line in lines if " app.access [" in line]
    assert len(access) == requests, "one access line per request"
    assert any(" uvicorn.error [-] " in line for line in lines)
    [me] = [line for line in access if "[me-text]" in line]
    assert re.search(rf"INFO +app\.access \[me-text\] GET {ME} 200 [0-9.]+ms user={user_id}$", me)
    [replay] = [line for line in access if "[replay-text]" in line]
    assert re.search(rf"POST {REFRESH} 401 [0-9.]+ms$", replay)
    [reuse] = [line for line in lines if "reuse detected" in line]
    assert re.search(r"WARNING +app\.services\.auth_service \[replay-text\] ", reuse)


async def test_an_unhandled_error_is_one_json_record_with_the_request_id(
    make_settings: SettingsFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(make_settings(log_format="json"))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaput")

    capsys.readouterr()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.get("/boom", headers={"X-Request-ID": "boom-1"})
    finally:
        app.state.container.hasher.close()

    assert response.status_code == 500
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    [error] = [record for record in records if record["level"] == "ERROR"]
    # Logged by the 500 handler, outside every middleware, yet tagged with the request.
    assert error["request_id"] == "boom-1"
    assert error["exc_info"].startswith("Traceback (most recent call last):")
    assert "RuntimeError: kaput" in error["exc_info"]
    [access] = [record for record in records if record["logger"] == "app.access"]
    assert (access["path"], access["status"], access["request_id"]) == ("/boom", 500, "boom-1")
