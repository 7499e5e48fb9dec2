"""Health, readiness, the public key set and the metrics scrape."""

import logging
from typing import Any

from app.interfaces.health_probe import HealthProbe
from app.interfaces.metrics import MetricsExporter, MetricsPage
from app.interfaces.repositories.outbox_repository import OutboxRepository
from app.interfaces.token_codec import TokenCodec

logger = logging.getLogger(__name__)


class SystemController:
    """Endpoints that describe the service itself."""

    def __init__(self, codec: TokenCodec, probe: HealthProbe) -> None:
        self._codec = codec
        self._probe = probe

    def jwks(self) -> dict[str, Any]:
        return self._codec.jwks()

    async def ready(self) -> bool:
        try:
            await self._probe.ping()
        except Exception:  # any failure to answer means not ready
            logger.warning("Readiness check failed: the database did not answer", exc_info=True)
            return False
        return True


class MetricsController:
    """The Prometheus scrape: gauges read from the store, then every metric rendered."""

    def __init__(self, exporter: MetricsExporter, outbox: OutboxRepository) -> None:
        self._exporter = exporter
        self._outbox = outbox

    async def scrape(self) -> MetricsPage:
        try:
            counts = await self._outbox.count_by_status()
        except Exception:  # the request metrics matter most when the store is down
            logger.warning("Metrics: the outbox could not be counted", exc_info=True)
            self._exporter.clear_outbox_depth()
        else:
            self._exporter.set_outbox_depth(counts)
        return self._exporter.render()
