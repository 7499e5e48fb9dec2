"""``python -m app create-superuser`` run as a real process on a temporary SQLite file."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest

from app.main import create_app
from tests.conftest import SettingsFactory

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EMAIL = "cli-admin@example.com"
PASSWORD = "cli-password-123"
TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Cli:
    workdir: Path
    database: Path
    database_url: str
    env: dict[str, str]

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "-m", "app", *args],
            cwd=self.workdir,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    database = tmp_path / "cli.db"
    database_url = f"sqlite+aiosqlite:///{database}"
    # Only what the process needs: no settings leak in from the developer's environment,
    # and the cwd has no .env file.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(PROJECT_ROOT),
        "DATABASE_URL": database_url,
        "DATA_DIR": str(tmp_path / "data"),
        "ENVIRONMENT": "test",
    }
    return Cli(workdir, database, database_url, env)


def test_create_superuser_then_again_reports_it_exists(cli: Cli) -> None:
    first = cli.run("create-superuser", "--email", EMAIL, "--password", PASSWORD)
    assert first.returncode == 0, first.stderr
    assert f"Created superuser {EMAIL}" in first.stdout
    assert cli.database.exists()

    second = cli.run("create-superuser", "--email", EMAIL.upper(), "--password", PASSWORD)
    assert second.returncode == 1, second.stderr
    assert "already exists" in second.stdout


@pytest.mark.parametrize("email", ["not-an-email", "a@", "x y@example.com"])
def test_invalid_email_exits_2_and_touches_nothing(cli: Cli, email: str) -> None:
    result = cli.run("create-superuser", "--email", email, "--password", PASSWORD)
    assert result.returncode == 2
    assert "not a valid email" in result.stderr
    assert not cli.database.exists()


@pytest.mark.parametrize("password", ["short77", "p" * 129])
def test_password_out_of_bounds_exits_2_and_touches_nothing(cli: Cli, password: str) -> None:
    result = cli.run("create-superuser", "--email", EMAIL, "--password", password)
    assert result.returncode == 2
    assert "8 to 128 characters" in result.stderr
    assert password not in result.stderr
    assert not cli.database.exists()


def test_missing_email_is_a_usage_error(cli: Cli) -> None:
    result = cli.run("create-superuser", "--password", PASSWORD)
    assert result.returncode == 2
    assert "--email" in result.stderr


def test_invalid_settings_exit_2_with_the_setting_named(cli: Cli) -> None:
    # Regression: app/__main__.py used to import app.main, whose module-level
    # `app = create_app()` raised ConfigurationError at import (traceback, exit 1).
    result = cli.run(
        "create-superuser", "--email", EMAIL, "--password", PASSWORD, DATABASE_URL="not-a-url"
    )
    assert result.returncode == 2, result.stderr
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


async def test_created_superuser_can_log_in_as_superadmin(
    cli: Cli, make_settings: SettingsFactory
) -> None:
    result = cli.run("create-superuser", "--email", EMAIL, "--password", PASSWORD)
    assert result.returncode == 0, result.stderr

    settings = make_settings(
        database_url=cli.database_url, first_superuser_email=None, first_superuser_password=None
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            login = await http.post(
                "/api/v1/auth/login", data={"username": EMAIL, "password": PASSWORD}
            )
            assert login.status_code == 200, login.text
            token = login.json()["access_token"]
            me = await http.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
            wrong = await http.post(
                "/api/v1/auth/login", data={"username": EMAIL, "password": PASSWORD + "x"}
            )

    assert me.status_code == 200, me.text
    profile = me.json()
    assert profile["email"] == EMAIL
    assert profile["role"] == "superadmin"
    assert profile["permissions"] == ["root:admin"]
    assert profile["is_verified"] is True
    assert profile["is_active"] is True
    assert jwt.decode(token, options={"verify_signature": False})["role"] == "superadmin"
    assert wrong.status_code == 401
