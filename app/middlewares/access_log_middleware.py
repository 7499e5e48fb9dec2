"""One log record per request: method, path, status, duration and the caller's user id."""

import logging

from starlette.types import ASGIApp, Scope

from app.middlewares.response_observer import ResponseObserver
from app.utils.logging_config import ACCESS_LOGGER

# Where the auth dependency leaves the authenticated caller's id, in scope["state"].
USER_ID_STATE_KEY = "user_id"
# A request line can be long; the log line need not be.
MAX_LOGGED_PATH = 1024


class AccessLogMiddleware(ResponseObserver):
    """Logs to ``app.access`` at INFO once the response is sent (LOG_LEVEL=warning
    turns the access log off, and its cost with it).

    The path is the raw request path without its query string (queries may carry
    codes or tokens); headers and bodies are never logged. It runs inside
    ``RequestIdMiddleware``, so the record carries the request id. An exception that
    escapes the app is logged as a 500, the status the server error handler sends.
    """

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self.logger = logging.getLogger(ACCESS_LOGGER)

    def active(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def observe(self, scope: Scope, status: int, seconds: float) -> None:
        self._log(scope, status, seconds * 1000)

    def _log(self, scope: Scope, status: int, duration_ms: float) -> None:
        raw_path = scope.get("raw_path")
        path: str = (
            raw_path.split(b"?", 1)[0].decode("ascii", "backslashreplace")
            if isinstance(raw_path, bytes)
            else scope["path"]
        )[:MAX_LOGGED_PATH]
        if not path.isprintable():
            # A control character must not start a forged line in a text log.
            path = path.encode("unicode_escape").decode("ascii")
        state = scope.get("state")
        user_id = state.get(USER_ID_STATE_KEY) if isinstance(state, dict) else None
        method = scope["method"]
        duration_ms = round(duration_ms, 3)
        message = "%s %s %s %.1fms"
        args: tuple[object, ...] = (method, path, status, duration_ms)
        if user_id is not None:
            message += " user=%s"
            args += (user_id,)
        fields = {
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "user_id": user_id,
        }
        # Built and handed over directly: logger.info() would also walk the stack for
        # the caller's file and line, the same for every access line, on every request.
        self.logger.handle(
            self.logger.makeRecord(
                ACCESS_LOGGER, logging.INFO, __file__, 0, message, args, None, extra=fields
            )
        )
