"""Security headers on every response, and a Host header allow-list."""

import fnmatch
from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.utils.problem import problem, request_id_of
from app.utils.security_headers import API_CONTENT_SECURITY_POLICY, BASE_HEADERS

# Swagger UI and ReDoc are served by the app (app/routes/docs_routes.py) and start
# with an inline script; ReDoc's footer logo is the one thing either page fetches
# from elsewhere.
DOCS_POLICY = (
    "default-src 'self'; "
    "script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: https://cdn.redoc.ly; "
    "worker-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'"
)
DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeadersMiddleware:
    """Adds nosniff, referrer, framing and content-security headers; defaults
    ``Cache-Control: no-store`` on the API, whose answers are personal."""

    def __init__(self, app: ASGIApp, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        docs = path.startswith(DOCS_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.update(BASE_HEADERS)
                headers["Content-Security-Policy"] = (
                    DOCS_POLICY if docs else API_CONTENT_SECURITY_POLICY
                )
                if path.startswith("/api/") and "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
                if self.hsts and scope.get("scheme") == "https":
                    headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TrustedHostMiddleware:
    """Refuses requests whose Host header is not allowed, with a problem response.

    Patterns are exact hosts or ``*.example.com`` for any subdomain.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str]) -> None:
        self.app = app
        self.allowed = [host.lower() for host in allowed_hosts]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        response = problem(
            400,
            detail="The Host header is not allowed.",
            code="invalid_host",
            request_id=request_id_of(scope),
        )
        await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return any(
            pattern in ("*", hostname)
            or (pattern.startswith("*.") and fnmatch.fnmatchcase(hostname, pattern))
            for pattern in self.allowed
        )
