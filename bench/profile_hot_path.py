"""Where the time of an authenticated ``GET /api/v1/users/me`` goes.

``python -m bench.profile_hot_path [--py-spy PATH] [--seconds 15]``

Two complementary views, written to ``bench/results/profile/``:

* ``components``: each step of the hot path timed on its own, in-process and one
  at a time (no network, no concurrency): the whole request through the ASGI stack,
  the same for the bare app, JWT verification, the session and user lookups through
  the app's repositories, the same two SELECTs with the stdlib ``sqlite3`` driver and
  as one JOIN, one bare aiosqlite round trip, and the response model serialisation.
* ``sampled``: py-spy attached to the real server (uvicorn, uvloop, httptools, one
  worker) under 64 connections, sampling only while the GIL is held, i.e. where the
  interpreter's time goes; plus the server's CPU use and how many database
  connection threads it went through. Skipped when py-spy is not available
  (``pip install py-spy`` into any venv and pass ``--py-spy``).

Profilers are not dependencies of the project or of the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gzip
import json
import os
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.backends import Backend, available_backends
from bench.load import LoadGenerator, LoadSpec
from bench.procs import (
    ServerProcess,
    install_cleanup_handlers,
    process_tree,
    spawn,
    terminate,
    terminate_all,
    use_app_dir,
)
from bench.scenarios import APP, ME_PATH, app_env, create_account

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "profile"

# Buckets for sampled stacks. A sample belongs to the bucket of its innermost frame
# that matches one (file path or function name; buckets tried in this order). Generic
# helpers (stdlib, Starlette's header classes) are skipped, so their time counts for
# whoever called them: json under PyJWT is JWT, uuid4 under a middleware is middleware.
BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("JWT verify (PyJWT, RS256)", ("jwt/", "jwt_codec", "cryptography/")),
    (
        "database: the caller's lookup (reader, pool, driver, mapping)",
        ("sqlalchemy/", "aiosqlite/", "asyncpg/", "app/db/", "app/repositories/", "greenlet"),
    ),
    (
        "response: model, validation, JSON",
        (
            "pydantic",
            "fastapi/encoders",
            "fastapi/_compat",
            "serialize_",
            "starlette/responses",
            "app/schemas",
            "app/controllers",
        ),
    ),
    ("FastAPI dependency resolution", ("fastapi/dependencies/", "fastapi/security/")),
    ("routing (path matching)", (".matches ", "._match ", "url_path_for")),
    ("app middlewares (request id, logs, headers, body size, client IP)", ("app/middlewares/",)),
    ("uvicorn + httptools protocol", ("uvicorn/protocols/", "httptools")),
    ("FastAPI/Starlette request cycle", ("fastapi/", "starlette/")),
]
SKIPPED = (
    "starlette/datastructures",
    "(uuid.py",
    "(re/",
    "(enum.py",
    "(typing.py",
    "(functools.py",
    "(contextlib.py",
    "(json/",
    "(base64.py",
    "(abc.py",
    "(dataclasses.py",
    "(_weakrefset.py",
    "(threading.py",
    "(queue.py",
    "(asyncio/",
)
OTHER = "event loop and everything else"
# The start-up chain every sample shares: left out of the "top frames" list.
ROOT_FRAMES = frozenset(
    {
        "_run_module_as_main",
        "_run_code",
        "<module>",
        "Command.__call__",
        "Command.main",
        "Command.invoke",
        "Context.invoke",
        "main",
        "run",
        "Server.run",
        "asyncio_run",
        "Runner.run",
    }
)


def _timeit(fn: Callable[[], Any], runs: int) -> float:
    """Median microseconds per call over 5 batches."""
    batch = max(1, runs // 5)
    results = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(batch):
            fn()
        results.append((time.perf_counter() - start) / batch * 1e6)
    return statistics.median(results)


async def _atimeit(fn: Callable[[], Awaitable[Any]], runs: int) -> float:
    batch = max(1, runs // 5)
    results = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(batch):
            await fn()
        results.append((time.perf_counter() - start) / batch * 1e6)
    return statistics.median(results)


async def _asgi(
    app: Any, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, bytes]:
    """One request through an ASGI app, no server, no socket."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def components(scratch: Path, runs: int) -> dict[str, float]:
    """Microseconds per step, each timed alone, in this process."""
    from pydantic import TypeAdapter

    from app.config import load_settings
    from app.main import create_app
    from app.schemas.user import UserRead
    from bench.bare_app import app as bare

    db_path = scratch / "components.db"
    settings = load_settings(
        _env_file=None,
        environment="development",
        database_url=f"sqlite+aiosqlite:///{db_path}",
        data_dir=scratch / "data",
        email_worker_enabled=False,
        rate_limit_enabled=False,
        auth_require_verified_email=False,
    )
    app = create_app(settings)
    container = app.state.container
    out: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        password = "Bench-" + secrets.token_urlsafe(18)
        email = f"bench-{secrets.token_hex(4)}@example.com"
        form = {"Content-Type": "application/json"}
        body = json.dumps({"email": email, "password": password}).encode()
        status, _ = await _asgi(app, "POST", "/api/v1/auth/register", form, body)
        if status != 201:
            raise RuntimeError(f"register: {status}")
        login = f"username={email.replace('@', '%40')}&password={password}".encode()
        status, text = await _asgi(
            app,
            "POST",
            "/api/v1/auth/login",
            {"Content-Type": "application/x-www-form-urlencoded"},
            login,
        )
        token = json.loads(text)["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        status, _ = await _asgi(app, "GET", ME_PATH, auth)
        if status != 200:
            raise RuntimeError(f"GET {ME_PATH}: {status}")

        out["whole request, app (ASGI in-process, no socket)"] = await _atimeit(
            lambda: _asgi(app, "GET", ME_PATH, auth), runs
        )
        out["whole request, bare app (ASGI in-process)"] = await _atimeit(
            lambda: _asgi(bare, "GET", ME_PATH, auth), runs
        )
        codec = container.codec
        out["JWT decode_access (RS256 verify + claims)"] = _timeit(
            lambda: codec.decode_access(token), runs
        )
        claims = codec.decode_access(token)
        auth_service = container.auth_service
        out["auth_service.authenticate (resolve the caller: session and user)"] = await _atimeit(
            lambda: auth_service.authenticate(claims), runs
        )
        storage = container.storage
        out["  session lookup alone (repository)"] = await _atimeit(
            lambda: storage.sessions.get(claims.session_id), runs
        )
        out["  user lookup alone (repository)"] = await _atimeit(
            lambda: storage.users.get_by_id(claims.subject), runs
        )
        principal = await auth_service.authenticate(claims)
        adapter = TypeAdapter(UserRead)
        out["UserRead.from_user + JSON dump"] = _timeit(
            lambda: adapter.dump_json(UserRead.from_user(principal.user)), runs
        )

        async def from_memory(_claims: Any) -> Any:
            return principal

        # What is left without the database, then without JWT verification as well.
        auth_service.authenticate = from_memory
        out["whole request, caller from memory (no database)"] = await _atimeit(
            lambda: _asgi(app, "GET", ME_PATH, auth), runs
        )
        codec.decode_access = lambda _token: claims
        out["whole request, caller and claims from memory (framework only)"] = await _atimeit(
            lambda: _asgi(app, "GET", ME_PATH, auth), runs
        )
        del auth_service.authenticate, codec.decode_access
        out["aiosqlite round trip (SELECT 1 on an open connection)"] = await _aiosqlite_rtt(
            db_path, runs
        )
    out.update(_sqlite3_floor(db_path, claims.session_id, claims.subject, runs))
    return out


async def _aiosqlite_rtt(path: Path, runs: int) -> float:
    import aiosqlite

    async with aiosqlite.connect(path) as conn:

        async def once() -> None:
            async with conn.execute("SELECT 1") as cursor:
                await cursor.fetchone()

        return await _atimeit(once, runs)


def _sqlite3_floor(path: Path, session_id: str, user_id: str, runs: int) -> dict[str, float]:
    """The same reads through the stdlib driver, synchronously: the floor."""
    conn = sqlite3.connect(path)
    try:
        two = _timeit(
            lambda: (
                conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone(),
                conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone(),
            ),
            runs,
        )
        join = _timeit(
            lambda: conn.execute(
                "SELECT u.*, s.user_id, s.expires_at, s.revoked_at FROM sessions s "
                "JOIN users u ON u.id = s.user_id WHERE s.id = ? AND u.id = ?",
                (session_id, user_id),
            ).fetchone(),
            runs,
        )
    finally:
        conn.close()
    return {
        "stdlib sqlite3, the two SELECTs (sync)": two,
        "stdlib sqlite3, one JOIN of session and user (sync)": join,
    }


def _bucket(frames: list[str]) -> str:
    for frame in reversed(frames):
        if any(skip in frame for skip in SKIPPED):
            continue
        for name, needles in BUCKETS:
            if any(needle in frame for needle in needles):
                return name
    return OTHER


def summarise_raw(path: Path) -> dict[str, Any]:
    """Shares of main-thread GIL samples per bucket, and the top frames."""
    buckets: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or "MainThread" not in stack.split(";", 1)[0]:
            continue
        n = int(count)
        frames = stack.split(";")[1:]
        total += n
        buckets[_bucket(frames)] += n
        for frame in dict.fromkeys(f.split(" (")[0] for f in frames):
            if frame not in ROOT_FRAMES:
                inclusive[frame] += n
    return {
        "main_thread_gil_samples": total,
        "buckets_pct": {k: round(v / total * 100, 1) for k, v in buckets.most_common()},
        "top_inclusive_pct": {
            k: round(v / total * 100, 1) for k, v in inclusive.most_common(60) if v / total > 0.02
        },
    }


def _cpu_ticks(pid: int) -> tuple[int, int]:
    utime = stime = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        utime, stime = utime + int(fields[11]), stime + int(fields[12])
    return utime, stime


def sampled(
    py_spy: str, seconds: int, backend: Backend, scratch: Path, out_dir: Path
) -> dict[str, Any]:
    """py-spy (GIL samples) on the real server under 64 connections of /users/me."""
    gen = LoadGenerator()
    workdir = scratch / "sampled"
    with (
        backend.fresh_store("profile", scratch) as store,
        ServerProcess("app-profile", APP, app_env(store.url, workdir / "data"), workdir) as server,
    ):
        account = create_account(server)
        spec = LoadSpec(
            server.base_url + ME_PATH, 64, seconds + 6, authorization=account.authorization
        )
        load = gen.start(spec)
        time.sleep(3)
        threads_seen: set[str] = set()
        ticks = os.sysconf("SC_CLK_TCK")
        before, started = _cpu_ticks(server.pid), time.monotonic()
        raw = out_dir / f"profile-{backend.name}.collapsed"
        spy = spawn(
            [
                py_spy,
                "record",
                "--pid",
                str(server.pid),
                "--duration",
                str(seconds),
                "--rate",
                "100",
                "--gil",
                "--threads",
                "--format",
                "raw",
                "--output",
                str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while spy.poll() is None and time.monotonic() - started < seconds + 30:
            threads_seen.update(p.name for p in Path(f"/proc/{server.pid}/task").iterdir())
            time.sleep(0.1)
        terminate(spy)
        after, elapsed = _cpu_ticks(server.pid), time.monotonic() - started
        result = load.result()
    user, system = (after[0] - before[0]) / ticks, (after[1] - before[1]) / ticks
    summary: dict[str, Any] = {
        "backend": backend.name,
        "load": result.to_dict(),
        "server_cores_used": round((user + system) / elapsed, 2),
        "server_system_time_share": round(system / (user + system), 2) if user + system else None,
        "threads_seen_during_profile": len(threads_seen),
    }
    if raw.exists():
        summary.update(summarise_raw(raw))
        with raw.open("rb") as source, gzip.open(f"{raw}.gz", "wb") as target:
            shutil.copyfileobj(source, target)
        raw.unlink()
        summary["stacks"] = f"{raw.name}.gz (collapsed stacks: gunzip, then speedscope.app)"
    return summary


WHATIF_VARIANTS = {
    "sqlite": ["", "pool", "join", "join,pool", "cache"],
    "postgres": ["", "pool", "autocommit", "join", "join,pool,autocommit", "cache"],
}


def _machine_ticks() -> tuple[int, int]:
    """Busy and total CPU ticks of the whole machine (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(fields[:8])
    return total - fields[3] - fields[4], total


def whatif(backend: Backend, seconds: int, scratch: Path) -> dict[str, Any]:
    """Throughput of /users/me with each proposed change applied from outside (whatif_app)."""
    from bench.scenarios import BARE_APP, base_env

    gen = LoadGenerator()
    out: dict[str, Any] = {"backend": backend.name, "seconds": seconds, "variants": {}}
    with ServerProcess("bare", BARE_APP, base_env(), scratch / "bare") as bare:
        url = bare.base_url + ME_PATH
        gen.run(LoadSpec(url, 64, 2, authorization="Bearer x"))
        bare.wait_idle()
        out["bare"] = gen.run(LoadSpec(url, 64, seconds, authorization="Bearer x")).to_dict()
    for variant in WHATIF_VARIANTS.get(backend.name, [""]):
        label = variant or "as is"
        workdir = scratch / f"whatif-{label.replace(',', '-')}"
        with backend.fresh_store("whatif", scratch) as store:
            env = app_env(store.url, workdir / "data", BENCH_WHATIF=variant)
            with ServerProcess("whatif", "bench.whatif_app:app", env, workdir) as server:
                account = create_account(server)
                url = server.base_url + ME_PATH
                gen.run(LoadSpec(url, 64, 2, authorization=account.authorization))
                server.wait_idle()
                cpu_before, machine_before = server.cpu_seconds(), _machine_ticks()
                result = gen.run(LoadSpec(url, 64, seconds, authorization=account.authorization))
                cpu = server.cpu_seconds() - cpu_before
                busy, total = (a - b for a, b in zip(_machine_ticks(), machine_before, strict=True))
        out["variants"][label] = {
            **result.to_dict(),
            "server_cores": round(cpu / result.duration_s, 2),
            "machine_busy_pct": round(busy / total * 100, 1) if total else None,
        }
    return out


def storm_whatif(backend: Backend, seconds: int, scratch: Path) -> dict[str, Any]:
    """Scenario 2 (probe alone, then beside 8 logging-in connections) as is and with ``nice``."""
    from bench.scenarios import RunConfig, run_storm

    gen = LoadGenerator()
    cfg = RunConfig.build(seconds, False, scratch, None)
    out: dict[str, Any] = {"backend": backend.name, "seconds": seconds, "variants": {}}
    for variant in ("", "nice"):
        label = variant or "as is"
        workdir = scratch / f"storm-{label.replace(' ', '-')}"
        with backend.fresh_store("storm", scratch) as store:
            env = app_env(store.url, workdir / "data", BENCH_WHATIF=variant)
            with ServerProcess("whatif", "bench.whatif_app:app", env, workdir) as server:
                out["variants"][label] = run_storm(gen, server, create_account(server), cfg)
    return out


def render(report: dict[str, Any]) -> str:
    """The human-readable profile.txt."""
    lines = [f"Profile of GET {ME_PATH}  ({report['date']})", ""]
    comps = report.get("components") or {}
    if comps:
        lines.append("Components, each timed alone in-process (microseconds per call):")
        lines.extend(f"  {v:10.1f} us  {k}" for k, v in comps.items())
        lines.append("")
    for spl in report.get("sampled", []):
        load = spl["load"]
        lines.append(
            f"Sampled under load on {spl['backend']}: {load['rps']:.0f} rps at "
            f"{load['connections']} connections ({load['tool']}), "
            f"p50 {load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms"
        )
        lines.append(
            f"  server used {spl['server_cores_used']} cores, "
            f"{(spl['server_system_time_share'] or 0) * 100:.0f}% of it in the kernel; "
            f"{spl['threads_seen_during_profile']} distinct threads seen"
        )
        if "buckets_pct" in spl:
            lines.append(
                f"  main-thread samples holding the GIL: {spl['main_thread_gil_samples']}, by area:"
            )
            lines.extend(f"    {v:5.1f}%  {k}" for k, v in spl["buckets_pct"].items())
            lines.append("  top frames (inclusive):")
            lines.extend(f"    {v:5.1f}%  {k}" for k, v in spl["top_inclusive_pct"].items())
        lines.append("")
    for run in report.get("whatif", []):
        bare_rps = run["bare"]["rps"]
        base = run["variants"].get("as is", {}).get("rps")
        lines.append(
            f"What-if on {run['backend']} (bench/whatif_app.py, 64 connections, "
            f"{run['seconds']} s each; bare app {bare_rps:,.0f} rps):"
        )
        for label, result in run["variants"].items():
            gain = f"x{result['rps'] / base:.2f}" if base else "-"
            lines.append(
                f"  {result['rps']:8,.0f} rps  {result['rps'] / bare_rps:6.1%} of bare  "
                f"{gain:>6} vs as-is  p50 {result['p50_ms']:6.1f} ms  "
                f"p99 {result['p99_ms']:6.1f} ms  errors {result['errors']}  "
                f"server {result.get('server_cores', 0):.2f} cores, "
                f"machine {result.get('machine_busy_pct', 0):.0f}% busy  {label}"
            )
        lines.append("")
    for run in report.get("storm_whatif", []):
        lines.append(f"Login storm what-if on {run['backend']} ({run['seconds']} s each):")
        for label, result in run["variants"].items():
            probe, logins = result["probe"], result["logins"]
            lines.append(
                f"  probe p99 idle {probe['idle']['p99_ms']:6.1f} ms, during storm "
                f"{probe['during_storm']['p99_ms']:6.1f} ms ({probe['p99_ratio']}x); "
                f"{logins['rps']:.1f} logins/s  {label}"
            )
        lines.append("")
    if report.get("sampled_skipped"):
        lines.append(f"Sampling skipped: {report['sampled_skipped']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run both views and write profile.json, profile.txt (and profile.collapsed)."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile_hot_path")
    parser.add_argument("--py-spy", default=shutil.which("py-spy"), help="py-spy executable")
    parser.add_argument("--seconds", type=int, default=15, help="sampling time (5..120)")
    parser.add_argument("--runs", type=int, default=2000, help="calls per component timing")
    parser.add_argument("--app-dir", type=Path, default=None, help="as in python -m bench")
    parser.add_argument(
        "--backend",
        action="append",
        choices=("sqlite", "postgres", "mongodb"),
        help="backends to sample (repeatable; default sqlite; postgres needs BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--parts",
        default="components,sampled,whatif",
        help="comma-separated subset of components,sampled,whatif,storm",
    )
    args = parser.parse_args(argv)
    if not 5 <= args.seconds <= 120:
        parser.error("--seconds must be 5..120")
    if args.app_dir is not None:
        use_app_dir(args.app_dir)
    install_cleanup_handlers()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    report: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    parts = {p.strip() for p in args.parts.split(",")}
    backends = available_backends(args.backend or ["sqlite"])
    try:
        if "components" in parts:
            report["components"] = asyncio.run(components(scratch / "components", args.runs))
        if "sampled" in parts and args.py_spy:
            report["sampled"] = [
                sampled(args.py_spy, args.seconds, backend, scratch, args.output_dir)
                for backend in backends
            ]
        elif "sampled" in parts:
            report["sampled_skipped"] = "py-spy not found (pip install py-spy; --py-spy PATH)"
        if "whatif" in parts:
            report["whatif"] = [whatif(backend, 10, scratch) for backend in backends]
        if "storm" in parts:
            report["storm_whatif"] = [storm_whatif(backend, 10, scratch) for backend in backends]
    except KeyboardInterrupt:
        return 130
    finally:
        terminate_all()
        shutil.rmtree(scratch, ignore_errors=True)
    (args.output_dir / "profile.json").write_text(json.dumps(report, indent=2) + "\n")
    text = render(report)
    (args.output_dir / "profile.txt").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
