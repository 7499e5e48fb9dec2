"""``python -m app serve``: the production HTTP server, uvicorn with its worker processes."""

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any

import typer
import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from app.cli.common import fail
from app.config import ConfigurationError, LogFormat, Settings, load_settings
from app.utils.keys import KeyLoadError
from app.utils.logging_config import configure_logging

logger = logging.getLogger(__name__)

# Every worker imports this and builds the app from the environment, as the parent did.
APP = "app.main:app"
EXIT_FAILED = 1
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Stopped(BaseException):
    """SIGTERM or SIGINT arrived: the server has shut down, or never started.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on the
    way out of uvicorn and asyncio swallows it.
    """


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise _Stopped


@contextmanager
def _stop_signals_end_cleanly() -> Iterator[None]:
    """Turn SIGTERM and SIGINT into ``_Stopped`` while the server runs.

    uvicorn shuts down gracefully on them, then raises the signal again with the
    handler it found: the default one would kill the process (status 143 or a
    KeyboardInterrupt traceback), this one ends the command with status 0.
    """
    previous = {signum: signal.signal(signum, _raise_stopped) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _checked_settings(overrides: dict[str, Any]) -> Settings:
    """The settings, refused before any worker starts when the app would refuse them."""
    try:
        settings = load_settings(**overrides)
    except ConfigurationError as exc:
        fail(str(exc))
    # As the app does: uvicorn's supervisor logs from this process, the workers from theirs.
    configure_logging(
        json_lines=settings.resolved_log_format is LogFormat.JSON,
        level=settings.log_level.value.upper(),
    )
    if settings.is_production and (problems := settings.production_problems()):
        fail("Refusing to start in production: " + "; ".join(problems))
    # Imported here: wiring every layer is slow, and `--help` needs none of it.
    from app.container import build_container

    container = build_container(settings)
    try:
        # Loaded once here, so a bad key is one clear message rather than a failure in
        # every worker, and development keys are generated before the workers race to.
        container.keys.load()
        container.secret.load()
    except KeyLoadError as exc:
        fail(str(exc))
    except OSError as exc:
        # Development keys and the secret are generated under DATA_DIR.
        fail(f"DATA_DIR ({settings.data_dir}): {exc}")
    finally:
        container.hasher.close()
    return settings


def _warnings(settings: Settings) -> list[str]:
    warnings = []
    if (
        settings.workers > 1
        and settings.rate_limit_enabled
        and settings.rate_limit_storage_url.startswith("memory://")
    ):
        warnings.append(
            f"WORKERS={settings.workers} with RATE_LIMIT_STORAGE_URL=memory://: each worker "
            "counts on its own, so clients get up to that many times every rate limit. "
            "Use a shared storage (redis://...) with several workers."
        )
    if settings.is_production and not settings.password_breach_check_url:
        # Not a refusal: a deployment may have no way out to the internet.
        warnings.append(
            "PASSWORD_BREACH_CHECK_URL is empty: new passwords are not checked against "
            "breached ones. Set it to https://api.pwnedpasswords.com."
        )
    return warnings


def _config(settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        APP,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        # uvloop and httptools when installed (uvicorn[standard]), asyncio and h11 otherwise.
        loop="auto",
        http="auto",
        lifespan="on",
        # The app alone reads X-Forwarded-For and -Proto, from TRUSTED_PROXIES only
        # (ClientIpMiddleware). uvicorn's own handling would replace the socket peer
        # with a forwarded address before the app could check who sent it.
        proxy_headers=False,
        # The app configures logging itself and writes its own access log.
        log_config=None,
        access_log=False,
        server_header=False,
    )


def _serve_until_stopped(config: uvicorn.Config) -> bool:
    """Run until SIGTERM or SIGINT; False when the app or the socket failed to start."""
    try:
        if config.workers > 1:
            supervisor = Multiprocess(config, sockets=[config.bind_socket()])
            supervisor.run()
            # uvicorn stops every worker when one fails to start, but returns normally.
            return all(process.exitcode != STARTUP_FAILURE for process in supervisor.processes)
        server = uvicorn.Server(config)
        server.run()
        return server.started
    except _Stopped:
        return True
    except SystemExit:
        # uvicorn exits this way when the app, its lifespan or the socket fails.
        return False


def serve(
    host: Annotated[
        str | None,
        typer.Option(metavar="ADDRESS", help="Address to listen on. [default: HOST, 127.0.0.1]"),
    ] = None,
    port: Annotated[
        int | None, typer.Option(metavar="PORT", help="Port to listen on. [default: PORT, 8000]")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(metavar="N", help="Worker processes, 1 to 64. [default: WORKERS, 1]"),
    ] = None,
) -> None:
    """Run the API with uvicorn, WORKERS processes listening on HOST:PORT.

    Settings are checked before anything starts, signing keys included. Behind a
    reverse proxy, list it in TRUSTED_PROXIES: X-Forwarded-For and -Proto are
    believed from those addresses only. With several workers, share the rate
    limits through RATE_LIMIT_STORAGE_URL=redis://...
    SIGTERM or SIGINT stops the server gracefully: requests in flight finish.

    Exit status: 0 stopped by SIGTERM or SIGINT, 1 the app failed to start (database
    unreachable, port in use; see the log), 2 invalid settings, keys or options.
    """
    overrides = {
        name: value
        for name, value in (("host", host), ("port", port), ("workers", workers))
        if value is not None
    }
    settings = _checked_settings(overrides)
    for warning in _warnings(settings):
        logger.warning(warning)
    with _stop_signals_end_cleanly():
        started = _serve_until_stopped(_config(settings))
    if not started:
        fail("The server failed to start; see the errors above.", EXIT_FAILED)
