"""Log records as JSON lines (production) or text (development), tagged with the request id.

``configure_logging`` puts one handler on the root logger, so every record the process
emits (the app's, uvicorn's when it runs with ``log_config=None``, third parties')
comes out in one format. It is idempotent: calling it again replaces its own handler
and touches no other, which keeps pytest's ``caplog`` (a root handler too) working.
"""

import functools
import json
import logging
import sys
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

APP_LOGGER = "app"
ACCESS_LOGGER = "app.access"
# uvicorn's own loggers; "uvicorn.error" (start-up, shutdown, server errors) is a child.
SERVER_LOGGER = "uvicorn"

# These libraries log bound SQL parameters, result rows or whole commands at INFO or
# DEBUG: email bodies with one-time codes, hashes, addresses. LOG_LEVEL never turns them on.
QUIET_LOGGERS: dict[str, int] = {
    "sqlalchemy.engine": logging.WARNING,
    "aiosqlite": logging.INFO,
    "pymongo": logging.INFO,
    # Request URLs: the breached-password check's carries a prefix of the password's hash.
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
}

# Values JSON has no type for (a datetime, an enum...) are written as their str().
_ENCODER = json.JSONEncoder(default=str)

TEXT_FORMAT = "%(asctime)s %(levelname)-8s %(name)s [%(request_id)s] %(message)s"

_current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

# Everything a bare LogRecord carries; any other attribute came from ``extra=``. But
# uvicorn's ``color_message``, the message again with terminal colour codes, is noise.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "request_id",
    "taskName",
    "color_message",
}


def bind_request_id(request_id: str) -> Token[str | None]:
    """Tag the records of the current task (and tasks it starts) with ``request_id``."""
    return _current_request_id.set(request_id)


def unbind_request_id(token: Token[str | None]) -> None:
    _current_request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id`` from the request being served (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _current_request_id.get()
        return True


@functools.lru_cache(maxsize=4)
def _second(second: int) -> str:
    # Formatting the date is most of a timestamp's cost; records come many a second.
    return datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _timestamp(created: float) -> str:
    """ISO 8601 in UTC with milliseconds: ``2024-05-01T12:00:00.123Z``."""
    second = int(created)
    return f"{_second(second)}.{int((created - second) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, extras.

    Fields passed with ``extra=`` become top-level keys; an exception and a stack
    become ``exc_info`` and ``stack_info`` strings, so a record is always one line.
    """

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            payload["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES:
                payload[key] = value
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack_info"] = self.formatStack(record.stack_info)
        return _ENCODER.encode(payload)


class TextFormatter(logging.Formatter):
    """A line for people: time, level, logger, ``[request id]`` (``-`` outside a request)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        request_id = getattr(record, "request_id", None) or "-"
        return TEXT_FORMAT % {**record.__dict__, "request_id": request_id}


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time, like logging's last resort.

    A stream bound once would outlive pytest's capture of it, or a server's redirect.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            stream = sys.stderr
            stream.write(line + "\n")
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def configure_logging(*, json_lines: bool, level: int | str) -> None:
    """Route every record to stderr in one format; ``level`` applies to the app and uvicorn.

    Third-party loggers keep the root logger's level (WARNING unless someone lowered
    it), except the ``QUIET_LOGGERS``, which stay quiet whatever the root level.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    for name in (APP_LOGGER, SERVER_LOGGER):
        logging.getLogger(name).setLevel(level)
    for name, quiet_level in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet_level)
