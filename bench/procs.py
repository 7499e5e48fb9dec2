"""Child processes of the benchmark: servers and load generators, always cleaned up.

Every child is started in its own session (process group) and registered here; on
normal exit, an exception, Ctrl-C or SIGTERM, each registered group is terminated by
its id, first politely (SIGTERM, so uvicorn runs the app's shutdown), then for good.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO

import httpx

LOOPBACK = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
TERMINATE_GRACE_SECONDS = 10.0

_app_dir = REPO_ROOT
_live: dict[int, subprocess.Popen[bytes]] = {}
_lock = threading.Lock()


def use_app_dir(path: Path) -> None:
    """Benchmark the ``app`` package under ``path`` (a checkout or snapshot) instead of ours.

    The orchestrator imports it first from there, and children get it first on
    PYTHONPATH; the bench package itself still comes from this repository.
    """
    global _app_dir
    _app_dir = path.resolve()
    if not (_app_dir / "app" / "main.py").is_file():
        raise SystemExit(f"{path} has no app/main.py")
    sys.path.insert(0, str(_app_dir))


def app_dir() -> Path:
    """Where the benchmarked ``app`` package lives."""
    return _app_dir


def child_pythonpath(existing: str | None = None) -> str:
    """PYTHONPATH of a child: the benchmarked app first, then this repository (``bench``)."""
    entries = [str(_app_dir), str(REPO_ROOT), existing]
    return os.pathsep.join(dict.fromkeys(e for e in entries if e))


def spawn(
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdout: int | IO[bytes] | None = subprocess.PIPE,
    stderr: int | IO[bytes] | None = subprocess.STDOUT,
) -> subprocess.Popen[bytes]:
    """Start a child in a new process group and register it for clean-up."""
    proc = subprocess.Popen(  # noqa: S603 - argument lists built by the benchmark itself
        args,
        env=env,
        cwd=cwd,
        stdout=stdout,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    with _lock:
        _live[proc.pid] = proc
    return proc


def terminate(proc: subprocess.Popen[bytes], grace: float = TERMINATE_GRACE_SECONDS) -> None:
    """Stop a child's process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    try:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=grace)
        else:
            # The leader is gone; make sure nothing it started lingers in its group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
    finally:
        with _lock:
            _live.pop(proc.pid, None)


def terminate_all() -> None:
    """Stop every child still registered (atexit, signal and error paths)."""
    with _lock:
        procs = list(_live.values())
    for proc in procs:
        terminate(proc, grace=3.0)


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def install_cleanup_handlers() -> None:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so ``finally`` blocks run, and register atexit."""
    atexit.register(terminate_all)
    # Ctrl-C must stop the run even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupt)


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _read_status_kib(pid: int, field: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError, ValueError):
            found.extend(int(c) for c in (task / "children").read_text().split())
    return found


def process_tree(pid: int) -> list[int]:
    """``pid`` and every descendant (uvicorn with one worker has none, but be sure)."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(_children(current))
    return tree


class ServerProcess:
    """One uvicorn server, started the way production runs it, on a free loopback port."""

    def __init__(self, name: str, app: str, env: dict[str, str], workdir: Path) -> None:
        self.name = name
        self.app = app
        self.env = env
        self.workdir = workdir
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._sampler: threading.Thread | None = None
        self._sampling = threading.Event()
        self._max_rss_kib = 0

    @property
    def log_path(self) -> Path:
        """Where the server's output goes (kept with --keep)."""
        return self.workdir / f"{self.name}.log"

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT of the running server."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        """Process id of the running server."""
        if self.proc is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.proc.pid

    def command(self) -> list[str]:
        """The uvicorn command line: uvloop, httptools, one worker, warnings only."""
        return [
            sys.executable,
            "-m",
            "uvicorn",
            self.app,
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--workers",
            "1",
            "--log-level",
            "warning",
        ]

    def start(self, timeout: float = 120.0) -> ServerProcess:
        """Start uvicorn and wait until ``GET /health`` answers 200."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self._log = self.log_path.open("wb")
        self.proc = spawn(self.command(), env=self.env, cwd=self.workdir, stdout=self._log)
        try:
            self._wait_ready(self.proc, timeout)
        except BaseException:
            self.stop()
            raise
        self._sampling.set()
        self._sampler = threading.Thread(target=self._sample, name=f"rss-{self.name}", daemon=True)
        self._sampler.start()
        return self

    def _wait_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {proc.returncode} during start-up:\n"
                        + self.log_tail()
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.base_url + "/health").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not start in {timeout:.0f}s")
                time.sleep(0.1)

    def _sample(self) -> None:
        while self._sampling.is_set():
            rss = self.rss_kib()
            if rss:
                self._max_rss_kib = max(self._max_rss_kib, rss)
            time.sleep(0.2)

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server has used so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in process_tree(self.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return total

    def wait_idle(
        self, busy_below: float = 0.05, window: float = 0.5, timeout: float = 30.0
    ) -> None:
        """Wait until the server works off what a load left queued (CPU use < ``busy_below``).

        A load generator that stops leaves its in-flight requests behind; measuring the
        next load before they are served would charge their queueing to it.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = self.cpu_seconds()
            time.sleep(window)
            if (self.cpu_seconds() - before) / window < busy_below:
                return

    def rss_kib(self) -> int:
        """Current resident memory of the server (summed over its process tree)."""
        return sum(_read_status_kib(p, "VmRSS") or 0 for p in process_tree(self.pid))

    def peak_rss_mb(self) -> float:
        """Peak resident memory so far in MB (10^6 bytes): VmHWM, or the sampled maximum."""
        hwm = max((_read_status_kib(p, "VmHWM") or 0 for p in process_tree(self.pid)), default=0)
        return round(max(hwm, self._max_rss_kib) * 1024 / 1e6, 1)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the server printed (start-up errors, tracebacks)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server and its sampler; safe to call twice."""
        self._sampling.clear()
        if self._sampler is not None:
            self._sampler.join(timeout=2)
            self._sampler = None
        if self.proc is not None:
            terminate(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
