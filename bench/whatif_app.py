"""What-if builds of the app, for the profile only: one proposed change applied from outside.

``uvicorn bench.whatif_app:app`` with ``BENCH_WHATIF`` set to a comma-separated list:

* ``join``: the caller is resolved with one SELECT joining session and user (a
  prebuilt statement with bind parameters) instead of two repository lookups.
* ``pool``: SQLite keeps 8 pooled connections and opens no overflow ones (no
  connection and thread churn); PostgreSQL drops the pre-ping round trip on every
  checkout.
* ``autocommit``: PostgreSQL connections run in autocommit mode, so a read is one
  round trip without BEGIN and ROLLBACK (measured globally here; in the app it
  belongs on read-only connections only).
* ``cache``: a resolved caller is kept for one second per (session, user).
* ``nice``: the password-hashing threads run at a lower scheduling priority (nice
  10), so a login storm leaves the CPU to the event loop first.

Nothing here is a fix: it measures how much each fix would buy before anyone
writes it properly in app/. The app's code is not modified, only wrapped.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

VARIANTS = frozenset(v.strip() for v in os.environ.get("BENCH_WHATIF", "").split(",") if v.strip())
KNOWN = frozenset({"join", "pool", "autocommit", "cache", "nice"})
CACHE_SECONDS = 1.0

if VARIANTS - KNOWN:
    raise RuntimeError(f"unknown BENCH_WHATIF variants: {sorted(VARIANTS - KNOWN)}")


def _patch_engine_options() -> None:
    from app.db.engine import Database

    original = Database._engine_options

    def options(url: str) -> dict[str, Any]:
        opts = dict(original(url))
        if url.startswith("sqlite"):
            if "pool" in VARIANTS:
                # No overflow: requests wait for one of 8 pooled connections instead of
                # opening (thread, connect, PRAGMAs) and closing extra ones under load.
                opts.update(pool_size=8, max_overflow=0)
        else:
            if "pool" in VARIANTS:
                opts["pool_pre_ping"] = False
            if "autocommit" in VARIANTS:
                opts["isolation_level"] = "AUTOCOMMIT"
        return opts

    Database._engine_options = staticmethod(options)  # type: ignore[method-assign]


def _join_authenticate() -> Callable[[Any], Awaitable[Any]]:
    from sqlalchemy import bindparam, select

    from app.db.engine import Database
    from app.models.auth import Principal
    from app.models.errors import InvalidTokenError
    from app.repositories.sql.tables import sessions, users
    from app.repositories.sql.user_repository import SqlUserRepository

    statement = (
        select(users)
        .join(sessions, sessions.c.user_id == users.c.id)
        .where(
            sessions.c.id == bindparam("sid"),
            users.c.id == bindparam("uid"),
            sessions.c.revoked_at.is_(None),
            sessions.c.expires_at > bindparam("now", type_=sessions.c.expires_at.type),
            users.c.is_active.is_(True),
        )
    )

    async def authenticate(claims: Any) -> Any:
        params = {"sid": claims.session_id, "uid": claims.subject, "now": datetime.now(UTC)}
        async with Database.engine().connect() as conn:
            row = (await conn.execute(statement, params)).mappings().first()
        if row is None:
            raise InvalidTokenError()
        return Principal(user=SqlUserRepository._to_user(row), session_id=claims.session_id)

    return authenticate


def _cached(resolve: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
    cache: dict[tuple[str, str], tuple[float, Any]] = {}

    async def authenticate(claims: Any) -> Any:
        key = (claims.session_id, claims.subject)
        now = time.monotonic()
        hit = cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        principal = await resolve(claims)
        cache[key] = (now + CACHE_SECONDS, principal)
        return principal

    return authenticate


def _lower_priority() -> None:
    # Linux: a thread's nice value is set through its own thread id.
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def _nice_hashing(hasher: Any) -> None:
    old = hasher._executor
    hasher._executor = ThreadPoolExecutor(
        max_workers=old._max_workers,
        thread_name_prefix="password-hash-nice",
        initializer=_lower_priority,
    )
    old.shutdown(wait=False)


def build() -> Any:
    """The app from ``create_app()`` with the requested variants applied."""
    _patch_engine_options()
    from app.main import create_app

    application = create_app()
    service = application.state.container.auth_service
    resolve = _join_authenticate() if "join" in VARIANTS else service.authenticate
    if "cache" in VARIANTS:
        resolve = _cached(resolve)
    service.authenticate = resolve
    if "nice" in VARIANTS:
        _nice_hashing(application.state.container.hasher)
    return application


app = build()
