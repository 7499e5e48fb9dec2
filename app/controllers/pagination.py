"""Keyset pages: ask the store for one row more than the page to learn if another follows."""

from typing import TypeVar

T = TypeVar("T")


def split_page(rows: list[T], limit: int) -> tuple[list[T], T | None]:
    """The page, and its last row when another page follows (``rows`` holds limit + 1)."""
    page = rows[:limit]
    return page, page[-1] if len(rows) > limit and page else None
