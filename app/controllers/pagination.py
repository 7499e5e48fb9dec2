"""Keyset pages: ask the store for one row more than the page to learn if another follows."""

import contextlib
import uuid
from typing import TypeVar

from app.models.errors import InvalidCursorError

T = TypeVar("T")


def split_page(rows: list[T], limit: int) -> tuple[list[T], T | None]:
    """The page, and its last row when another page follows (``rows`` holds limit + 1)."""
    page = rows[:limit]
    return page, page[-1] if len(rows) > limit and page else None


def cursor_id(value: object) -> str:
    """``value`` if it is an id as the API hands them out (a lower-case UUID string).

    A cursor only ever carries such an id; anything else (garbage, a NUL byte the
    database would choke on) is refused with ``InvalidCursorError`` before any store
    sees it.
    """
    with contextlib.suppress(ValueError):
        if isinstance(value, str) and str(uuid.UUID(value)) == value:
            return value
    raise InvalidCursorError()
