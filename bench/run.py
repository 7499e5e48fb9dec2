"""Entry point: ``python -m bench`` (or ``python bench/run.py``).

Runs the scenarios against the app started as production runs it (uvicorn, uvloop,
httptools, one worker) and against a bare FastAPI app in the same run, then prints
one table and writes ``results.json`` and ``chart.png``. Every load targets
127.0.0.1 only, is bounded in time, and every child process is stopped on exit,
error or Ctrl-C. Nothing is installed here: see bench/requirements.txt.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py`: make `bench` and `app` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import report
from bench.backends import available_backends
from bench.load import LoadGenerator
from bench.procs import (
    REPO_ROOT,
    install_cleanup_handlers,
    terminate_all,
    use_app_dir,
)
from bench.scenarios import (
    RunConfig,
    argon2_rate,
    run_bare,
    run_listing,
    run_main_process,
)

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results"
PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "pydantic",
    "SQLAlchemy",
    "aiosqlite",
    "asyncpg",
    "pymongo",
    "PyJWT",
    "argon2-cffi",
    "pwdlib",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the app against a bare FastAPI app on this machine.",
    )
    parser.add_argument(
        "--duration",
        type=int,
        default=None,
        help="seconds of each load measurement (default 10; 2 with --quick)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: short loads, 10,000 listed users; writes to results/quick/",
    )
    parser.add_argument(
        "--scenarios",
        default="1,2,3,4",
        help="comma-separated subset of 1,2,3,4 (4 is measured during 1 and 2)",
    )
    parser.add_argument(
        "--backend",
        action="append",
        choices=("sqlite", "postgres", "mongodb"),
        help="run only this backend (repeatable; default: sqlite, plus postgres when "
        "BENCH_POSTGRES_URL and mongodb when BENCH_MONGODB_URL is set)",
    )
    parser.add_argument("--users", type=int, default=None, help="users seeded for scenario 3")
    parser.add_argument("--output-dir", type=Path, default=None, help="where results go")
    parser.add_argument(
        "--python-load",
        action="store_true",
        help="use the Python load generator even when wrk is installed",
    )
    parser.add_argument(
        "--app-dir",
        type=Path,
        default=None,
        help="benchmark the app package of another checkout or snapshot "
        "(e.g. `git archive HEAD app | tar -x -C DIR`); default: this repository",
    )
    parser.add_argument(
        "--app-label", default=None, help="recorded in results.json, e.g. the commit of --app-dir"
    )
    parser.add_argument(
        "--report-only",
        type=Path,
        default=None,
        metavar="RESULTS_JSON",
        help="measure nothing: print the table and redraw the chart of a results.json",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (logs)")
    args = parser.parse_args(argv)
    try:
        args.scenario_set = {int(s) for s in args.scenarios.split(",") if s.strip()}
    except ValueError:
        parser.error("--scenarios takes numbers such as 1,2,3,4")
    if not args.scenario_set or not args.scenario_set <= {1, 2, 3, 4}:
        parser.error("--scenarios takes a subset of 1,2,3,4")
    if args.duration is None:
        args.duration = 2 if args.quick else 10
    if not 1 <= args.duration <= 300:
        parser.error("--duration must be 1..300 seconds")
    if args.users is not None and not 100 <= args.users <= 1_000_000:
        parser.error("--users must be 100..1,000,000")
    if args.output_dir is None:
        args.output_dir = DEFAULT_OUTPUT / "quick" if args.quick else DEFAULT_OUTPUT
    return args


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) * 1024 / 1e9, 1)
    except OSError:
        pass
    return None


def loadavg() -> list[float]:
    """1, 5 and 15-minute load averages: other work on the machine skews every number."""
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return []


def _git(*args: str) -> str:
    git = shutil.which("git")
    if git is None:
        return ""
    proc = subprocess.run(  # noqa: S603 - fixed arguments
        [git, *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=10
    )
    return proc.stdout.strip()


def metadata(gen: LoadGenerator, args: argparse.Namespace) -> dict[str, Any]:
    """Machine, software and run settings, so a number can be traced to its conditions."""
    versions: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    import app  # the package being measured: record where it came from

    source = Path(app.__file__ or "").resolve().parent
    in_repo = source == REPO_ROOT / "app"
    return {
        "app_source": str(source),
        "app_label": args.app_label,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        # Uncommitted changes under app/ when the repository's own app was measured.
        "git_app_dirty": bool(_git("status", "--porcelain", "app")) if in_repo else None,
        "machine": {
            "nproc": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "memory_gb": _mem_total_gb(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "loadavg_at_start": loadavg(),
        "load_generator": gen.name,
        "load_generator_version": gen.version(),
        "server": "uvicorn --loop uvloop --http httptools --workers 1 --log-level warning",
        "duration_s": args.duration,
        "quick": args.quick,
        "scenarios": sorted(args.scenario_set),
        "versions": versions,
    }


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Every requested scenario on every backend; the raw results."""
    scenarios: set[int] = set(args.scenario_set)
    if 4 in scenarios and not scenarios & {1, 2}:
        _say("scenario 4 is measured during 1 and 2: running them too")
        scenarios |= {1, 2}
    backends = available_backends(args.backend)
    gen = LoadGenerator(prefer_wrk=not args.python_load)
    cfg = RunConfig.build(args.duration, args.quick, scratch, args.users)
    results: dict[str, Any] = {"meta": metadata(gen, args), "backends": {}}
    _say(f"load generator: {gen.name}; backends: {', '.join(b.name for b in backends)}")
    if 2 in scenarios:
        _say("argon2id hashing rate, one core, in-process")
        results["hashing"] = argon2_rate(2.0 if args.quick else 5.0)
    if 1 in scenarios or 4 in scenarios:
        _say("bare app: GET /api/v1/users/me at 64 and 256 connections")
        results["bare"] = run_bare(gen, cfg)
    start_load = results["meta"]["loadavg_at_start"]
    if start_load and start_load[0] > 1.0:
        _say(
            f"warning: load average {start_load[0]:.1f} before starting: other work on this "
            "machine will lower and scatter the numbers"
        )
    for backend in backends:
        data: dict[str, Any] = {}
        if 1 in scenarios:
            # The VM's speed drifts within minutes: each backend's ratio is taken
            # against a bare-app measurement made right before it.
            _say(f"{backend.name}: bare app again, right before scenario 1")
            data["bare_s1"] = run_bare(gen, cfg)
        if scenarios & {1, 2, 4}:
            _say(f"{backend.name}: scenarios {sorted(scenarios & {1, 2, 4})} on one app process")
            data.update(run_main_process(gen, backend, cfg, scenarios))
        if 3 in scenarios:
            _say(f"{backend.name}: scenario 3, seeding {cfg.listing_users:,} users")
            data["s3"] = run_listing(backend, cfg)
        results["backends"][backend.name] = data
    results["meta"]["loadavg_at_end"] = loadavg()
    return results


