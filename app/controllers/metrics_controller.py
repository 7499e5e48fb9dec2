"""The Prometheus scrape."""

import logging

from app.interfaces.metrics import MetricsExporter, MetricsPage
from app.services.outbox_service import OutboxService

logger = logging.getLogger(__name__)


class MetricsController:
    """The Prometheus scrape: gauges read from the store, then every metric rendered."""

    def __init__(self, exporter: MetricsExporter, outbox: OutboxService) -> None:
        self._exporter = exporter
        self._outbox = outbox

    async def scrape(self) -> MetricsPage:
        try:
            counts = await self._outbox.depth()
        except Exception:  # the request metrics matter most when the store is down
            logger.warning("Metrics: the outbox could not be counted", exc_info=True)
            self._exporter.clear_outbox_depth()
        else:
            self._exporter.set_outbox_depth(counts)
        return self._exporter.render()
