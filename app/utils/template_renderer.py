"""Jinja2 rendering of the email templates."""

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.interfaces.template_renderer import TemplateRenderer

EMAIL_TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "emails"


class JinjaTemplateRenderer(TemplateRenderer):
    """Autoescapes ``.html`` templates; a missing variable is an error, not a blank."""

    def __init__(self, directory: Path = EMAIL_TEMPLATES) -> None:
        self._env = Environment(
            loader=FileSystemLoader(directory),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, template: str, context: dict[str, Any]) -> str:
        return self._env.get_template(template).render(**context)
