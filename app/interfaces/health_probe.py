"""Contract for the readiness check of a backing store."""

from abc import ABC, abstractmethod


class HealthProbe(ABC):
    """Checks that a dependency answers."""

    @abstractmethod
    async def ping(self) -> None:
        """Return when the dependency answers; raise otherwise."""
