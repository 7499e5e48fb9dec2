"""Two app processes, one database: what one process does, the other honours.

Two real uvicorn processes (A and B, on their own loopback ports) share one database
(a SQLite file, or a scratch PostgreSQL database when TEST_POSTGRES_URL is set), one
rate-limit store (Redis when TEST_REDIS_URL is set, else each its own memory) and one
real SMTP server. Both run the outbox worker. Nothing is shared in memory, so every
assertion below holds only if the state lives where both processes can see it.

The processes get the same settings but one: EMAILS_FROM_NAME names the process, so
each received message tells which worker delivered it. The name is branding only.

The servers start once per backend; each test uses fresh accounts, and every address
and the forwarded client IP carry a token of the run, so counters left on a shared
Redis by another run (or by the other backend) never meet this one's.
"""

import asyncio
import os
import secrets
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.email_helpers import (
    FROM_EMAIL,
    FROM_NAME,
    PROJECT,
    SUBJECT_RESET,
    SUBJECT_VERIFY,
    wait_until,
)
from tests.api.helpers import V1, LoggedIn, assert_problem, bearer, login, register
from tests.api.test_rate_limits import REDIS_ENV, delete_redis_keys
from tests.backends import empty_postgres_database, postgres_server
from tests.conftest import DEFAULT_PASSWORD, SUPERUSER_PASSWORD, KeyPems
from tests.live_server import LiveServer
from tests.smtp_server import ReceivedEmail, SmtpTestServer

# Redis is one store for every xdist worker: its tests run in one worker, in turn.
pytestmark = pytest.mark.xdist_group("redis")

ME = f"{V1}/users/me"
REFRESH = f"{V1}/auth/refresh"
LOGOUT = f"{V1}/auth/logout"
WRONG_PASSWORD = "not-the-password-1"
LOGIN_LIMIT = 4
# Ample for the shared server; the outbox rows are long sent before this.
DELIVERY_SECONDS = 20.0
# After the last expected message, how long a duplicate gets to show up: many poll
# intervals of both workers.
LATE_DUPLICATE_SECONDS = 1.0
MAX_OUTBOX_ROUNDS = 5


@dataclass
class Cluster:
    """Processes A and B on one database, and what the tests need to talk to them."""

    a: LiveServer
    b: LiveServer
    smtp: SmtpTestServer
    token: str
    forwarded_for: str
    superuser_email: str
    shared_limits: bool

    def email(self, name: str) -> str:
        """An address no other test or run uses."""
        return f"{name}-{secrets.token_hex(4)}-{self.token}@example.com"


def from_name(process: str) -> str:
    return f"{FROM_NAME} {process}"


BOTH_SENDERS = {from_name("A"), from_name("B")}


def sender_of(mail: ReceivedEmail) -> str:
    """Which process delivered ``mail``, read from its From display name."""
    return str(mail.message["From"].addresses[0].display_name)


