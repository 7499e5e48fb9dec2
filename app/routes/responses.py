"""OpenAPI descriptions of the problem responses routes can return."""

from typing import Any

from app.schemas.problem import Problem
from app.utils.problem import PROBLEM_MEDIA_TYPE


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}} for status in statuses}
