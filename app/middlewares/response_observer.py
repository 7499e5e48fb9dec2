"""A base for middlewares that look at each finished response without changing it."""

import time
from abc import ABC, abstractmethod

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# What the server's error handler sends for an exception that escapes the app.
UNHANDLED_STATUS = 500


class ResponseObserver(ABC):
    """Pure ASGI middleware (a Template Method): times each HTTP request, notes its
    status, and hands both to ``observe`` once the app is done, even when it raised.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def active(self) -> bool:
        """Whether to observe at all; checked per request, so it may change at run time."""
        return True

    @abstractmethod
    def observe(self, scope: Scope, status: int, seconds: float) -> None: ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.active():
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = UNHANDLED_STATUS

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self.observe(scope, status, time.perf_counter() - start)
