"""Rate limits over HTTP: who is counted, by what key, and how a refusal looks.

Every test turns the limits on with small values, on each database backend of
``tests/api/conftest.py`` and on two rate-limit storages: ``memory://`` always and
Redis when TEST_REDIS_URL is set. Client IPs are varied with X-Forwarded-For sent
through the test client's socket address, 203.0.113.7, configured as a trusted proxy;
a test that needs another socket address gets its own client.

Addresses and IPs are random per test, so counters on a shared Redis never meet
another test's; the keys a test used are deleted when it ends.
"""

import ipaddress
import os
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import coredis
import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from tests.api.helpers import V1, assert_problem, bearer, login, register
from tests.conftest import DEFAULT_PASSWORD, SettingsFactory

# Redis is one store for every xdist worker: its tests run in one worker, in turn.
pytestmark = pytest.mark.xdist_group("redis")

REDIS_ENV = "TEST_REDIS_URL"
PROXY = "203.0.113.7"
WRONG_PASSWORD = "not-the-password-1"
NEW_PASSWORD = "a-fresh-passphrase-42"
BAD_CODE = "000000"


def redis_server() -> str:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"set {REDIS_ENV} (redis://host:6379) to run against Redis")
    return url


@dataclass
class Identities:
    """Hands out addresses and IPs no other test uses, and remembers them for clean-up."""

    token: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    ips: list[str] = field(default_factory=list)

    def email(self, name: str) -> str:
        return f"{name}-{self.token}@example.com"

    def track(self, ip: str) -> str:
        """An IP chosen by the test, remembered for clean-up like the random ones."""
        self.ips.append(ip)
        return ip

    def ip(self) -> str:
        # 198.18.0.0/15 is reserved for benchmarking: never a real client, never a proxy.
        network = ipaddress.ip_network("198.18.0.0/15")
        while True:
            address = str(network[random.randrange(1, network.num_addresses - 1)])
            if address not in self.ips:
                self.ips.append(address)
                return address


async def delete_redis_keys(url: str, fragments: list[str]) -> None:
    """Delete the rate-limit keys that name one of ``fragments``, and only those."""
    client = coredis.Redis.from_url(url, decode_responses=True)
    try:
        for fragment in fragments:
            keys = [key async for key in client.scan_iter(match=f"LIMITS:*/{fragment}/*")]
            if keys:
                await client.delete(keys)
    finally:
        client.connection_pool.disconnect()


def close_limiter_storage(app: FastAPI) -> None:
    """Drop the Redis connections of the app's limiter; the app has no hook for it."""
    strategy = getattr(app.state.container.rate_limiter, "_strategy", None)
    bridge = getattr(getattr(strategy, "storage", None), "bridge", None)
    redis = getattr(bridge, "storage", None)
    if redis is not None:
        redis.connection_pool.disconnect()


@pytest.fixture(params=["memory", "redis"])
async def limits_storage_url(
    request: pytest.FixtureRequest, identities: Identities
) -> AsyncIterator[str]:
    if request.param == "memory":
        yield "memory://"
        return
    url = redis_server()
    try:
        yield url
    finally:
        # PROXY: requests without X-Forwarded-For are counted under the proxy's own IP.
        await delete_redis_keys(url, [*identities.ips, PROXY, f"*{identities.token}*"])


@pytest.fixture
def identities() -> Identities:
    return Identities()


Launch = Callable[..., Awaitable[FastAPI]]
ClientFor = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as exits:
        yield exits


@pytest.fixture
def launch(
    make_settings: SettingsFactory, limits_storage_url: str, stack: AsyncExitStack
) -> Launch:
    """Start an app with rate limits on (every limit generous unless overridden)."""

    async def start(**overrides: Any) -> FastAPI:
        values: dict[str, Any] = {
            "rate_limit_enabled": True,
            "rate_limit_storage_url": limits_storage_url,
            "rate_limit_login_per_ip": "1000/minute",
            "rate_limit_login_per_account": "1000/minute",
            "rate_limit_register_per_ip": "1000/hour",
            "rate_limit_email_per_address": "1000/hour",
            "rate_limit_email_per_ip": "1000/hour",
            "rate_limit_code_per_address": "1000/hour",
            "otp_resend_cooldown_seconds": 0,
            "trusted_proxies": [PROXY],
        }
        values.update(overrides)
        app = create_app(make_settings(**values))
        await stack.enter_async_context(app.router.lifespan_context(app))
        stack.callback(close_limiter_storage, app)
        return app

    return start


