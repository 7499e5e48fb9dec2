"""Queueing the emails that a signed-out caller asks for by address."""

from app.interfaces.clock import Clock
from app.interfaces.repositories.email_request_repository import EmailRequestRepository
from app.models.email_request import EmailRequest, EmailRequestPurpose
from app.models.user import normalise_email
from app.utils.ids import new_id


class EmailRequestQueue:
    """Records a request for an email, whether or not an account has the address.

    Whether to send anything is decided later by ``EmailRequestWorker``: the request
    itself does the same work, and takes the same time, for every address, so its
    timing cannot tell which addresses have accounts.
    """

    def __init__(self, requests: EmailRequestRepository, clock: Clock) -> None:
        self._requests = requests
        self._clock = clock

    async def depth(self) -> dict[EmailRequestPurpose, int]:
        """How many requests of each purpose wait for the worker, for monitoring."""
        return await self._requests.count_by_purpose()

    async def enqueue(self, purpose: EmailRequestPurpose, email: str) -> None:
        await self._requests.add(
            EmailRequest(
                id=new_id(),
                purpose=purpose,
                email=normalise_email(email),
                requested_at=self._clock.now(),
            )
        )