def server_env(
    database_url: str,
    data_dir: Path,
    key_pems: KeyPems,
    smtp: SmtpTestServer,
    limits_url: str,
    superuser_email: str,
) -> dict[str, str]:
    return {
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "DATA_DIR": str(data_dir),
        "ACCESS_TOKEN_PRIVATE_KEY": key_pems.access_private,
        "ACCESS_TOKEN_PUBLIC_KEY": key_pems.access_public,
        "REFRESH_TOKEN_PRIVATE_KEY": key_pems.refresh_private,
        "REFRESH_TOKEN_PUBLIC_KEY": key_pems.refresh_public,
        "SECRET_KEY": "many-processes-secret-key-of-32-chars-or-more",
        "FIRST_SUPERUSER_EMAIL": superuser_email,
        "FIRST_SUPERUSER_PASSWORD": SUPERUSER_PASSWORD,
        "PASSWORD_HASH_CONCURRENCY": "2",
        "ARGON2_MEMORY_KIB": "1024",
        "ARGON2_TIME_COST": "1",
        "AUTH_REQUIRE_VERIFIED_EMAIL": "false",
        # Any replay of a rotated refresh token is a theft, however soon it comes.
        "REFRESH_REUSE_GRACE_SECONDS": "0",
        # The rate limit, not the lockout, is what the wrong passwords here run into.
        "LOGIN_MAX_FAILURES": "100",
        "OTP_RESEND_COOLDOWN_SECONDS": "0",
        "EMAIL_BACKEND": "smtp",
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "SMTP_TIMEOUT_SECONDS": "5",
        "PROJECT_NAME": PROJECT,
        "EMAILS_FROM_EMAIL": FROM_EMAIL,
        "EMAIL_WORKER_ENABLED": "true",
        "OUTBOX_POLL_INTERVAL_SECONDS": "0.05",
        "RATE_LIMIT_ENABLED": "true",
        "RATE_LIMIT_STORAGE_URL": limits_url,
        "RATE_LIMIT_LOGIN_PER_ACCOUNT": f"{LOGIN_LIMIT}/minute",
        "RATE_LIMIT_LOGIN_PER_IP": "1000/minute",
        "RATE_LIMIT_REGISTER_PER_IP": "1000/hour",
        "RATE_LIMIT_EMAIL_PER_ADDRESS": "1000/hour",
        "RATE_LIMIT_EMAIL_PER_IP": "1000/hour",
        "RATE_LIMIT_CODE_PER_ADDRESS": "1000/hour",
        # The tests' clients send X-Forwarded-For with the run's own client IP.
        "TRUSTED_PROXIES": "127.0.0.1",
    }


async def _scratch_postgres_url() -> str:
    # The helper's clean-up is nothing (the database stays for the next run), so
    # leaving its context right away is safe; the schema is empty either way.
    async with empty_postgres_database("many_processes") as url:
        return url


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, key_pems: KeyPems
) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp(f"processes-{request.param}")
    if request.param == "postgres":
        postgres_server()  # skips with its reason when PostgreSQL is not configured
        database_url = asyncio.run(_scratch_postgres_url())
    else:
        database_url = f"sqlite+aiosqlite:///{tmp / 'shared.db'}"
    redis_url = os.environ.get(REDIS_ENV)
    token = uuid.uuid4().hex[:10]
    # 198.18.0.0/15 is reserved for benchmarks: never a real client of anything.
    forwarded_for = f"198.18.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"
    superuser_email = f"root-{token}@example.com"
    smtp = SmtpTestServer()
    smtp.start()
    servers: list[LiveServer] = []
    try:
        env = server_env(
            database_url, tmp / "data", key_pems, smtp, redis_url or "memory://", superuser_email
        )
        for process in ("A", "B"):
            cwd = tmp / f"cwd-{process}"
            cwd.mkdir()
            servers.append(
                LiveServer(
                    {**env, "EMAILS_FROM_NAME": from_name(process)},
                    cwd=cwd,
                    # The app resolves X-Forwarded-For itself, from TRUSTED_PROXIES.
                    uvicorn_args=["--no-proxy-headers", "--no-access-log"],
                )
            )
        # Side by side: both migrate and create the superuser at the same moment.
        for server in servers:
            server.launch()
        for server in servers:
            server.wait_ready()
        a, b = servers
        yield Cluster(
            a=a,
            b=b,
            smtp=smtp,
            token=token,
            forwarded_for=forwarded_for,
            superuser_email=superuser_email,
            shared_limits=redis_url is not None,
        )
        for server in servers:
            status = server.stop()
            # uvicorn re-raises the SIGTERM it handled; its lifespan (and so the outbox
            # worker) must have finished without an error.
            assert status == -signal.SIGTERM, server.output
            assert "Application shutdown complete." in server.output, server.output
            assert "Traceback" not in server.output, server.output
    finally:
        for server in servers:
            if server.returncode is None and server.pid is not None:
                server.stop()
        smtp.stop()
        if redis_url:
            asyncio.run(delete_redis_keys(redis_url, [forwarded_for, f"*{token}*"]))


