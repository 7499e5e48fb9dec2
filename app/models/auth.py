"""Value objects of authentication."""

import ipaddress
from dataclasses import dataclass

from app.models.user import User


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request: a live user on a live session."""

    user: User
    session_id: str


# A host owns a whole IPv6 /64: limits that counted its addresses apart would not limit.
IPV6_CLIENT_PREFIX = 64


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a login came from, recorded on its session."""

    user_agent: str | None = None
    ip_address: str | None = None

    @property
    def network(self) -> str:
        """The client as rate limits and lockouts count it: its IPv4 address, or the
        /64 of its IPv6 one ("unknown" when the server saw no address)."""
        if self.ip_address is None:
            return "unknown"
        try:
            address = ipaddress.ip_address(self.ip_address)
        except ValueError:
            return self.ip_address
        if address.version == 4:
            return str(address)
        return str(ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))
