"""Health, readiness and the public key set."""

import logging
from typing import Any

from app.interfaces.health_probe import HealthProbe
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
