"""The app in a real uvicorn subprocess, for tests that need real processes and sockets.

    server = LiveServer({"DATABASE_URL": url, "ENVIRONMENT": "test"}, cwd=tmp_path)
    server.start()                  # launch, then wait until GET /health answers 200
    httpx.get(f"{server.base_url}/health")
    server.stop()                   # SIGTERM; SIGKILL if it does not exit in time

``command`` runs another command line instead of uvicorn (``make run``,
``python -m app serve``); it must listen on ``HOST`` and the ``port`` given.

It is also a context manager. To start several servers side by side, ``launch()``
each, then ``wait_ready()`` each. The child's environment is this process's, minus
every variable the app's ``Settings`` reads, plus ``env``: nothing leaks in from the
developer's shell or CI, and ``cwd`` should be an empty directory so no ``.env`` is read.

Unless a ``port`` is given, uvicorn binds port 0 and the port the system chose is read
from its "Uvicorn running on" line: a port picked in advance could be taken by any
other process during the seconds the app takes to import. So keep uvicorn's log level
at ``info`` (the default) or lower; ``--no-access-log`` is fine.
"""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, NoReturn, Self

import httpx
from pydantic import AliasChoices

from app.config import Settings

APP = "app.main:app"
HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[1]
POLL_SECONDS = 0.05
_RUNNING_ON = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


def setting_variables() -> frozenset[str]:
    """Every environment variable ``Settings`` reads: field names and their aliases."""
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        names.add(name.upper())
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(choice.upper() for choice in alias.choices if isinstance(choice, str))
        elif isinstance(alias, str):
            names.add(alias.upper())
    return frozenset(names)


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The inherited environment without any app setting, with ``env`` on top."""
    blocked = setting_variables()
    inherited = {key: value for key, value in os.environ.items() if key.upper() not in blocked}
    # Log lines arrive as they are written, not when a buffer fills.
    return {**inherited, "PYTHONUNBUFFERED": "1", **env}


class LiveServerError(RuntimeError):
    """The server did not start; the message ends with what it printed."""


class LiveServer:
    """One ``uvicorn app.main:app`` process on a loopback port.

    ``output`` is everything the process wrote to stdout and stderr so far, collected
    by a thread so a chatty server never blocks on a full pipe.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        cwd: Path,
        app: str = APP,
        port: int | None = None,
        uvicorn_args: Sequence[str] = (),
        command: Sequence[str] = (),
    ) -> None:
        self.host = HOST
        self._port = port
        self._env = child_environment(env)
        self._cwd = cwd
        self._command = list(command) or [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            self.host,
            "--port",
            str(port or 0),
            # Import the app of this checkout, whatever the working directory.
            "--app-dir",
            str(REPO_ROOT),
            *uvicorn_args,
        ]
        self._process: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The listening port; known once the server has started listening."""
        if self._port is None:
            match = _RUNNING_ON.search(self.output)
            if match is None:
                raise RuntimeError("the server is not listening yet: wait_ready() first")
            self._port = int(match.group(1))
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def output(self) -> str:
        with self._lock:
            return "".join(self._lines)

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has ended, else ``None``."""
        return self._process.poll() if self._process is not None else None

    def launch(self) -> None:
        """Start the process and return at once; ``wait_ready`` waits for it."""
        if self._process is not None:
            raise RuntimeError("this server was launched already")
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            self._command,
            cwd=self._cwd,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        assert self._process.stdout is not None
        self._reader = threading.Thread(
            target=self._collect, args=(self._process.stdout,), daemon=True
        )
        self._reader.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Poll GET /health until it answers 200; stop the server and raise if it never does.

        The default is generous: on a busy machine the app alone takes seconds to import.
        """
        process = self._require_process()
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    self._fail(f"the server exited with status {process.returncode} at start-up")
                if self._answers_health(client):
                    return
                if time.monotonic() >= deadline:
                    self.stop()
                    self._fail(f"GET /health did not answer 200 within {timeout:.0f}s")
                time.sleep(POLL_SECONDS)

    def start(self, timeout: float = 60.0) -> None:
        self.launch()
        self.wait_ready(timeout)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (a graceful shutdown, lifespan included), SIGKILL after ``timeout``.

        Returns the exit status, as ``Popen.returncode``: uvicorn re-raises the signal
        it shut down on, so a graceful stop gives ``-SIGTERM`` and a kill ``-SIGKILL``.
        """
        process = self._require_process()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        return process.returncode

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _answers_health(self, client: httpx.Client) -> bool:
        try:
            base_url = self.base_url
        except RuntimeError:
            return False  # still importing or starting up
        try:
            return client.get(f"{base_url}/health").status_code == 200
        except httpx.TransportError:
            return False

    def _require_process(self) -> subprocess.Popen[str]:
        if self._process is None:
            raise RuntimeError("launch() the server first")
        return self._process

    def _collect(self, stream: IO[str]) -> None:
        for line in stream:
            with self._lock:
                self._lines.append(line)
        stream.close()

    def _fail(self, reason: str) -> NoReturn:
        if self._reader is not None:
            self._reader.join(timeout=5)
        where = f" ({self.base_url})" if self._port is not None else ""
        raise LiveServerError(f"{reason}{where}; its output:\n{self.output}")
