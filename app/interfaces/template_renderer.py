"""Contract for rendering email templates."""

from abc import ABC, abstractmethod
from typing import Any


class TemplateRenderer(ABC):
    """Renders a named template with a context."""

    @abstractmethod
    def render(self, template: str, context: dict[str, Any]) -> str: ...
