"""The four scenarios of the benchmark, plus the in-process argon2id hashing rate.

1. Authenticated ``GET /api/v1/users/me`` at 64 and 256 connections, next to the
   bare app's constant endpoint on the same path.
2. A login storm (8 connections posting the login form) while a paced probe measures
   ``/users/me`` latency on the same process, compared with the probe alone.
3. Listing at scale: 100,000 seeded users, offset (v1) versus cursor (v2) pages at
   increasing depth.
4. Peak resident memory of the app process during 1 and 2 (and of the bare app).
"""

from __future__ import annotations

import os
import secrets
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench.backends import Backend, user_rows
from bench.load import LoadGenerator, LoadResult, LoadSpec
from bench.procs import ServerProcess, child_pythonpath
from bench.stats import percentile

APP = "app.main:app"
BARE_APP = "bench.bare_app:app"
ME_PATH = "/api/v1/users/me"
LOGIN_PATH = "/api/v1/auth/login"
REGISTER_PATH = "/api/v1/auth/register"
FORM = "application/x-www-form-urlencoded"
CONNECTION_LEVELS = (64, 256)
STORM_CONNECTIONS = 8
PAGE_SIZE = 20


@dataclass(frozen=True)
class RunConfig:
    """How long and how big: the full run, or ``--quick`` for a smoke test."""

    duration_s: int
    warmup_s: int
    probe_connections: int
    probe_delay_ms: int
    listing_users: int
    listing_requests: int
    scratch: Path

    @classmethod
    def build(cls, duration_s: int, quick: bool, scratch: Path, users: int | None) -> RunConfig:
        """Durations and sizes from the command-line options."""
        return cls(
            duration_s=duration_s,
            warmup_s=1 if quick else 2,
            probe_connections=4,
            # Each probe connection waits 10 ms between requests: <= 400 requests/s in
            # all, a light load whose latency is the service time, not queueing.
            probe_delay_ms=10,
            listing_users=users or (10_000 if quick else 100_000),
            listing_requests=10 if quick else 50,
            scratch=scratch,
        )


def _settings_variables() -> set[str]:
    """Every environment variable the app's Settings read (names and aliases)."""
    from app.config.settings import Settings

    names: set[str] = set()
    for name, info in Settings.model_fields.items():
        names.add(name.upper())
        alias = info.validation_alias
        for choice in getattr(alias, "choices", ()):
            if isinstance(choice, str):
                names.add(choice.upper())
    return names


def base_env() -> dict[str, str]:
    """The orchestrator's environment without any app setting, plus the repo on the path."""
    drop = _settings_variables()
    env = {k: v for k, v in os.environ.items() if k.upper() not in drop}
    env["PYTHONPATH"] = child_pythonpath(env.get("PYTHONPATH"))
    return env


def app_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The app's settings for a benchmark: a fresh store, no worker, no rate limits."""
    env = base_env()
    env.update(
        ENVIRONMENT="development",
        DATABASE_URL=database_url,
        DATA_DIR=str(data_dir),
        EMAIL_WORKER_ENABLED="false",
        RATE_LIMIT_ENABLED="false",
        AUTH_REQUIRE_VERIFIED_EMAIL="false",
        # "logging at warning", as the server runs: no access line per request.
        LOG_LEVEL="warning",
        # Tokens must outlive the longest run; the TTL costs nothing per request.
        ACCESS_TOKEN_TTL_SECONDS="7200",
    )
    env.update(extra)
    return env


def bench_client(base_url: str) -> httpx.Client:
    """A plain HTTP/1.1 client for set-up calls; ignores proxy variables."""
    return httpx.Client(base_url=base_url, timeout=30.0, trust_env=False)


def login(client: httpx.Client, email: str, password: str) -> str:
    """Log in with the OAuth2 password form; the access token."""
    response = client.post(
        LOGIN_PATH, data={"username": email, "password": password}, headers={"Content-Type": FORM}
    )
    if response.status_code != 200:
        raise RuntimeError(f"login failed: {response.status_code} {response.text}")
    token: str = response.json()["access_token"]
    return token


@dataclass(frozen=True)
class Account:
    """The user the load runs as."""

    email: str
    password: str
    token: str

    @property
    def authorization(self) -> str:
        """The Authorization header value."""
        return f"Bearer {self.token}"


