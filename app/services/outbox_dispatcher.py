"""The background worker that delivers the outbox."""

import asyncio
import logging
import random
import secrets
from dataclasses import dataclass
from datetime import timedelta

from app.interfaces.clock import Clock
from app.interfaces.email_sender import EmailDeliveryError, EmailSender
from app.interfaces.repositories.outbox_repository import OutboxRepository
from app.models.email import OutboxMessage
from app.services.polling import poll_until_stopped

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    batch_size: int = 20
    max_attempts: int = 8
    lease_seconds: int = 60
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 3600.0
    poll_interval_seconds: float = 1.0

    def backoff(self, attempts: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random.

        The random half spreads retries of many messages (and many processes) so a
        mail server coming back is not hit by all of them at once.
        """
        ceiling = min(
            self.backoff_max_seconds, self.backoff_base_seconds * 2.0 ** max(0, attempts - 1)
        )
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not secrecy


class OutboxDispatcher:
    """Claims due messages under a lease, sends them, and records the outcome."""

    def __init__(
        self,
        outbox: OutboxRepository,
        sender: EmailSender,
        clock: Clock,
        policy: DeliveryPolicy,
    ) -> None:
        self._outbox = outbox
        self._sender = sender
        self._clock = clock
        self._policy = policy
        # Unique per dispatcher: a lease names the worker that may finish the message.
        self.owner = secrets.token_hex(12)

    async def dispatch_once(self) -> int:
        """Deliver up to ``batch_size`` due messages; returns how many were handled.

        Each message is claimed just before it is sent, so its lease always covers
        its own send and never runs out behind a slow batch.
        """
        handled = 0
        while handled < self._policy.batch_size:
            now = self._clock.now()
            claimed = await self._outbox.claim(
                self.owner, now, now + timedelta(seconds=self._policy.lease_seconds), 1
            )
            if not claimed:
                break
            await self._deliver(claimed[0])
            handled += 1
        return handled

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set; a failing database only pauses the loop."""
        await poll_until_stopped(
            stop, self.dispatch_once, self._policy.poll_interval_seconds, logger, "Outbox dispatch"
        )

    async def _deliver(self, message: OutboxMessage) -> None:
        if message.attempts > self._policy.max_attempts:
            # Its lease ran out after the last allowed attempt (the worker died mid-send).
            await self._outbox.mark_failed(
                message.id, self.owner, "gave up: delivery never completed", self._clock.now()
            )
            return
        try:
            await self._sender.send(message)
        except EmailDeliveryError as exc:
            await self._record_failure(message, exc)
            return
        if not await self._outbox.mark_sent(message.id, self.owner, self._clock.now()):
            logger.warning("Outbox message %s was sent after its lease ran out", message.id)

    async def _record_failure(self, message: OutboxMessage, exc: EmailDeliveryError) -> None:
        now = self._clock.now()
        if exc.permanent or message.attempts >= self._policy.max_attempts:
            logger.warning(
                "Outbox message %s failed after %d attempts: %s",
                message.id,
                message.attempts,
                exc.reason,
            )
            await self._outbox.mark_failed(message.id, self.owner, exc.reason, now)
            return
        delay = self._policy.backoff(message.attempts)
        logger.info(
            "Outbox message %s attempt %d failed (%s); next in %.1fs",
            message.id,
            message.attempts,
            exc.reason,
            delay,
        )
        await self._outbox.mark_retry(
            message.id, self.owner, exc.reason, now + timedelta(seconds=delay), now
        )
