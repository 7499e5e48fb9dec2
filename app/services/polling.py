"""The loop of a background worker that polls the database for work."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


async def poll_until_stopped(
    stop: asyncio.Event,
    work_once: Callable[[], Awaitable[int]],
    interval_seconds: float,
    log: logging.Logger,
    what: str,
) -> None:
    """Call ``work_once`` until ``stop`` is set, pausing ``interval_seconds`` whenever it
    found nothing to do; a failure (a database outage) is logged to the worker's own
    ``log`` and only pauses it."""
    while not stop.is_set():
        try:
            handled = await work_once()
        except Exception:  # the loop must outlive any outage
            log.exception("%s failed; retrying shortly", what)
            handled = 0
        if handled == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_seconds)
