"""Load generators: wrk when it is installed, otherwise the Python one in ``bench.pyload``.

Both run as child processes, so two loads can run side by side (the login storm and
its latency probe) and neither competes with the orchestrator for the GIL. Both end
their output with one ``BENCH_JSON {...}`` line that ``LoadResult`` is built from.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.procs import LOOPBACK, child_pythonpath, spawn, terminate

WRK_SCRIPT = Path(__file__).resolve().parent / "wrk.lua"
RESULT_PREFIX = "BENCH_JSON "


@dataclass(frozen=True)
class LoadSpec:
    """One bounded load: who to hit, how hard, for how long."""

    url: str
    connections: int
    duration_s: int
    method: str = "GET"
    body: str | None = None
    content_type: str | None = None
    authorization: str | None = None
    # Pause of each connection between two requests: a paced probe instead of a flood.
    delay_ms: int = 0
    timeout_s: int = 10

    def __post_init__(self) -> None:
        host = urlsplit(self.url).hostname
        if host != LOOPBACK:
            raise ValueError(f"the benchmark only targets {LOOPBACK}, not {host!r}")
        if not 1 <= self.connections <= 1024 or not 1 <= self.duration_s <= 600:
            raise ValueError("connections must be 1..1024 and the duration 1..600 s")


@dataclass
class LoadResult:
    """What one load measured; latencies in milliseconds."""

    tool: str
    connections: int
    duration_s: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    error_detail: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (results.json)."""
        return dataclasses.asdict(self)


class RunningLoad:
    """A load generator process; ``result()`` waits for it and parses its JSON line."""

    def __init__(self, tool: str, spec: LoadSpec, proc: subprocess.Popen[bytes]) -> None:
        self.tool = tool
        self.spec = spec
        self.proc = proc

    def result(self) -> LoadResult:
        """Wait for the generator (bounded by the spec's duration) and parse its result."""
        try:
            out, _ = self.proc.communicate(timeout=self.spec.duration_s + 60)
        except subprocess.TimeoutExpired:
            terminate(self.proc)
            raise RuntimeError(f"{self.tool} did not finish in time") from None
        finally:
            terminate(self.proc)
        text = out.decode(errors="replace")
        line = next(
            (ln for ln in reversed(text.splitlines()) if ln.startswith(RESULT_PREFIX)), None
        )
        if line is None:
            raise RuntimeError(
                f"{self.tool} printed no result (exit {self.proc.returncode}):\n{text}"
            )
        data = json.loads(line[len(RESULT_PREFIX) :])
        if self.tool == "wrk":
            return _from_wrk(data, self.spec)
        return LoadResult(**data)


def _from_wrk(data: dict[str, Any], spec: LoadSpec) -> LoadResult:
    detail = {k: int(data[k]) for k in ("connect", "read", "write", "status", "timeout")}
    seconds = data["duration_us"] / 1e6
    return LoadResult(
        tool="wrk",
        connections=spec.connections,
        duration_s=round(seconds, 3),
        requests=int(data["requests"]),
        rps=data["requests"] / seconds if seconds else math.nan,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors=sum(detail.values()),
        error_detail={k: v for k, v in detail.items() if v},
    )


class LoadGenerator:
    """Starts loads with wrk (one thread: the server needs the other core) or with Python."""

    def __init__(self, prefer_wrk: bool = True) -> None:
        self.wrk = shutil.which("wrk") if prefer_wrk else None

    @property
    def name(self) -> str:
        """Name recorded with every result: wrk or python-asyncio."""
        return "wrk" if self.wrk else "python-asyncio"

    def version(self) -> str:
        """Version line of the generator, for results.json."""
        if not self.wrk:
            return "bench.pyload (asyncio streams, HTTP/1.1)"
        proc = subprocess.run(  # noqa: S603 - fixed argument list
            [self.wrk, "-v"], capture_output=True, text=True, check=False, timeout=10
        )
        first = (proc.stdout or proc.stderr).strip().splitlines()
        return first[0] if first else "wrk"

    def start(self, spec: LoadSpec) -> RunningLoad:
        """Start a load in the background; ``result()`` of the return value waits."""
        if self.wrk:
            return self._start_wrk(self.wrk, spec)
        return self._start_python(spec)

    def run(self, spec: LoadSpec) -> LoadResult:
        """Run a load to the end."""
        return self.start(spec).result()

    @staticmethod
    def _start_wrk(wrk: str, spec: LoadSpec) -> RunningLoad:
        env = dict(os.environ)
        env.update(
            BENCH_WRK_METHOD=spec.method,
            BENCH_WRK_BODY=spec.body or "",
            BENCH_WRK_CONTENT_TYPE=spec.content_type or "",
            BENCH_WRK_AUTHORIZATION=spec.authorization or "",
            BENCH_WRK_DELAY_MS=str(spec.delay_ms),
        )
        args = [
            wrk,
            "-t1",
            f"-c{spec.connections}",
            f"-d{spec.duration_s}s",
            f"--timeout={spec.timeout_s}s",
            "-s",
            str(WRK_SCRIPT),
            spec.url,
        ]
        return RunningLoad("wrk", spec, spawn(args, env=env))

    @staticmethod
    def _start_python(spec: LoadSpec) -> RunningLoad:
        args = [sys.executable, "-m", "bench.pyload", json.dumps(dataclasses.asdict(spec))]
        env = dict(os.environ)
        env["PYTHONPATH"] = child_pythonpath(env.get("PYTHONPATH"))
        return RunningLoad("python-asyncio", spec, spawn(args, env=env))
