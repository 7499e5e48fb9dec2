"""Base of the class-based routes."""

from abc import ABC, abstractmethod
from typing import ClassVar

from fastapi import APIRouter

from app.interfaces.safe_input_route import SafeInputRoute


class BaseRoutes(ABC):
    """A group of endpoints under one prefix, registered on its own ``APIRouter``.

    Subclasses receive their controller through the constructor and declare their
    endpoints in ``register``; the app includes ``router`` under a version prefix.
    Every endpoint refuses input holding unsafe characters (``SafeInputRoute``).
    """

    prefix: ClassVar[str] = ""
    tags: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.router = APIRouter(
            prefix=self.prefix, tags=list(self.tags), route_class=SafeInputRoute
        )
        self.register()

    @abstractmethod
    def register(self) -> None:
        """Add this group's endpoints to ``self.router``."""
