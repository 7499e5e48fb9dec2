"""Every repository refuses strings holding NUL before any database sees them."""

import dataclasses
import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from app.models.errors import InvalidInputError

Method = Callable[..., Awaitable[Any]]


class NulRefusingRepository:
    """Base of the SQL and MongoDB repositories: NUL never reaches a database.

    Each public coroutine method a subclass defines refuses, with
    ``InvalidInputError`` and before it runs, any argument holding a string with
    NUL (U+0000) at any depth: in a string, a mapping (keys too), a sequence or set,
    or a dataclass such as ``User`` or ``UserFilter``. PostgreSQL cannot store NUL in
    text and raises, SQLite and MongoDB store it: refused here, once for every
    method of every repository, it is refused alike on each backend, for lookups as
    for writes, and also on the fast readers that bypass the SQL engine.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, member in list(vars(cls).items()):
            if not name.startswith("_") and inspect.iscoroutinefunction(member):
                setattr(cls, name, _refusing_nul(member))


def _refusing_nul(method: Method) -> Method:
    @functools.wraps(method)
    async def refusing_nul(self: object, *args: object, **kwargs: object) -> Any:
        if _holds_nul(args) or (kwargs and _holds_nul(kwargs)):
            raise InvalidInputError()
        return await method(self, *args, **kwargs)

    return refusing_nul


def _holds_nul(value: object) -> bool:
    # Cheapest first: every call passes a tuple of arguments, most of them strings.
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, tuple | list | set | frozenset):
        return any(_holds_nul(item) for item in value)
    if isinstance(value, Mapping):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(_holds_nul(getattr(value, field.name)) for field in dataclasses.fields(value))
    return False
