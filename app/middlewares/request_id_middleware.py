"""Give every request an id, accepted from ``X-Request-ID`` or generated, and echo it."""

import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.utils.ids import new_id
from app.utils.logging_config import bind_request_id, unbind_request_id

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestIdMiddleware:
    """Pure ASGI middleware; the id lands in ``scope["state"]["request_id"]``.

    It also tags every log record of the request with the id. A generated id is a
    UUIDv7, so ids sort by arrival time when logs are searched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        # A client-chosen id is echoed into logs and responses, so only a safe one is kept.
        request_id = incoming if _SAFE_ID.match(incoming) else new_id()
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        token = bind_request_id(request_id)
        await self.app(scope, receive, send_with_id)
        # Left bound when the app raises: Starlette's error handler and the server log
        # the exception after this middleware has unwound, in the same task, and those
        # records should carry the id too. Servers give each request a task of its own.
        unbind_request_id(token)