def report_only(path: Path) -> int:
    """Re-evaluate a saved results.json: table to stdout, chart.png beside it."""
    results = json.loads(path.read_text())
    results.pop("table", None)
    rows = report.evaluate(results)
    print(report.render_table(rows))
    if report.write_chart(results, path.with_name("chart.png")):
        print(f"chart:   {path.with_name('chart.png')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run, print the table, write results.json and chart.png; a missed target is not fatal."""
    args = parse_args(argv)
    if args.report_only is not None:
        return report_only(args.report_only)
    if args.app_dir is not None:
        use_app_dir(args.app_dir)
    install_cleanup_handlers()
    scratch = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        results = run(args, scratch)
    except KeyboardInterrupt:
        _say("interrupted; servers and load generators stopped")
        return 130
    finally:
        terminate_all()
        if args.keep:
            _say(f"scratch directory kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    rows = report.evaluate(results)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    report.write_json(results, rows, args.output_dir / "results.json")
    charted = report.write_chart(results, args.output_dir / "chart.png")
    print(report.render_table(rows))
    print()
    print(f"results: {args.output_dir / 'results.json'}")
    if charted:
        print(f"chart:   {args.output_dir / 'chart.png'}")
    else:
        print(
            "chart:   skipped (matplotlib is not installed: pip install -r bench/requirements.txt)"
        )
    missed = [row for row in rows if row.met is False]
    if missed:
        print(f"{len(missed)} target(s) not met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
