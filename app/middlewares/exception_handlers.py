"""Map domain errors, HTTP errors and validation errors to problem responses."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.models import errors
from app.utils.problem import problem, request_id_of

logger = logging.getLogger(__name__)

DOMAIN_STATUS: dict[type[errors.DomainError], int] = {
    errors.EmailTakenError: 409,
    errors.InvalidCredentialsError: 401,
    errors.AccountDisabledError: 403,
    errors.EmailNotVerifiedError: 403,
    errors.InvalidTokenError: 401,
    errors.NotAuthenticatedError: 401,
    errors.PermissionDeniedError: 403,
    errors.NotFoundError: 404,
    errors.ConflictError: 409,
    errors.InvalidCursorError: 400,
    errors.InvalidInputError: 422,
    errors.IncorrectPasswordError: 400,
    errors.StorageUnavailableError: 503,
    errors.InvalidCodeError: 400,
    errors.TooManyRequestsError: 429,
    errors.WeakPasswordError: 422,
}


def _status_for(exc: errors.DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in DOMAIN_STATUS:
            return DOMAIN_STATUS[cls]
    return 400


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.DomainError)  # noqa: S101 - registered for this type only
    headers = {}
    if isinstance(exc, errors.TooManyRequestsError):
        headers["Retry-After"] = str(exc.retry_after)
    return problem(
        _status_for(exc),
        detail=exc.message,
        code=exc.code,
        request_id=request_id_of(request.scope),
        headers=headers,
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    detail = exc.detail if isinstance(exc.detail, str) else "The request failed."
    return problem(
        exc.status_code,
        detail=detail,
        request_id=request_id_of(request.scope),
        headers=dict(exc.headers or {}),
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Only loc, msg and type: pydantic's `input` and `ctx` may echo a password back.
    return [
        {
            "loc": list(error.get("loc", ())),
            "msg": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors()
    ]


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    return problem(
        422,
        detail="The request is invalid; see `errors`.",
        request_id=request_id_of(request.scope),
        errors=_field_errors(exc),
    )


async def _unhandled_error(request: Request, exc: Exception) -> Response:
    logger.exception("Unhandled error on %s %s", request.method, request.url.path)
    return problem(
        500, detail="An unexpected error occurred.", request_id=request_id_of(request.scope)
    )


def register_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled_error)
