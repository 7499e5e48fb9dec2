"""What the SQL repositories need from a database's fast path for single-row reads."""

from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import Select


class RowReader(Protocol):
    """Reads the first row of a lookup by key, outside any unit of work."""

    async def first(
        self, statement: Select[Any], parameters: dict[str, Any] | None = None
    ) -> Mapping[Any, Any] | None: ...

    async def close(self) -> None: ...
