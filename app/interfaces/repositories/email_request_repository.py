"""Contract for the durable queue of email requests."""

from abc import ABC, abstractmethod
from datetime import datetime

from app.models.email_request import EmailRequest, EmailRequestPurpose


class EmailRequestRepository(ABC):
    """Requests wait here until a worker fulfils them; claiming is atomic, so several
    workers never take one request at the same time."""

    @abstractmethod
    async def add(self, request: EmailRequest) -> None: ...

    @abstractmethod
    async def claim_next(self, now: datetime, lease_until: datetime) -> EmailRequest | None:
        """Lease the oldest due request (never leased, or its lease over), if any.

        A request is handed to exactly one of any number of concurrent claimers.
        """

    @abstractmethod
    async def complete(self, request_id: str) -> None:
        """Remove a fulfilled request; joins the caller's unit of work."""

    @abstractmethod
    async def count_by_purpose(self) -> dict[EmailRequestPurpose, int]:
        """How many requests of each purpose wait or are being fulfilled."""