def create_account(server: ServerProcess) -> Account:
    """Register a user through the API and log in."""
    email = f"bench-{secrets.token_hex(4)}@example.com"
    password = "Bench-" + secrets.token_urlsafe(18)
    with bench_client(server.base_url) as client:
        response = client.post(
            REGISTER_PATH, json={"email": email, "password": password, "full_name": "Bench User"}
        )
        if response.status_code != 201:
            raise RuntimeError(f"register failed: {response.status_code} {response.text}")
        token = login(client, email, password)
        check = client.get(ME_PATH, headers={"Authorization": f"Bearer {token}"})
        if check.status_code != 200:
            raise RuntimeError(f"GET {ME_PATH} failed: {check.status_code} {check.text}")
    return Account(email=email, password=password, token=token)


def measure_me(
    gen: LoadGenerator, server: ServerProcess, authorization: str, cfg: RunConfig
) -> dict[str, LoadResult]:
    """``GET /users/me`` at each connection level after a short warm-up."""
    url = server.base_url + ME_PATH
    gen.run(LoadSpec(url, CONNECTION_LEVELS[0], cfg.warmup_s, authorization=authorization))
    results = {}
    for connections in CONNECTION_LEVELS:
        server.wait_idle()
        spec = LoadSpec(url, connections, cfg.duration_s, authorization=authorization)
        results[f"c{connections}"] = gen.run(spec)
    server.wait_idle()
    return results


def run_bare(gen: LoadGenerator, cfg: RunConfig) -> dict[str, Any]:
    """The ceiling: the bare app's constant ``/api/v1/users/me`` (same header sent)."""
    server = ServerProcess("bare", BARE_APP, base_env(), cfg.scratch / "bare")
    with server:
        results = measure_me(gen, server, "Bearer not-checked", cfg)
        return {
            **{key: value.to_dict() for key, value in results.items()},
            "peak_rss_mb": server.peak_rss_mb(),
        }


def argon2_rate(seconds: float) -> dict[str, Any]:
    """argon2id hashes per second on one core, in-process, at the app's parameters."""
    from pwdlib.hashers.argon2 import Argon2Hasher

    from app.utils.password_hasher import (
        ARGON2_MEMORY_KIB,
        ARGON2_PARALLELISM,
        ARGON2_TIME_COST,
    )

    hasher = Argon2Hasher(
        memory_cost=ARGON2_MEMORY_KIB, time_cost=ARGON2_TIME_COST, parallelism=ARGON2_PARALLELISM
    )
    password = "Bench-" + secrets.token_urlsafe(18)
    hashed = hasher.hash(password)
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        hasher.verify(password, hashed)  # what a login costs: one argon2id computation
        count += 1
    return {
        "hashes_per_s": round(count / elapsed, 2),
        "ms_per_hash": round(elapsed / count * 1000, 2),
        "memory_kib": ARGON2_MEMORY_KIB,
        "time_cost": ARGON2_TIME_COST,
        "parallelism": ARGON2_PARALLELISM,
        "threads": 1,
    }


def run_storm(
    gen: LoadGenerator, server: ServerProcess, account: Account, cfg: RunConfig
) -> dict[str, Any]:
    """Scenario 2: the paced ``/users/me`` probe alone, then beside 8 concurrent logins."""
    probe = LoadSpec(
        server.base_url + ME_PATH,
        cfg.probe_connections,
        cfg.duration_s,
        authorization=account.authorization,
        delay_ms=cfg.probe_delay_ms,
    )
    storm = LoadSpec(
        server.base_url + LOGIN_PATH,
        STORM_CONNECTIONS,
        cfg.duration_s,
        method="POST",
        body=urlencode({"username": account.email, "password": account.password}),
        content_type=FORM,
        timeout_s=30,
    )
    server.wait_idle()
    idle = gen.run(probe)
    server.wait_idle()
    storm_run = gen.start(storm)
    probe_run = gen.start(probe)
    during = probe_run.result()
    logins = storm_run.result()
    server.wait_idle()
    return {
        "probe": {
            "connections": cfg.probe_connections,
            "delay_ms": cfg.probe_delay_ms,
            "idle": idle.to_dict(),
            "during_storm": during.to_dict(),
            "p99_ratio": round(during.p99_ms / idle.p99_ms, 2) if idle.p99_ms else None,
        },
        "logins": logins.to_dict(),
    }


