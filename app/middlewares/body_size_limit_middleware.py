"""Refuse request bodies over a limit with 413, without reading them whole."""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.utils.problem import problem, request_id_of

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class BodySizeLimitMiddleware:
    """Checks ``Content-Length`` up front and counts streamed chunks as they arrive."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                too_large = False
            if too_large:
                await self._refuse(scope, receive, send)
                return

        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI turns other exceptions raised while reading into 400.
                    raise HTTPException(413, "The request body is larger than the limit.")
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413,
            detail=f"The request body is larger than {self.max_bytes} bytes.",
            request_id=request_id_of(scope),
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
