"""Fulfilling queued email requests in the background."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from app.interfaces.clock import Clock
from app.interfaces.repositories.email_request_repository import EmailRequestRepository
from app.interfaces.unit_of_work import UnitOfWork
from app.models.email_request import EmailRequest, EmailRequestPurpose
from app.services.polling import poll_until_stopped

logger = logging.getLogger(__name__)

# Sends the email a request asks for, if an account should get one; else nothing.
Fulfil = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RequestWorkPolicy:
    batch_size: int
    lease_seconds: float
    poll_interval_seconds: float


class EmailRequestWorker:
    """Claims queued requests one at a time under a lease and fulfils each in one unit
    of work with its removal: the code, the email in the outbox and the request's end
    commit together, or not at all and the request is tried again after its lease."""

    def __init__(
        self,
        requests: EmailRequestRepository,
        handlers: Mapping[EmailRequestPurpose, Fulfil],
        uow: UnitOfWork,
        clock: Clock,
        policy: RequestWorkPolicy,
    ) -> None:
        self._requests = requests
        self._handlers = handlers
        self._uow = uow
        self._clock = clock
        self._policy = policy

    async def work_once(self) -> int:
        """Fulfil up to ``batch_size`` due requests; returns how many were handled."""
        handled = 0
        while handled < self._policy.batch_size:
            now = self._clock.now()
            request = await self._requests.claim_next(
                now, now + timedelta(seconds=self._policy.lease_seconds)
            )
            if request is None:
                break
            await self._fulfil(request)
            handled += 1
        return handled

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set; a failing database only pauses the loop."""
        await poll_until_stopped(
            stop,
            self.work_once,
            self._policy.poll_interval_seconds,
            logger,
            "Fulfilling email requests",
        )

    async def _fulfil(self, request: EmailRequest) -> None:
        async with self._uow.atomic():
            await self._handlers[request.purpose](request.email)
            await self._requests.complete(request.id)
