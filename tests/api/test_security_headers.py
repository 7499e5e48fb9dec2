"""Security headers on every response, the docs' content policy, and the Host allow-list.

Runs on every database backend of ``tests/api/conftest.py`` (the headers do not depend
on it, but the responses that carry them do).
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.main import create_app
from app.middlewares.body_size_limit_middleware import DEFAULT_MAX_BODY_BYTES
from app.middlewares.security_headers_middleware import SecurityHeadersMiddleware
from tests.api.helpers import (
    PROBLEM_JSON,
    V1,
    assert_problem,
    login,
    register,
    register_and_login,
)
from tests.conftest import DEFAULT_PASSWORD, SettingsFactory

BASE_URL = "http://testserver"
SAFE_REFERRER_POLICIES = {"no-referrer", "same-origin", "strict-origin"}
CSP = dict[str, list[str]]


def parse_csp(value: str) -> CSP:
    """Directive name -> source list; the first occurrence of a directive wins (CSP3)."""
    policy: CSP = {}
    for part in value.split(";"):
        tokens = part.split()
        if tokens:
            policy.setdefault(tokens[0].lower(), tokens[1:])
    return policy


def sources_for(policy: CSP, *directives: str) -> list[str]:
    """The sources that govern a fetch: the first directive present, else default-src."""
    for directive in (*directives, "default-src"):
        if directive in policy:
            return policy[directive]
    return ["*"]


def source_matches(source: str, url: str, page: str) -> bool:
    """Whether one CSP source expression allows ``url`` on a page at ``page`` (CSP3 §6.7)."""
    target, origin = urlsplit(url), urlsplit(page)
    if source == "'self'":
        return (target.scheme, target.netloc) == (origin.scheme, origin.netloc)
    if source.startswith("'"):
        return False  # 'none', 'unsafe-inline', nonces, hashes: no URL matches these
    if source.endswith(":"):
        return target.scheme == source[:-1].lower()
    if source == "*":
        return target.scheme in ("http", "https")
    scheme, _, rest = source.rpartition("://")
    if scheme and scheme.lower() != target.scheme:
        return False
    if not scheme and target.scheme not in (origin.scheme, "https"):
        return False
    host_port, slash, path = rest.partition("/")
    host, _, port = host_port.partition(":")
    hostname = target.hostname or ""
    if host.startswith("*."):
        if not hostname.endswith(host[1:].lower()):
            return False
    elif hostname != host.lower():
        return False
    if port and port != "*" and str(target.port or "") != port:
        return False
    if slash and path:
        wanted = "/" + path
        return target.path == wanted or (wanted.endswith("/") and target.path.startswith(wanted))
    return True


def allows_url(policy: CSP, directives: tuple[str, ...], url: str, page: str) -> bool:
    return any(source_matches(s, url, page) for s in sources_for(policy, *directives))


def allows_inline(policy: CSP, directives: tuple[str, ...]) -> bool:
    sources = sources_for(policy, *directives)
    # A nonce or hash in the list makes browsers ignore 'unsafe-inline'.
    hashed = any(s.startswith(("'nonce-", "'sha256-", "'sha384-", "'sha512-")) for s in sources)
    return "'unsafe-inline'" in sources and not hashed


@dataclass
class PageResources:
    scripts: list[str] = field(default_factory=list)
    inline_scripts: int = 0
    stylesheets: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    inline_styles: int = 0


class _ResourceParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found = PageResources()
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "script":
            if values.get("src"):
                self.found.scripts.append(values["src"])
            else:
                self.found.inline_scripts += 1
        elif tag == "link":
            rel = values.get("rel", "").lower().split()
            if "stylesheet" in rel:
                self.found.stylesheets.append(values["href"])
            elif "icon" in rel:
                self.found.images.append(values["href"])
        elif tag == "img" and values.get("src"):
            self.found.images.append(values["src"])
        elif tag == "style":
            self.found.inline_styles += 1


def page_resources(html: str) -> PageResources:
    parser = _ResourceParser()
    parser.feed(html)
    return parser.found


SECURITY_HEADER_NAMES = (
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
    "cross-origin-opener-policy",
    "content-security-policy",
)


def assert_security_headers(response: httpx.Response) -> CSP:
    headers = response.headers
    assert headers.get("x-content-type-options") == "nosniff", dict(headers)
    assert headers.get("referrer-policy") in SAFE_REFERRER_POLICIES, dict(headers)
    assert headers.get("x-frame-options") == "DENY", dict(headers)
    assert "content-security-policy" in headers, dict(headers)
    policy = parse_csp(headers["content-security-policy"])
    assert policy.get("frame-ancestors") == ["'none'"], "no page of this app may be framed"
    for name in SECURITY_HEADER_NAMES:
        assert len(headers.get_list(name)) == 1, (name, headers.get_list(name))
    return policy


def assert_strict_api_headers(response: httpx.Response) -> None:
    policy = assert_security_headers(response)
    assert policy.get("default-src") == ["'none'"], response.headers["content-security-policy"]
    for directive, sources in policy.items():
        assert "'unsafe-inline'" not in sources, directive
        assert "'unsafe-eval'" not in sources, directive
    assert "no-store" in response.headers.get("cache-control", ""), dict(response.headers)
    assert len(response.headers.get_list("cache-control")) == 1, dict(response.headers)


# --- every response carries the headers --------------------------------------------------


async def _each_status(client: httpx.AsyncClient) -> dict[int, httpx.Response]:
    user = await register_and_login(client, "hal@example.com")
    big = b'{"email": "a@example.com", "password": "' + b"x" * DEFAULT_MAX_BODY_BYTES + b'"}'
    return {
        200: await client.get(f"{V1}/users/me", headers=user.headers),
        201: await client.post(
            f"{V1}/auth/register", json={"email": "ida@example.com", "password": "xy-ab-cd-12"}
        ),
        204: await client.post(f"{V1}/auth/logout", headers=user.headers),
        401: await client.get(f"{V1}/users/me"),
        403: await client.get(
            f"{V1}/admin/audit",
            headers=(await login(client, "ida@example.com", "xy-ab-cd-12")).headers,
        ),
        404: await client.get(f"{V1}/no-such-thing"),
        405: await client.delete(f"{V1}/auth/login"),
        409: await client.post(
            f"{V1}/auth/register", json={"email": "ida@example.com", "password": "xy-ab-cd-12"}
        ),
        413: await client.post(
            f"{V1}/auth/register", content=big, headers={"Content-Type": "application/json"}
        ),
        422: await client.post(f"{V1}/auth/register", json={}),
    }


async def test_every_api_response_has_the_strict_headers(client: httpx.AsyncClient) -> None:
    responses = await _each_status(client)
    for status, response in responses.items():
        assert response.status_code == status, (status, response.text)
        assert_strict_api_headers(response)
        if status >= 400:
            assert response.headers["content-type"].startswith(PROBLEM_JSON)


async def test_rate_limited_responses_have_the_headers(make_settings: SettingsFactory) -> None:
    app = create_app(make_settings(rate_limit_enabled=True, rate_limit_login_per_ip="1/minute"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            form = {"username": "x@example.com", "password": "whatever-123"}
            await client.post(f"{V1}/auth/login", data=form)
            refused = await client.post(f"{V1}/auth/login", data=form)
    assert_problem(refused, 429, "rate_limited")
    assert_strict_api_headers(refused)


@pytest.mark.parametrize("path", ["/health", "/ready", "/.well-known/jwks.json", "/openapi.json"])
async def test_system_responses_have_the_headers(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    policy = assert_security_headers(response)
    assert policy.get("default-src") == ["'none'"]


@pytest.fixture
async def failing_app(make_settings: SettingsFactory) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings())

    @application.get(f"{V1}/test-only/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    async with application.router.lifespan_context(application):
        yield application


async def test_internal_errors_have_the_headers(failing_app: FastAPI) -> None:
    """A 500 is sent by Starlette's outermost error middleware, past every user middleware."""
    transport = httpx.ASGITransport(app=failing_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        response = await client.get(f"{V1}/test-only/boom")
    assert_problem(response, 500, "internal_error")
    assert_strict_api_headers(response)


# --- token responses are never cached ----------------------------------------------------


async def test_token_responses_are_not_cacheable(client: httpx.AsyncClient) -> None:
    await register(client, "jon@example.com")
    logged_in = await client.post(
        f"{V1}/auth/login", data={"username": "jon@example.com", "password": DEFAULT_PASSWORD}
    )
    refreshed = await client.post(
        f"{V1}/auth/refresh", json={"refresh_token": logged_in.json()["refresh_token"]}
    )
    for response in (logged_in, refreshed):
        assert response.status_code == 200, response.text
        assert "access_token" in response.json()
        cache_control = [v.strip() for v in response.headers["cache-control"].split(",")]
        assert "no-store" in cache_control
        assert response.headers.get("pragma") == "no-cache"
        assert_strict_api_headers(response)


# --- the docs pages: a policy that lets them work, and nothing more ----------------------


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_docs_policy_allows_the_pages_own_resources(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = assert_security_headers(response)
    page = f"{BASE_URL}{path}"
    found = page_resources(response.text)
    assert found.scripts, "the page loads its bundle from a CDN"

    for src in found.scripts:
        url = urljoin(page, src)
        assert allows_url(policy, ("script-src-elem", "script-src"), url, page), (
            f"{url} is blocked by {response.headers['content-security-policy']}"
        )
    if found.inline_scripts:
        assert allows_inline(policy, ("script-src-elem", "script-src"))
    for href in found.stylesheets:
        assert allows_url(policy, ("style-src-elem", "style-src"), urljoin(page, href), page)
    if found.inline_styles:
        assert allows_inline(policy, ("style-src-elem", "style-src"))
    for src in found.images:
        assert allows_url(policy, ("img-src",), urljoin(page, src), page)
    # The UI fetches the schema from this origin.
    assert allows_url(policy, ("connect-src",), f"{BASE_URL}/openapi.json", page)


async def test_docs_policy_still_refuses_other_origins(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    policy = assert_security_headers(response)
    page = f"{BASE_URL}/docs"
    for url in ("https://evil.example/x.js", "http://cdn.jsdelivr.net/x.js"):
        assert not allows_url(policy, ("script-src-elem", "script-src"), url, page), url
    assert not allows_url(policy, ("connect-src",), "https://evil.example/collect", page)
    assert "'unsafe-eval'" not in sources_for(policy, "script-src")
    assert policy.get("object-src", policy.get("default-src")) != ["*"]


async def test_the_api_does_not_get_the_docs_policy(client: httpx.AsyncClient) -> None:
    docs = (await client.get("/docs")).headers["content-security-policy"]
    api = (await client.get(f"{V1}/users/me")).headers["content-security-policy"]
    assert docs != api
    assert parse_csp(api)["default-src"] == ["'none'"]


def test_csp_matcher_is_sound() -> None:
    """The matcher above must refuse what browsers refuse, or the docs test proves nothing."""
    page = f"{BASE_URL}/docs"
    policy = parse_csp("default-src 'none'; script-src 'self' https://cdn.example.net/lib/")
    assert allows_url(policy, ("script-src",), "https://cdn.example.net/lib/a.js", page)
    assert allows_url(policy, ("script-src",), f"{BASE_URL}/static/a.js", page)
    assert not allows_url(policy, ("script-src",), "https://cdn.example.net/other/a.js", page)
    assert not allows_url(policy, ("script-src",), "https://evil.example/a.js", page)
    assert not allows_url(policy, ("img-src",), f"{BASE_URL}/a.png", page)
    assert not allows_inline(policy, ("script-src",))
    assert not allows_inline(parse_csp("script-src 'unsafe-inline' 'nonce-abc'"), ("script-src",))
    wildcard = parse_csp("img-src *.example.org data:")
    assert allows_url(wildcard, ("img-src",), "https://a.example.org/x.png", page)
    assert allows_url(wildcard, ("img-src",), "data:image/png;base64,AAAA", page)
    assert not allows_url(wildcard, ("img-src",), "https://example.org.evil.net/x.png", page)


# --- the Host allow-list -----------------------------------------------------------------


@pytest.fixture
async def hosts_app(make_settings: SettingsFactory) -> AsyncIterator[FastAPI]:
    app = create_app(make_settings(trusted_hosts=["api.example.com", "*.example.org"]))
    async with app.router.lifespan_context(app):
        yield app


async def _get(app: FastAPI, host: str, path: str = "/health") -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        return await client.get(path, headers={"Host": host})


@pytest.mark.parametrize(
    "host",
    [
        "api.example.com",
        "API.Example.COM",
        "api.example.com:8443",
        "eu.example.org",
        "a.b.example.org",
    ],
)
async def test_allowed_hosts_pass(hosts_app: FastAPI, host: str) -> None:
    response = await _get(hosts_app, host)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "host",
    [
        "evil.example.com",
        "example.com",
        "api.example.com.evil.net",
        "evilapi.example.com",
        "example.org",
        "evil-example.org",
        "example.org.evil.net",
        "api.example.com@evil.net",
        "",
    ],
)
async def test_other_hosts_get_a_400_problem(hosts_app: FastAPI, host: str) -> None:
    for path in ("/health", f"{V1}/auth/login", "/docs"):
        response = await _get(hosts_app, host, path)
        body = assert_problem(response, 400, "invalid_host")
        assert body["request_id"] == response.headers["x-request-id"]
        assert "evil" not in body["detail"], "the refused host is not reflected"


async def test_a_refused_host_reaches_no_route(hosts_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=hosts_app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        body = {"email": "kim@example.com", "password": DEFAULT_PASSWORD}
        refused = await client.post(
            f"{V1}/auth/register", json=body, headers={"Host": "evil.example.com"}
        )
        assert_problem(refused, 400, "invalid_host")
        accepted = await client.post(
            f"{V1}/auth/register", json=body, headers={"Host": "api.example.com"}
        )
    assert accepted.status_code == 201, "the refused request created nothing"


async def test_the_invalid_host_problem_has_the_security_headers(hosts_app: FastAPI) -> None:
    """The Host check runs outside the security-headers middleware, yet its answer has them."""
    response = await _get(hosts_app, "evil.example.com", f"{V1}/users/me")
    assert_problem(response, 400, "invalid_host")
    assert_strict_api_headers(response)


async def test_without_trusted_hosts_any_host_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"Host": "whatever.invalid"})
    assert response.status_code == 200


# --- HSTS ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("scheme", "expected"), [("https", 1), ("http", 0)])
async def test_hsts_is_sent_over_https_only_and_once(scheme: str, expected: int) -> None:
    async def endpoint(_request: Request) -> Response:
        # An app that set the header itself does not get a second one.
        return Response("ok", headers={"Strict-Transport-Security": "max-age=1"})

    app = SecurityHeadersMiddleware(Starlette(routes=[Route("/api/x", endpoint)]), hsts=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"{scheme}://testserver") as client:
        response = await client.get("/api/x")
    values = response.headers.get_list("strict-transport-security")
    if expected:
        assert values == ["max-age=31536000; includeSubDomains"]
    else:
        assert values == ["max-age=1"]
    assert_strict_api_headers(response)