@pytest.fixture
async def clients(cluster: Cluster) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """HTTP clients of A and B, both behind the run's own forwarded client IP."""
    headers = {"X-Forwarded-For": cluster.forwarded_for}
    async with (
        httpx.AsyncClient(base_url=cluster.a.base_url, headers=headers, timeout=15) as a,
        httpx.AsyncClient(base_url=cluster.b.base_url, headers=headers, timeout=15) as b,
    ):
        yield a, b


def tokens_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def assert_access_refused(client: httpx.AsyncClient, access_token: str) -> None:
    assert_problem(await client.get(ME, headers=bearer(access_token)), 401, "invalid_token")


async def assert_access_works(client: httpx.AsyncClient, session: LoggedIn) -> None:
    response = await client.get(ME, headers=session.headers)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == session.user_id


# --- sessions --------------------------------------------------------------------------


async def test_a_refresh_token_rotated_on_one_process_is_a_replay_on_the_other(
    cluster: Cluster, clients: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    a, b = clients
    email = cluster.email("victim")
    await register(a, email)
    stolen = await login(a, email)
    other_device = await login(b, email)

    rotated = tokens_of(await a.post(REFRESH, json={"refresh_token": stolen.refresh_token}))
    assert rotated["refresh_token"] != stolen.refresh_token
    me = await b.get(ME, headers=bearer(rotated["access_token"]))
    assert me.status_code == 200, me.text

    # The rotated-away token comes back, to the other process: a replay.
    replay = await b.post(REFRESH, json={"refresh_token": stolen.refresh_token})
    assert_problem(replay, 401, "invalid_token")

    # B revoked the whole session, and A sees it: the newest pair is dead there too.
    newest = await a.post(REFRESH, json={"refresh_token": rotated["refresh_token"]})
    assert_problem(newest, 401, "invalid_token")
    await assert_access_refused(a, rotated["access_token"])
    await assert_access_refused(a, stolen.access_token)
    # Only that session: the user's other device still works on both.
    await assert_access_works(a, other_device)
    await assert_access_works(b, other_device)


async def test_a_logout_on_one_process_is_honoured_by_the_other(
    cluster: Cluster, clients: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    a, b = clients
    email = cluster.email("leaver")
    await register(b, email)
    session = await login(a, email)
    # Both processes have accepted (and may have cached the verification of) the token.
    await assert_access_works(a, session)
    await assert_access_works(b, session)

    response = await b.post(LOGOUT, headers=session.headers)
    assert response.status_code == 204, response.text

    await assert_access_refused(a, session.access_token)
    refresh = await a.post(REFRESH, json={"refresh_token": session.refresh_token})
    assert_problem(refresh, 401, "invalid_token")
    # The account itself is fine: a new login on A works.
    await assert_access_works(a, await login(a, email))


# --- rate limits -----------------------------------------------------------------------


async def test_login_attempts_add_up_across_processes(
    cluster: Cluster, clients: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    if not cluster.shared_limits:
        pytest.skip(f"set {REDIS_ENV} (redis://host:6379) to share rate limits across processes")
    a, b = clients
    email, bystander = cluster.email("target"), cluster.email("bystander")
    await register(a, email)
    await register(b, bystander)

    async def attempt(client: httpx.AsyncClient, password: str = WRONG_PASSWORD) -> httpx.Response:
        return await client.post(f"{V1}/auth/login", data={"username": email, "password": password})

    # LOGIN_LIMIT attempts, half on each process: each saw too few to refuse alone.
    for client in (a, b) * (LOGIN_LIMIT // 2):
        assert_problem(await attempt(client), 401, "invalid_credentials")
    # The next one passes the shared count, on either process, right password or not.
    for client in (a, b):
        refused = await attempt(client, DEFAULT_PASSWORD)
        assert_problem(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
    # The limit is on that account: another one logs in on both.
    await login(a, bystander)
    await login(b, bystander)


# --- the outbox ------------------------------------------------------------------------


async def request_emails(
    cluster: Cluster, clients: tuple[httpx.AsyncClient, httpx.AsyncClient], count: int
) -> dict[tuple[str, str], int]:
    """Register ``count`` accounts, then ask for a reset and a new code, alternating processes.

    Returns how many messages each (recipient, subject) should receive.
    """
    emails = [cluster.email(f"mail{n}") for n in range(count)]
    await asyncio.gather(*(register(clients[n % 2], email) for n, email in enumerate(emails)))

    async def ask(client: httpx.AsyncClient, endpoint: str, email: str) -> None:
        response = await client.post(f"{V1}/auth/{endpoint}", json={"email": email})
        assert response.status_code == 202, response.text

    await asyncio.gather(
        *(ask(clients[(n + 1) % 2], "forgot-password", email) for n, email in enumerate(emails)),
        *(ask(clients[n % 2], "resend-verification", email) for n, email in enumerate(emails)),
    )
    expected: dict[tuple[str, str], int] = {}
    for email in emails:
        expected[(email, SUBJECT_VERIFY)] = 2
        expected[(email, SUBJECT_RESET)] = 1
    return expected


async def outbox_rows(client: httpx.AsyncClient, admin: LoggedIn) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor is not None:
            params["cursor"] = cursor
        response = await client.get(f"{V1}/admin/emails", params=params, headers=admin.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def outbox_id_of(mail: ReceivedEmail) -> str:
    """The outbox row a message was built from: its Message-ID is ``<row id@domain>``."""
    return str(mail.message["Message-ID"]).strip("<>").partition("@")[0]


async def test_the_outbox_sends_each_message_once(
    cluster: Cluster, clients: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    a, _ = clients
    admin = await login(a, cluster.superuser_email, SUPERUSER_PASSWORD)
    expected: Counter[tuple[str, str]] = Counter()

    def received_by(recipients: set[str]) -> list[ReceivedEmail]:
        return [mail for mail in cluster.smtp.received if mail.rcpt_tos[0] in recipients]

    # Rounds until both workers have delivered something: exactly-once only means
    # something when both were competing for the same rows.
    recipients: set[str] = set()
    for _ in range(MAX_OUTBOX_ROUNDS):
        expected.update(await request_emails(cluster, clients, count=4))
        recipients = {recipient for recipient, _ in expected}
        total = expected.total()
        await wait_until(
            lambda: len(received_by(recipients)) >= total,  # noqa: B023 - awaited in this round
            f"{total} messages at the SMTP server",
            DELIVERY_SECONDS,
        )
        if {sender_of(mail) for mail in received_by(recipients)} == BOTH_SENDERS:
            break
    # Late duplicates, if any, get many poll intervals of both workers to arrive.
    await asyncio.sleep(LATE_DUPLICATE_SECONDS)
    received = received_by(recipients)

    senders = Counter(sender_of(mail) for mail in received)
    assert set(senders) == BOTH_SENDERS, f"one worker did it all: {senders}"
    delivered = Counter((mail.rcpt_tos[0], str(mail.message["Subject"])) for mail in received)
    assert delivered == expected
    delivered_ids = Counter(outbox_id_of(mail) for mail in received)
    assert max(delivered_ids.values()) == 1, "an outbox message was delivered twice"

    rows = [row for row in await outbox_rows(a, admin) if row["recipient"] in recipients]
    # Every row of these recipients is one of the received messages, and vice versa.
    assert {row["id"] for row in rows} == set(delivered_ids)
    for row in rows:
        assert row["status"] == "sent", row
        # Claimed once: a second claim would have counted a second attempt.
        assert row["attempts"] == 1, row