@pytest.fixture
def client_for(stack: AsyncExitStack) -> ClientFor:
    """An HTTP client for ``app`` whose socket peer is ``peer``."""

    async def make(app: FastAPI, peer: str = PROXY) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(peer, 50000))
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        return await stack.enter_async_context(client)

    return make


def via(ip: str) -> dict[str, str]:
    """Headers of a request the trusted proxy forwards for ``ip``."""
    return {"X-Forwarded-For": ip}


async def attempt_login(
    client: httpx.AsyncClient,
    email: str,
    password: str = WRONG_PASSWORD,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        f"{V1}/auth/login", data={"username": email, "password": password}, headers=headers
    )


def assert_rate_limited(response: httpx.Response, longest: int) -> dict[str, Any]:
    """A 429 ``rate_limited`` problem whose Retry-After is whole seconds in [1, longest]."""
    body = assert_problem(response, 429, "rate_limited")
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), f"Retry-After must be an integer of seconds: {retry_after!r}"
    assert 1 <= int(retry_after) <= longest
    return body


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if key != "request_id"}


# --- login -----------------------------------------------------------------------------


async def test_login_per_ip_refuses_the_sixth_attempt(
    launch: Launch, client_for: ClientFor, identities: Identities
) -> None:
    app = await launch(rate_limit_login_per_ip="5/minute")
    client = await client_for(app)
    email = identities.email("ivy")
    await register(client, email)
    attacker = identities.ip()

    for n in range(5):
        response = await attempt_login(client, identities.email(f"guess{n}"), headers=via(attacker))
        assert_problem(response, 401, "invalid_credentials")
    # The sixth from this IP is refused before the password is even looked at.
    refused = await attempt_login(client, email, DEFAULT_PASSWORD, headers=via(attacker))
    assert_rate_limited(refused, 60)
    assert int(refused.headers["retry-after"]) >= 55, "the window opened moments ago"
    assert "access_token" not in refused.text

    # Another client IP has its own budget.
    ok = await attempt_login(client, email, DEFAULT_PASSWORD, headers=via(identities.ip()))
    assert ok.status_code == 200, ok.text


async def test_login_per_account_counts_per_client_so_nobody_spends_the_owners(
    launch: Launch, client_for: ClientFor, identities: Identities
) -> None:
    app = await launch(rate_limit_login_per_account="3/minute")
    client = await client_for(app)
    email, other = identities.email("jade"), identities.email("kai")
    await register(client, email)
    await register(client, other)
    attacker, owner = identities.ip(), identities.ip()

    # Three attempts from one IP, with the address spelled in different cases.
    for spelling in (email, email.upper(), f"  {email}  "):
        response = await attempt_login(client, spelling, headers=via(attacker))
        assert_problem(response, 401, "invalid_credentials")
    refused = await attempt_login(client, email, DEFAULT_PASSWORD, headers=via(attacker))
    assert_rate_limited(refused, 60)

    # The owner, from another IP, is not held back by the attacker's attempts; and
    # the attacker's IP may still try another account (the per-IP limit bounds that).
    ok = await attempt_login(client, email, DEFAULT_PASSWORD, headers=via(owner))
    assert ok.status_code == 200, ok.text
    ok = await attempt_login(client, other, DEFAULT_PASSWORD, headers=via(attacker))
    assert ok.status_code == 200, ok.text


async def test_an_over_long_username_counts_per_ip_but_never_becomes_an_account_key(
    launch: Launch, client_for: ClientFor, identities: Identities
) -> None:
    app = await launch(rate_limit_login_per_ip="3/minute", rate_limit_login_per_account="1/minute")
    client = await client_for(app)
    attacker = identities.ip()
    huge = f"{identities.token}-" + "x" * 100_000

    for _ in range(3):
        response = await attempt_login(client, huge, headers=via(attacker))
        # Had it been counted per account, the second attempt would be a 429.
        assert_problem(response, 401, "invalid_credentials")
    assert_rate_limited(await attempt_login(client, huge, headers=via(attacker)), 60)


async def test_unknown_and_known_accounts_are_limited_alike(
    launch: Launch, client_for: ClientFor, identities: Identities
) -> None:
    app = await launch(rate_limit_login_per_account="2/minute")
    client = await client_for(app)
    known, unknown = identities.email("known"), identities.email("nobody")
    await register(client, known)
    refusals = []
    for email in (known, unknown):
        for _ in range(2):
            assert (await attempt_login(client, email)).status_code == 401
        refusals.append(assert_rate_limited(await attempt_login(client, email), 60))
    assert without_request_id(refusals[0]) == without_request_id(refusals[1])


# --- registration ----------------------------------------------------------------------


