"""Shared fixtures: settings on a fresh SQLite file, the app with its lifespan, a client."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from app.utils.keys import KeyRing, generate_private_key, private_pem, public_pem
from tests.smtp_server import smtp_server  # noqa: F401 - a fixture for every test package

SUPERUSER_EMAIL = "root@example.com"
SUPERUSER_PASSWORD = "superadmin-passphrase-42"
DEFAULT_PASSWORD = "correct-horse-battery"


@dataclass(frozen=True)
class KeyPems:
    access_private: str
    access_public: str
    refresh_private: str
    refresh_public: str

    def ring(
        self,
        data_dir: Path,
        access_previous: tuple[str, ...] = (),
        refresh_previous: tuple[str, ...] = (),
    ) -> KeyRing:
        """A key ring configured with these keys, not loaded yet."""
        return KeyRing(
            access_private=self.access_private,
            access_public=self.access_public,
            refresh_private=self.refresh_private,
            refresh_public=self.refresh_public,
            data_dir=data_dir,
            access_previous=access_previous,
            refresh_previous=refresh_previous,
        )


@pytest.fixture(scope="session")
def key_pems() -> KeyPems:
    """RSA keys are slow to generate, so one set serves the whole run."""
    access, refresh = generate_private_key(), generate_private_key()
    return KeyPems(
        access_private=private_pem(access).decode(),
        access_public=public_pem(access.public_key()).decode(),
        refresh_private=private_pem(refresh).decode(),
        refresh_public=public_pem(refresh.public_key()).decode(),
    )


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str, key_pems: KeyPems) -> SettingsFactory:
    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "_env_file": None,
            "environment": "test",
            "database_url": database_url,
            "data_dir": tmp_path / "data",
            "access_token_private_key": key_pems.access_private,
            "access_token_public_key": key_pems.access_public,
            "refresh_token_private_key": key_pems.refresh_private,
            "refresh_token_public_key": key_pems.refresh_public,
            "first_superuser_email": SUPERUSER_EMAIL,
            "first_superuser_password": SUPERUSER_PASSWORD,
            "password_hash_concurrency": 2,
            # Cheap hashing keeps the suite fast; tests of the hasher use the defaults.
            "argon2_memory_kib": 1024,
            "argon2_time_cost": 1,
            "secret_key": "test-secret-key-with-at-least-32-characters",
            # Email tests turn these on; the rest test accounts without the mail flow.
            "auth_require_verified_email": False,
            "email_worker_enabled": False,
            # Security tests turn rate limits on; elsewhere one test IP registers a lot.
            "rate_limit_enabled": False,
        }
        values.update(overrides)
        return Settings(**values)

    return factory


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


TEST_CLIENT_ADDRESS = ("203.0.113.7", 50000)


def client_of(app: FastAPI) -> httpx.AsyncClient:
    """An HTTP client that talks to ``app`` in-process, from a documentation address."""
    transport = httpx.ASGITransport(app=app, client=TEST_CLIENT_ADDRESS)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app built from ``settings``, started, and a client of it; stopped on exit."""
    application = create_app(settings)
    async with application.router.lifespan_context(application), client_of(application) as http:
        yield application, http


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(app) as http:
        yield http


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per distinct skip reason, instead of one per skipped test."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in sorted(reasons.items()):
        terminalreporter.write_line(f"skipped {count}: {reason}")
