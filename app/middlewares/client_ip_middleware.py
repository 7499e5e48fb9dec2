"""Each request's client IP and scheme; X-Forwarded-* is believed from trusted proxies only."""

import ipaddress
from collections.abc import Iterable
from contextvars import ContextVar

from starlette.types import ASGIApp, Receive, Scope, Send

from app.models.audit import MAX_USER_AGENT_LENGTH
from app.models.auth import ClientInfo

# The client of the request this task serves; pure ASGI middleware runs in the same
# task as the endpoint, so what is set here is what the services read.
_current_client: ContextVar[ClientInfo | None] = ContextVar("current_client", default=None)


class ContextVarRequestContext:
    """Implements ``app.interfaces.request_context.RequestContext`` for the services."""

    def client(self) -> ClientInfo:
        return current_client()


def current_client() -> ClientInfo:
    """The client of the request this task serves, as the middleware worked it out."""
    return _current_client.get() or ClientInfo()


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# The app serves HTTP only; any other X-Forwarded-Proto value is ignored.
FORWARDED_SCHEMES = frozenset({"http", "https"})


def parse_networks(values: Iterable[str]) -> list[Network]:
    """IPs and CIDR networks, as in TRUSTED_PROXIES; a bad entry raises ValueError."""
    return [ipaddress.ip_network(value.strip(), strict=False) for value in values]


class ClientIpMiddleware:
    """Records the client (IP and bounded user agent) for the request's task.

    Routes read it with ``current_client()``, services through ``RequestContext``.

    The socket peer is the client unless it is a trusted proxy; then the
    X-Forwarded-For chain is read from the right, skipping trusted proxies, and the
    first address not in the list is the client. A client cannot forge its way past
    this: everything left of the first untrusted hop is ignored.

    A trusted proxy's X-Forwarded-Proto also becomes ``scope["scheme"]``, so HSTS and
    redirects see the scheme the client used. This is the only place the app reads
    forwarded headers, and the server is run without its own proxy-header handling
    (``python -m app serve``), which would rewrite the peer before this sees it.
    """

    def __init__(self, app: ASGIApp, trusted_proxies: Iterable[str] = ()) -> None:
        self.app = app
        self.trusted = parse_networks(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ip = self.client_ip(scope)
        if (scheme := self.forwarded_scheme(scope)) is not None:
            scope["scheme"] = scheme
        agent = dict(scope["headers"]).get(b"user-agent", b"").decode("latin-1")
        token = _current_client.set(
            ClientInfo(user_agent=agent[:MAX_USER_AGENT_LENGTH] or None, ip_address=ip)
        )
        try:
            await self.app(scope, receive, send)
        finally:
            _current_client.reset(token)

    def client_ip(self, scope: Scope) -> str | None:
        client = scope.get("client")
        peer: str | None = (_canonical(str(client[0])) or str(client[0])) if client else None
        # Without trusted proxies (the default) there is nothing to parse.
        if peer is None or not self.trusted or not self._is_trusted(peer):
            return peer
        forwarded = [
            value.decode("latin-1")
            for name, value in scope["headers"]
            if name == b"x-forwarded-for"
        ]
        hops = [hop.strip() for header in forwarded for hop in header.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return _canonical(hop) or peer
        return (_canonical(hops[0]) if hops else None) or peer

    def forwarded_scheme(self, scope: Scope) -> str | None:
        """The scheme a trusted proxy says the client used, or None to keep the server's.

        The right-most X-Forwarded-Proto value is the one the proxy that connected to
        us set or appended; anything left of it came from further out.
        """
        client = scope.get("client")
        if not self.trusted or not client or not self._is_trusted(str(client[0])):
            return None
        values = [
            value.decode("latin-1")
            for name, value in scope["headers"]
            if name == b"x-forwarded-proto"
        ]
        protos = [proto.strip().lower() for value in values for proto in value.split(",")]
        return protos[-1] if protos and protos[-1] in FORWARDED_SCHEMES else None

    def _is_trusted(self, address: str) -> bool:
        canonical = _canonical(address)
        if canonical is None:
            return False
        ip = ipaddress.ip_address(canonical)
        return any(ip in network for network in self.trusted)


def _canonical(value: str) -> str | None:
    """The address in one spelling, or None if it is not one.

    An IPv4 client of a dual-stack socket arrives as ``::ffff:a.b.c.d``; it is the
    IPv4 address, not a member of the IPv6 network ``::/64``.
    """
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)
