"""Contract for delivering one email."""

from abc import ABC, abstractmethod

from app.models.email import OutboxMessage


class EmailDeliveryError(Exception):
    """Delivery failed. ``permanent`` means retrying cannot help (recipient refused)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class EmailSender(ABC):
    """Sends a queued message; raises EmailDeliveryError on failure."""

    @abstractmethod
    async def send(self, message: OutboxMessage) -> None: ...
