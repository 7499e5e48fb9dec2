"""The Prometheus scrape."""

import logging

from app.interfaces.metrics import MetricsExporter, MetricsPage
from app.services.email_request_queue import EmailRequestQueue
from app.services.outbox_service import OutboxService

logger = logging.getLogger(__name__)


class MetricsController:
    """The Prometheus scrape: gauges read from the store, then every metric rendered."""

    def __init__(
        self, exporter: MetricsExporter, outbox: OutboxService, requests: EmailRequestQueue
    ) -> None:
        self._exporter = exporter
        self._outbox = outbox
        self._requests = requests

    async def scrape(self) -> MetricsPage:
        try:
            counts = await self._outbox.depth()
            queued = await self._requests.depth()
        except Exception:  # the request metrics matter most when the store is down
            logger.warning("Metrics: the outbox could not be counted", exc_info=True)
            self._exporter.clear_outbox_depth()
        else:
            self._exporter.set_outbox_depth(counts, queued)
        return self._exporter.render()
