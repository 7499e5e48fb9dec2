"""The route class of every endpoint: input holding unsafe characters is refused with 422.

``BaseRoutes`` builds every router with it, so no route group can forget it. The
check runs before FastAPI validates the request, on the query, path parameters and
body FastAPI parses anyway (Starlette keeps them on the request: nothing is parsed
twice). A request with no query, path parameters or body pays two dictionary lookups.
"""

from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi import Request, Response, params
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.requests import ClientDisconnect

from app.models.text import first_unsafe_character

Location = tuple[str | int, ...]
Errors = list[dict[str, Any]]
BodyReader = Callable[[Request], Coroutine[Any, Any, Any]]

ERROR_TYPE = "unsafe_character"


class SafeInputRoute(APIRoute):
    """An ``APIRoute`` that answers 422 when any input holds an unsafe character.

    "Unsafe" is ``app.models.text.first_unsafe_character``'s rule. It applies to the
    query (names and values), the path parameters, and the body: every string of a
    JSON body at any depth, object keys included, and every form field. The errors
    have the shape of FastAPI's validation errors, so the problem response is the
    usual 422 with ``errors``; no endpoint, dependency or store sees such a value.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        read_body = _body_reader(self.body_field.field_info if self.body_field else None)

        async def guarded(request: Request) -> Response:
            scope = request.scope
            errors: Errors = []
            if scope["query_string"]:
                _check_fields(request.query_params.multi_items(), ("query",), errors)
            if path_params := scope.get("path_params"):
                _check_fields(path_params.items(), ("path",), errors)
            if read_body is not None:
                _check_value(await read_body(request), ("body",), errors)
            if errors:
                raise RequestValidationError(errors)
            return await handler(request)

        return guarded


def _body_reader(field_info: Any) -> BodyReader | None:
    if field_info is None:
        return None
    return _read_form if isinstance(field_info, params.Form) else _read_json


# Both read through the request's own cache, which FastAPI's handler reads next, so
# the body is parsed once. (The form is parsed with Starlette's default limits, as
# FastAPI does while no router sets ``form_limits``.) A body that cannot be read or
# parsed is left for FastAPI's handler to answer as usual.
async def _read_form(request: Request) -> Any:
    try:
        return await request.form()
    except ClientDisconnect:
        return None


async def _read_json(request: Request) -> Any:
    try:
        return await request.json() if await request.body() else None
    except (ValueError, ClientDisconnect):
        return None


def _check_fields(fields: Iterable[tuple[str, Any]], loc: Location, errors: Errors) -> None:
    for name, value in fields:
        if (character := first_unsafe_character(name)) is not None:
            errors.append(_name_error(loc, character))
        else:
            _check_value(value, (*loc, name), errors)


def _check_value(value: Any, loc: Location, errors: Errors) -> None:
    if isinstance(value, str):
        if (character := first_unsafe_character(value)) is not None:
            errors.append(_value_error(loc, character))
    elif isinstance(value, dict):
        _check_fields(value.items(), loc, errors)
    elif isinstance(value, FormData):
        _check_fields(value.multi_items(), loc, errors)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_value(item, (*loc, index), errors)


def _code_point(character: str) -> str:
    return f"U+{ord(character):04X}"


def _value_error(loc: Location, character: str) -> dict[str, Any]:
    return {
        "type": ERROR_TYPE,
        "loc": loc,
        "msg": f"Control, line separator and bidirectional formatting characters are "
        f"not allowed (found {_code_point(character)}).",
    }


# The name itself is left out of the location: it is the unsafe text.
def _name_error(loc: Location, character: str) -> dict[str, Any]:
    return {
        "type": ERROR_TYPE,
        "loc": loc,
        "msg": f"A field name holds a control, line separator or bidirectional "
        f"formatting character ({_code_point(character)}).",
    }
