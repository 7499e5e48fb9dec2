"""Contract for what services may know of the HTTP request they serve."""

from typing import Protocol

from app.models.auth import ClientInfo


class RequestContext(Protocol):
    """The client of the current request (IP and user agent), for the audit trail."""

    def client(self) -> ClientInfo: ...
