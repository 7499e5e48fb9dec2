"""The log formats, the request-id tag and ``configure_logging`` itself."""

import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from app.utils.logging_config import (
    QUIET_LOGGERS,
    JsonFormatter,
    TextFormatter,
    bind_request_id,
    configure_logging,
    unbind_request_id,
)

LOGGER = "app.tests.logging_config"
TOUCHED_LOGGERS = ("app", "uvicorn", *QUIET_LOGGERS)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put the root handlers and the levels ``configure_logging`` sets back afterwards."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    levels = {name: logging.getLogger(name).level for name in TOUCHED_LOGGERS}
    yield
    root.handlers[:] = handlers
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def record(message: str = "hello %s", *args: Any, **extra: Any) -> logging.LogRecord:
    return logging.getLogger(LOGGER).makeRecord(
        LOGGER, logging.WARNING, __file__, 42, message, args or ("world",), None, extra=extra
    )


def emitted_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line]


def test_json_lines_carry_time_level_logger_message_and_extras() -> None:
    line = JsonFormatter().format(
        record("GET %s", "/api/v1/users/me", status=200, duration_ms=1.5, user_id=None)
    )

    payload = json.loads(line)
    assert "\n" not in line
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", payload["time"])
    assert payload["level"] == "WARNING"
    assert payload["logger"] == LOGGER
    assert payload["message"] == "GET /api/v1/users/me"
    assert payload["status"] == 200
    assert payload["duration_ms"] == 1.5
    assert payload["user_id"] is None
    # The record's own machinery (args, line numbers, thread...) stays out.
    assert not {"args", "msg", "lineno", "thread", "exc_text"} & payload.keys()
    assert "request_id" not in payload


def test_json_puts_the_exception_in_a_field_and_stays_one_line() -> None:
    try:
        raise ValueError("broken\non two lines")
    except ValueError:
        failed = logging.getLogger(LOGGER).makeRecord(
            LOGGER, logging.ERROR, __file__, 1, "it failed", (), exc_info=sys.exc_info()
        )

    line = JsonFormatter().format(failed)

    assert "\n" not in line
    payload = json.loads(line)
    assert payload["message"] == "it failed"
    assert payload["exc_info"].startswith("Traceback (most recent call last):")
    assert "ValueError: broken\non two lines" in payload["exc_info"]


def test_json_serialises_values_json_does_not_know_as_text() -> None:
    payload = json.loads(JsonFormatter().format(record(when=object, items={1, 2})))
    assert payload["when"] == str(object)
    assert payload["items"] == str({1, 2})


def test_text_lines_are_for_people() -> None:
    formatter = TextFormatter()
    without = formatter.format(record())
    tagged = record()
    tagged.request_id = "req-7"

    assert re.fullmatch(
        rf"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d{{3}} WARNING  {LOGGER} \[-\] hello world",
        without,
    )
    assert formatter.format(tagged).endswith(f"WARNING  {LOGGER} [req-7] hello world")


@pytest.mark.parametrize("json_lines", [True, False])
def test_configured_records_carry_the_bound_request_id(
    json_lines: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(json_lines=json_lines, level="INFO")
    logger = logging.getLogger(LOGGER)

    token = bind_request_id("trace-1")
    try:
        logger.warning("inside")
    finally:
        unbind_request_id(token)
    logger.warning("outside")

    inside, outside = emitted_lines(capsys)
    if json_lines:
        assert json.loads(inside)["request_id"] == "trace-1"
        assert "request_id" not in json.loads(outside)
    else:
        assert inside.endswith("[trace-1] inside")
        assert outside.endswith("[-] outside")


def test_configure_is_idempotent_and_leaves_other_handlers_alone(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.addHandler(foreign)

    configure_logging(json_lines=False, level="DEBUG")
    configure_logging(json_lines=True, level="WARNING")
    logging.getLogger(LOGGER).warning("once")

    # One line, in the format of the last call; caplog (a root handler) still sees it.
    [line] = emitted_lines(capsys)
    assert json.loads(line)["message"] == "once"
    assert [r.getMessage() for r in caplog.records if r.name == LOGGER] == ["once"]
    assert foreign in root.handlers
    assert logging.getLogger("app").level == logging.WARNING
    assert logging.getLogger("uvicorn").level == logging.WARNING


def test_debug_does_not_turn_on_loggers_that_log_data(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json_lines=True, level="DEBUG")
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    try:
        logging.getLogger("app.tests").debug("app debug")
        logging.getLogger("sqlalchemy.engine.Engine").info("INSERT ... ('the body', ...)")
        logging.getLogger("aiosqlite").debug("executing partial(execute, 'the body')")
    finally:
        root.setLevel(previous)

    messages = [json.loads(line)["message"] for line in emitted_lines(capsys)]
    assert messages == ["app debug"]