def run_main_process(
    gen: LoadGenerator, backend: Backend, cfg: RunConfig, scenarios: set[int]
) -> dict[str, Any]:
    """Scenarios 1, 2 and 4 on one app process over a fresh store."""
    out: dict[str, Any] = {}
    with backend.fresh_store("main", cfg.scratch / backend.name) as store:
        workdir = cfg.scratch / backend.name / "main"
        env = app_env(store.url, workdir / "data")
        with ServerProcess(f"app-{backend.name}", APP, env, workdir) as server:
            account = create_account(server)
            out["startup_rss_mb"] = server.peak_rss_mb()
            if 1 in scenarios:
                results = measure_me(gen, server, account.authorization, cfg)
                out["s1"] = {key: value.to_dict() for key, value in results.items()}
                out["peak_rss_after_s1_mb"] = server.peak_rss_mb()
            if 2 in scenarios:
                out["s2"] = run_storm(gen, server, account, cfg)
                out["peak_rss_after_s2_mb"] = server.peak_rss_mb()
            out["s4"] = {"peak_rss_mb": server.peak_rss_mb()}
    return out


def _time_page(
    client: httpx.Client, path: str, params: dict[str, Any], requests: int
) -> dict[str, Any]:
    latencies: list[float] = []
    for i in range(requests + 3):  # three warm-up requests first
        start = time.perf_counter()
        response = client.get(path, params=params)
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} {params}: {response.status_code} {response.text}")
        items = response.json()["items"]
        if len(items) != PAGE_SIZE:
            raise RuntimeError(f"GET {path} {params}: {len(items)} items, not {PAGE_SIZE}")
        if i >= 3:
            latencies.append(elapsed * 1000)
    return {
        "median_ms": round(statistics.median(latencies), 3),
        "p90_ms": round(percentile(latencies, 90), 3),
        "min_ms": round(min(latencies), 3),
        "requests": requests,
    }


def run_listing(backend: Backend, cfg: RunConfig) -> dict[str, Any]:
    """Scenario 3: seed users, then time v1 offset and v2 cursor pages at three depths."""
    from pwdlib.hashers.argon2 import Argon2Hasher

    from app.controllers.admin_user_controller import encode_cursor

    count = cfg.listing_users
    depths = [0, count // 10, count * 9 // 10]
    # One cheap hash shared by every seeded row: nobody logs in as them.
    shared_hash = Argon2Hasher(memory_cost=64, time_cost=1).hash(secrets.token_urlsafe(16))
    admin_email = "bench-admin@example.com"
    admin_password = "Bench-" + secrets.token_urlsafe(18)
    with backend.fresh_store("listing", cfg.scratch / backend.name) as store:
        start = time.perf_counter()
        rows = user_rows(count, shared_hash)
        backend.seed_users(store, rows)
        seed_s = time.perf_counter() - start
        workdir = cfg.scratch / backend.name / "listing"
        env = app_env(
            store.url,
            workdir / "data",
            FIRST_SUPERUSER_EMAIL=admin_email,
            FIRST_SUPERUSER_PASSWORD=admin_password,
        )
        pages: dict[str, dict[str, Any]] = {"v1_offset": {}, "v2_cursor": {}}
        with (
            ServerProcess(f"app-{backend.name}-listing", APP, env, workdir) as server,
            bench_client(server.base_url) as client,
        ):
            token = login(client, admin_email, admin_password)
            client.headers["Authorization"] = f"Bearer {token}"
            for depth in depths:
                pages["v1_offset"][str(depth)] = _time_page(
                    client,
                    "/api/v1/users",
                    {"limit": PAGE_SIZE, "offset": depth},
                    cfg.listing_requests,
                )
                params: dict[str, Any] = {"limit": PAGE_SIZE}
                if depth:
                    # The cursor of depth N names the N-th user in id order.
                    before = client.get("/api/v1/users", params={"limit": 1, "offset": depth - 1})
                    params["cursor"] = encode_cursor(before.json()["items"][0]["id"])
                pages["v2_cursor"][str(depth)] = _time_page(
                    client, "/api/v2/users", params, cfg.listing_requests
                )
    v2 = pages["v2_cursor"]
    deepest, first = v2[str(depths[-1])]["median_ms"], v2["0"]["median_ms"]
    return {
        "users": count,
        "depths": depths,
        "seed_seconds": round(seed_s, 2),
        "page_size": PAGE_SIZE,
        **pages,
        "v2_deep_ratio": round(deepest / first, 2) if first else None,
    }