async def test_register_per_ip(
    launch: Launch, client_for: ClientFor, identities: Identities
) -> None:
    app = await launch(rate_limit_register_per_ip="3/hour")
    client = await client_for(app)
    ip = identities.ip()
    for n in range(3):
        response = await client.post(
            f"{V1}/auth/register",
            json={"email": identities.email(f"reg{n}"), "password": DEFAULT_PASSWORD},
            headers=via(ip),
        )
        assert response.status_code == 201, response.text

    blocked = identities.email("reg-blocked")
    refused = await client.post(
        f"{V1}/auth/register",
        json={"email": blocked, "password": DEFAULT_PASSWORD},
        headers=via(ip),
    )
    assert_rate_limited(refused, 3600)
    assert int(refused.headers["retry-after"]) > 3000, "an hourly window"
    # Nothing was created: the address cannot log in...
    assert (await attempt_login(client, blocked, DEFAULT_PASSWORD)).status_code == 401
    # ...and another IP may register it now.
    response = await client.post(
        f"{V1}/auth/register",
        json={"email": blocked, "password": DEFAULT_PASSWORD},
        headers=via(identities.ip()),
    )
    assert response.status_code == 201, response.text


# --- emails sent on request: forgot-password and resend-verification ---------------------

EMAIL_ENDPOINTS = ["forgot-password", "resend-verification"]


@pytest.mark.parametrize("endpoint", EMAIL_ENDPOINTS)
async def test_email_requests_per_address(
    launch: Launch, client_for: ClientFor, identities: Identities, endpoint: str
) -> None:
    app = await launch(rate_limit_email_per_address="2/hour")
    client = await client_for(app)
    known, unknown = identities.email("lena"), identities.email("ghost")
    await register(client, known)
    url = f"{V1}/auth/{endpoint}"

    refusals = []
    for email in (known, unknown):
        for _ in range(2):
            response = await client.post(url, json={"email": email}, headers=via(identities.ip()))
            assert response.status_code == 202, response.text
        # A third request, from yet another IP and in upper case: still the same address.
        refused = await client.post(
            url, json={"email": email.upper()}, headers=via(identities.ip())
        )
        refusals.append(assert_rate_limited(refused, 3600))
    assert without_request_id(refusals[0]) == without_request_id(refusals[1]), (
        "a refusal must not reveal whether the address has an account"
    )

    fresh = await client.post(
        url, json={"email": identities.email("other")}, headers=via(identities.ip())
    )
    assert fresh.status_code == 202, fresh.text


@pytest.mark.parametrize("endpoint", EMAIL_ENDPOINTS)
async def test_email_requests_per_ip(
    launch: Launch, client_for: ClientFor, identities: Identities, endpoint: str
) -> None:
    app = await launch(rate_limit_email_per_ip="3/hour")
    client = await client_for(app)
    url = f"{V1}/auth/{endpoint}"
    ip = identities.ip()
    for n in range(3):
        response = await client.post(
            url, json={"email": identities.email(f"spray{n}")}, headers=via(ip)
        )
        assert response.status_code == 202, response.text
    refused = await client.post(url, json={"email": identities.email("spray9")}, headers=via(ip))
    assert_rate_limited(refused, 3600)

    elsewhere = await client.post(
        url, json={"email": identities.email("spray9")}, headers=via(identities.ip())
    )
    assert elsewhere.status_code == 202, elsewhere.text


# --- code guessing: verify-email and reset-password -------------------------------------


def code_request(endpoint: str, email: str) -> dict[str, str]:
    body = {"email": email, "code": BAD_CODE}
    if endpoint == "reset-password":
        body["new_password"] = NEW_PASSWORD
    return body


@pytest.mark.parametrize("endpoint", ["verify-email", "reset-password"])
async def test_code_guesses_per_address(
    launch: Launch, client_for: ClientFor, identities: Identities, endpoint: str
) -> None:
    app = await launch(rate_limit_code_per_address="3/15minutes")
    client = await client_for(app)
    email, other = identities.email("milo"), identities.email("nina")
    await register(client, email)
    await register(client, other)
    url = f"{V1}/auth/{endpoint}"

    for _ in range(3):
        response = await client.post(
            url, json=code_request(endpoint, email), headers=via(identities.ip())
        )
        assert_problem(response, 400, "invalid_code")
    # Rotating IPs does not buy more guesses at one address.
    refused = await client.post(
        url, json=code_request(endpoint, email.upper()), headers=via(identities.ip())
    )
    assert_rate_limited(refused, 900)
    assert int(refused.headers["retry-after"]) > 800

    response = await client.post(url, json=code_request(endpoint, other))
    assert_problem(response, 400, "invalid_code")
    # The refused reset changed nothing: the old password still works.
    assert (await attempt_login(client, email, DEFAULT_PASSWORD)).status_code == 200


