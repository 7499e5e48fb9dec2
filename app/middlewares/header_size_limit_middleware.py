"""Refuse requests with too many or too large header fields with 431, before they are read."""

from starlette.types import ASGIApp, Receive, Scope, Send

from app.utils.problem import problem

# Names and values together: a bearer token, a user agent and the usual fields take
# a few KiB, so these leave a wide margin for real clients.
DEFAULT_MAX_HEADER_BYTES = 16 * 1024
DEFAULT_MAX_HEADER_FIELDS = 100


class HeaderSizeLimitMiddleware:
    """Answers 431 when a request has more than ``max_fields`` header fields, or more
    than ``max_bytes`` of field names and values in total.

    The server has parsed the headers already: httptools, the parser uvicorn picks,
    bounds neither their size nor their number. So the limit is the app's, the same
    under any server, and it is the outermost layer: nothing else reads such headers.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_fields: int = DEFAULT_MAX_HEADER_FIELDS,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_fields = max_fields

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._too_large(scope["headers"]):
            response = problem(
                431,
                detail=f"The request has more than {self.max_fields} header fields or more "
                f"than {self.max_bytes} bytes of them.",
                # Its body, if any, is left unread: the connection cannot serve another.
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _too_large(self, headers: list[tuple[bytes, bytes]]) -> bool:
        if len(headers) > self.max_fields:
            return True
        return sum(len(name) + len(value) for name, value in headers) > self.max_bytes