# --- which IP is the client -------------------------------------------------------------


async def test_x_forwarded_for_is_ignored_from_an_untrusted_peer(
    launch: Launch, client_for: ClientFor, identities: Identities
) -> None:
    app = await launch(rate_limit_login_per_ip="3/minute")
    # The socket peer is not the trusted proxy: it is the client, whatever it claims.
    client = await client_for(app, peer=identities.ip())
    for _ in range(3):
        response = await attempt_login(client, identities.email("x"), headers=via(identities.ip()))
        assert_problem(response, 401, "invalid_credentials")
    spoofed = await attempt_login(
        client,
        identities.email("x"),
        headers={"X-Forwarded-For": f"{identities.ip()}, {identities.ip()}"},
    )
    assert_rate_limited(spoofed, 60)


async def test_without_trusted_proxies_the_socket_peer_is_the_client(
    launch: Launch, client_for: ClientFor, identities: Identities
) -> None:
    app = await launch(rate_limit_register_per_ip="2/hour", trusted_proxies=[])
    client = await client_for(app, peer=identities.ip())
    for n in range(2):
        response = await client.post(
            f"{V1}/auth/register",
            json={"email": identities.email(f"p{n}"), "password": DEFAULT_PASSWORD},
            headers=via(identities.ip()),
        )
        assert response.status_code == 201, response.text
    refused = await client.post(
        f"{V1}/auth/register",
        json={"email": identities.email("p9"), "password": DEFAULT_PASSWORD},
        headers=via(identities.ip()),
    )
    assert_rate_limited(refused, 3600)


async def test_behind_trusted_proxies_the_right_most_untrusted_hop_is_the_client(
    launch: Launch, client_for: ClientFor, identities: Identities
) -> None:
    # Two proxy layers: the edge (203.0.113.7) and an internal network behind it.
    app = await launch(rate_limit_login_per_ip="3/minute", trusted_proxies=[PROXY, "10.9.0.0/16"])
    client = await client_for(app)
    real = identities.ip()
    for _ in range(3):
        # The client forges left-most entries; the proxies append what they saw.
        chain = f"{identities.ip()}, {identities.ip()}, {real}, 10.9.0.1"
        response = await attempt_login(
            client, identities.email("y"), headers={"X-Forwarded-For": chain}
        )
        assert_problem(response, 401, "invalid_credentials")
    refused = await attempt_login(
        client,
        identities.email("y"),
        headers={"X-Forwarded-For": f"{identities.ip()}, {real}, 10.9.0.2"},
    )
    assert_rate_limited(refused, 60)
    other = await attempt_login(
        client,
        identities.email("y"),
        headers={"X-Forwarded-For": f"{real}, {identities.ip()}, 10.9.0.1"},
    )
    assert_problem(other, 401, "invalid_credentials")


async def _session_ip(client: httpx.AsyncClient, email: str, headers: dict[str, str]) -> str:
    logged_in = await login(client, email, headers=headers)
    sessions = await client.get(f"{V1}/users/me/sessions", headers=bearer(logged_in.access_token))
    assert sessions.status_code == 200, sessions.text
    (current,) = [s for s in sessions.json() if s["current"]]
    ip: str = current["ip_address"]
    return ip


async def test_the_client_ip_recorded_on_a_session(
    launch: Launch, client_for: ClientFor, identities: Identities
) -> None:
    app = await launch(trusted_proxies=[PROXY, "10.9.0.0/16"])
    client = await client_for(app)
    email = identities.email("zoe")
    await register(client, email)
    real, forged = identities.ip(), identities.ip()

    assert await _session_ip(client, email, {}) == PROXY, "no header: the peer itself"
    assert await _session_ip(client, email, via(real)) == real
    chain = {"X-Forwarded-For": f"{forged}, {real}, 10.9.0.7"}
    assert await _session_ip(client, email, chain) == real
    # Every hop trusted: the left-most one is the furthest known client.
    internal = identities.track("10.9.3.3")
    chain = {"X-Forwarded-For": f"{internal}, 10.9.0.7"}
    assert await _session_ip(client, email, chain) == internal

    peer = identities.ip()
    untrusted = await client_for(app, peer=peer)
    forwarded = {"X-Forwarded-For": f"{forged}, {real}"}
    assert await _session_ip(untrusted, email, forwarded) == peer
