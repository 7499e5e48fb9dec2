"""``python -m app ...`` run as a real process on a temporary SQLite file and DATA_DIR."""

import asyncio
import os
import shlex
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.cli import main
from app.config import Settings
from app.container import build_container, build_storage
from app.main import create_app
from app.models.email import EmailKind, OutboxMessage, OutboxStatus
from app.utils.clock import SystemClock
from app.utils.ids import new_id
from app.utils.jwt_codec import JwtTokenCodec
from app.utils.keys import generate_private_key, public_pem, thumbprint
from tests.api.helpers import login, register
from tests.conftest import DEFAULT_PASSWORD, KeyPems, SettingsFactory, running
from tests.smtp_server import free_port

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
        return self.run_with_input(None, *args, **env)

    def run_with_input(
        self, stdin: str | None, *args: str, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "-m", "app", *args],
            cwd=self.workdir,
            env={**self.env, **env},
            input=stdin,
            # Without input, stdin is empty rather than the terminal running pytest, and
            # a new session has no controlling terminal: a prompt reads stdin, never hangs.
            stdin=subprocess.DEVNULL if stdin is None else None,
            start_new_session=True,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )

    @property
    def data_dir(self) -> Path:
        return Path(self.env["DATA_DIR"])


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


def test_password_is_prompted_for_when_omitted(cli: Cli) -> None:
    result = cli.run_with_input(PASSWORD + "\n", "create-superuser", "--email", EMAIL)

    assert result.returncode == 0, result.stderr
    assert f"Created superuser {EMAIL}" in result.stdout
    assert "Password:" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_no_password_at_the_prompt_exits_2_and_creates_no_account(cli: Cli) -> None:
    result = cli.run("create-superuser", "--email", EMAIL)

    assert result.returncode == 2
    assert "No password was entered" in result.stderr
    # The command looks the email up (migrating the file) before it asks for a password.
    assert stored_account(cli, EMAIL) is None


def test_password_out_of_bounds_at_the_prompt_exits_2_and_creates_no_account(cli: Cli) -> None:
    result = cli.run_with_input("short77\n", "create-superuser", "--email", EMAIL)

    assert result.returncode == 2
    assert "8 to 128 characters" in result.stderr
    assert stored_account(cli, EMAIL) is None


# --- create-superuser on an existing account: the way back in --------------------------

OPERATOR_EMAIL = "operator@example.com"


def stored_account(cli: Cli, email: str) -> tuple[str, bool, bool, str] | None:
    """(role, is_active, is_verified, hashed_password) of the account, read from the file."""
    if not cli.database.exists():
        return None
    with sqlite3.connect(cli.database) as connection:
        row = connection.execute(
            "SELECT role, is_active, is_verified, hashed_password FROM users WHERE email = ?",
            (email,),
        ).fetchone()
    if row is None:
        return None
    return row[0], bool(row[1]), bool(row[2]), row[3]


async def add_disabled_user(cli: Cli, make_settings: SettingsFactory, email: str) -> None:
    """A plain, unverified account nobody can sign in with: no superadmin is left."""
    settings = make_settings(
        database_url=cli.database_url, first_superuser_email=None, first_superuser_password=None
    )
    async with running(settings) as (_, http):
        await register(http, email)
    with sqlite3.connect(cli.database) as connection:
        connection.execute("UPDATE users SET is_active = 0 WHERE email = ?", (email,))


async def test_create_superuser_promotes_an_existing_account_once_confirmed(
    cli: Cli, make_settings: SettingsFactory
) -> None:
    await add_disabled_user(cli, make_settings, OPERATOR_EMAIL)
    before = stored_account(cli, OPERATOR_EMAIL)
    assert before is not None

    result = cli.run_with_input("y\n", "create-superuser", "--email", OPERATOR_EMAIL)

    assert result.returncode == 0, result.stderr
    assert f"Promoted {OPERATOR_EMAIL}" in result.stdout
    assert "(user, disabled)" in result.stderr
    assert "Password:" not in result.stderr
    assert stored_account(cli, OPERATOR_EMAIL) == ("superadmin", True, True, before[3])
    # It signs in with its own password, as a superadmin that sees its promotion audited.
    settings = make_settings(
        database_url=cli.database_url, first_superuser_email=None, first_superuser_password=None
    )
    async with running(settings) as (_, http):
        operator = await login(http, OPERATOR_EMAIL, DEFAULT_PASSWORD)
        audit = await http.get(
            "/api/v1/admin/audit", params={"user_id": operator.user_id}, headers=operator.headers
        )
    assert audit.status_code == 200, audit.text
    changes = {
        entry["event"]: (entry["actor_id"], entry["details"])
        for entry in audit.json()["items"]
        if entry["event"] in ("role_changed", "status_changed")
    }
    assert changes == {
        "role_changed": (None, {"from": "user", "to": "superadmin", "by": "operator"}),
        "status_changed": (None, {"is_active": "true", "by": "operator"}),
    }


@pytest.mark.parametrize("answer", [None, "n\n", "\n"], ids=["no-input", "no", "default"])
def test_create_superuser_changes_nothing_unless_the_promotion_is_confirmed(
    cli: Cli, make_settings: SettingsFactory, answer: str | None
) -> None:
    asyncio.run(add_disabled_user(cli, make_settings, OPERATOR_EMAIL))
    before = stored_account(cli, OPERATOR_EMAIL)

    result = cli.run_with_input(answer, "create-superuser", "--email", OPERATOR_EMAIL)

    assert result.returncode == 1, result.stderr
    assert "Make it an active, verified superadmin?" in result.stderr
    assert "Nothing changed." in result.stderr
    assert stored_account(cli, OPERATOR_EMAIL) == before


def test_create_superuser_yes_promotes_without_asking_and_keeps_the_password(
    cli: Cli, make_settings: SettingsFactory
) -> None:
    asyncio.run(add_disabled_user(cli, make_settings, OPERATOR_EMAIL))
    before = stored_account(cli, OPERATOR_EMAIL)
    assert before is not None

    result = cli.run("create-superuser", "--email", OPERATOR_EMAIL, "--password", PASSWORD, "--yes")

    assert result.returncode == 0, result.stderr
    assert "Make it an active" not in result.stderr
    assert "--password is not used" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert stored_account(cli, OPERATOR_EMAIL) == ("superadmin", True, True, before[3])


# --- help ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["create-superuser"],
        ["migrate"],
        ["serve"],
        ["keys"],
        ["keys", "generate"],
        ["keys", "rotate"],
        ["outbox"],
        ["outbox", "retry-failed"],
    ],
    ids=lambda command: " ".join(command) or "root",
)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*command, "--help"])

    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith(" ".join(["Usage: python -m app", *command]))
    assert "--help" in out


def test_help_as_a_process_lists_every_command(cli: Cli) -> None:
    result = cli.run("--help")

    assert result.returncode == 0, result.stderr
    for command in ("create-superuser", "migrate", "serve", "keys", "outbox"):
        assert command in result.stdout


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


# --- migrate -------------------------------------------------------------------------


def sqlite_tables(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def sqlite_revision(database: Path) -> str:
    with sqlite3.connect(database) as connection:
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert isinstance(revision, str)
    return revision


async def test_migrate_creates_the_schema_then_the_app_starts_on_it(
    cli: Cli, make_settings: SettingsFactory
) -> None:
    result = cli.run("migrate")

    assert result.returncode == 0, result.stderr
    assert "newest migration" in result.stdout
    assert {"alembic_version", "users", "sessions"} <= sqlite_tables(cli.database)
    revision = sqlite_revision(cli.database)
    again = cli.run("migrate")
    assert again.returncode == 0, again.stderr
    assert sqlite_revision(cli.database) == revision

    app = create_app(make_settings(database_url=cli.database_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            ready = await http.get("/ready")
    assert ready.status_code == 200, ready.text
    assert sqlite_revision(cli.database) == revision


def test_migrate_with_invalid_settings_exits_2_naming_the_setting(cli: Cli) -> None:
    result = cli.run("migrate", DATABASE_URL="not-a-url")

    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


# --- outbox retry-failed -------------------------------------------------------------


def use_cli_settings(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Give in-process commands the settings ``cli`` gives its processes."""
    monkeypatch.chdir(cli.workdir)
    for name in ("DATABASE_URL", "DATA_DIR", "ENVIRONMENT"):
        monkeypatch.setenv(name, cli.env[name])


async def failed_twice_and_sent_once(settings: Settings) -> tuple[list[str], str]:
    """Three queued emails the worker claimed: it gave up on two and sent one."""
    storage = build_storage(settings)
    await storage.open()
    try:
        now = SystemClock().now()
        messages = [
            OutboxMessage(
                id=new_id(),
                kind=EmailKind.WELCOME,
                recipient=f"user{i}@example.com",
                subject="Welcome",
                text_body="Hello",
                html_body="<p>Hello</p>",
                status=OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
            )
            for i in range(3)
        ]
        for message in messages:
            await storage.outbox.add(message)
        claimed = await storage.outbox.claim("worker-1", now, now.replace(year=now.year + 1), 10)
        assert len(claimed) == 3
        first, second, sent = (message.id for message in messages)
        assert await storage.outbox.mark_failed(first, "worker-1", "550 no such user", now)
        assert await storage.outbox.mark_failed(second, "worker-1", "550 no such user", now)
        assert await storage.outbox.mark_sent(sent, "worker-1", now)
    finally:
        await storage.close()
    return [first, second], sent


def outbox_rows(database: Path) -> dict[str, tuple[str, int, str | None, str | None]]:
    """Status, attempts, lease owner and last error of each message, straight from SQLite."""
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT id, status, attempts, lease_owner, last_error FROM outbox_messages"
        )
        return {row[0]: row[1:] for row in rows}


def test_outbox_retry_failed_requeues_what_the_worker_gave_up_on(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_cli_settings(cli, monkeypatch)
    settings = Settings(_env_file=None, database_url=cli.database_url, data_dir=cli.data_dir)
    (first, second), sent = asyncio.run(failed_twice_and_sent_once(settings))
    gave_up = ("failed", 1, None, "550 no such user")
    requeued = ("pending", 0, None, "550 no such user")
    before = outbox_rows(cli.database)
    assert before[first] == before[second] == gave_up

    assert main(["outbox", "retry-failed", "--dry-run"]) == 0
    assert "Would requeue 2 failed messages" in capsys.readouterr().out
    assert outbox_rows(cli.database) == before

    missing = new_id()
    code = main(["outbox", "retry-failed", "--id", first, "--id", sent, "--id", missing])

    output = capsys.readouterr()
    assert code == 1
    assert "Requeued 1 failed message;" in output.out
    assert f"Skipped {sent}: sent, not failed." in output.err
    assert f"Skipped {missing}: no such message." in output.err
    rows = outbox_rows(cli.database)
    assert rows[first] == requeued
    assert rows[second] == gave_up
    assert rows[sent] == before[sent]

    assert main(["outbox", "retry-failed"]) == 0
    assert "Requeued 1 failed message;" in capsys.readouterr().out
    assert outbox_rows(cli.database)[second] == requeued
    assert main(["outbox", "retry-failed"]) == 0
    assert "No failed messages; nothing requeued." in capsys.readouterr().out
    assert outbox_rows(cli.database) == {**before, first: requeued, second: requeued}


def test_outbox_retry_failed_with_invalid_settings_exits_2(cli: Cli) -> None:
    result = cli.run("outbox", "retry-failed", DATABASE_URL="not-a-url")

    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert not cli.database.exists()


# --- serve ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--workers", "0"], {}, "WORKERS"),
        (["--port", "70000"], {}, "PORT"),
        ([], {"DATABASE_URL": "not-a-url"}, "DATABASE_URL"),
        ([], {"ENVIRONMENT": "production"}, "Refusing to start in production"),
        (
            [],
            {"ACCESS_TOKEN_PRIVATE_KEY": "/nonexistent.pem", "ACCESS_TOKEN_PUBLIC_KEY": "/x.pem"},
            "ACCESS_TOKEN_PRIVATE_KEY",
        ),
    ],
    ids=["workers", "port", "database-url", "production", "keys"],
)
def test_serve_refuses_invalid_settings_before_starting(
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    use_cli_settings(cli, monkeypatch)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    code = main(["serve", "--port", str(free_port()), *args])

    assert code == 2
    assert message in capsys.readouterr().err
    assert not cli.database.exists()


def worker_processes(parent: int) -> list[int]:
    """The multiprocessing workers among the children of ``parent``, from /proc."""
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name in parentheses may hold spaces; the fields after it do not.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # exited meanwhile
        # Besides its workers, uvicorn's parent runs multiprocessing's resource tracker.
        if int(fields[1]) == parent and b"spawn_main" in cmdline:
            workers.append(int(entry.name))
    return workers


def test_serve_runs_workers_and_stops_cleanly_on_sigterm(
    cli: Cli, configured_env: dict[str, str]
) -> None:
    port = free_port()
    log = cli.workdir / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "-m", "app", "serve", "--workers", "2", "--port", str(port)],
            cwd=cli.workdir,
            env={**cli.env, **configured_env, "SECRET_KEY": "s" * 40},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + TIMEOUT_SECONDS
        health = None
        while health is None or health.status_code != 200:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
            except httpx.TransportError:
                continue
        workers = worker_processes(server.pid)

        assert health.json() == {"status": "ok"}
        assert "server" not in health.headers
        assert len(workers) == 2, workers
        # Two workers with per-process rate limit counters: the operator is told.
        assert "RATE_LIMIT_STORAGE_URL=memory://" in log.read_text()

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=15) == 0, log.read_text()
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# --- keys generate -------------------------------------------------------------------

KEY_FILES = ["access_private.pem", "access_public.pem", "refresh_private.pem", "refresh_public.pem"]


def env_lines(output: str) -> dict[str, str]:
    """The ``NAME=value`` lines of a command's output, unquoted as a shell would."""
    values = {}
    for line in output.splitlines():
        name, sep, value = line.partition("=")
        if sep and name and name.replace("_", "").isalnum() and name.isupper():
            values[name] = " ".join(shlex.split(value))
    return values


def assert_no_private_key_material(text: str, *private_files: Path) -> None:
    assert "PRIVATE KEY" not in text
    for path in private_files:
        body = path.read_text().splitlines()[1:-1]
        assert body
        assert not any(line in text for line in body)


def load_rsa_pair(private_path: Path, public_path: Path) -> str:
    """Check the two files form one RSA pair; return its kid."""
    private = serialization.load_pem_private_key(private_path.read_bytes(), None)
    public = serialization.load_pem_public_key(public_path.read_bytes())
    assert isinstance(private, rsa.RSAPrivateKey)
    assert isinstance(public, rsa.RSAPublicKey)
    assert private.public_key().public_numbers() == public.public_numbers()
    assert public.key_size >= 2048
    return thumbprint(public)


def settings_from_output(output: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {name.lower(): value for name, value in env_lines(output).items()}
    values.update(overrides)
    return Settings(_env_file=None, environment="test", data_dir=data_dir, **values)


def test_keys_generate_writes_pem_pairs_and_prints_the_env_lines(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "generated"

    result = cli.run("keys", "generate", "--out", str(out))

    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == KEY_FILES
    for prefix in ("access", "refresh"):
        private, public = out / f"{prefix}_private.pem", out / f"{prefix}_public.pem"
        kid = load_rsa_pair(private, public)
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
        assert f"# {prefix}_token key, kid {kid}" in result.stdout
    assert env_lines(result.stdout) == {
        "ACCESS_TOKEN_PRIVATE_KEY": str(out / "access_private.pem"),
        "ACCESS_TOKEN_PUBLIC_KEY": str(out / "access_public.pem"),
        "REFRESH_TOKEN_PRIVATE_KEY": str(out / "refresh_private.pem"),
        "REFRESH_TOKEN_PUBLIC_KEY": str(out / "refresh_public.pem"),
    }
    assert_no_private_key_material(
        result.stdout + result.stderr, out / "access_private.pem", out / "refresh_private.pem"
    )


def test_the_printed_env_lines_configure_the_app(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "generated"
    result = cli.run("keys", "generate", "--out", str(out))
    assert result.returncode == 0, result.stderr
    env_file = tmp_path / "generated.env"
    env_file.write_text(result.stdout)

    settings = Settings(_env_file=env_file, environment="production", data_dir=tmp_path / "d")
    container = build_container(settings)
    container.keys.load()
    container.hasher.close()

    assert settings.has_configured_keys
    assert container.keys.access.current.kid == load_rsa_pair(
        out / "access_private.pem", out / "access_public.pem"
    )
    assert not (tmp_path / "d").exists()  # no development keys were generated


def test_keys_generate_refuses_to_overwrite_without_force(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "generated"
    assert cli.run("keys", "generate", "--out", str(out)).returncode == 0
    before = {name: (out / name).read_bytes() for name in KEY_FILES}

    refused = cli.run("keys", "generate", "--out", str(out))

    assert refused.returncode == 1
    assert "Refusing to overwrite" in refused.stderr
    assert "--force" in refused.stderr
    assert {name: (out / name).read_bytes() for name in KEY_FILES} == before

    forced = cli.run("keys", "generate", "--out", str(out), "--force")

    assert forced.returncode == 0, forced.stderr
    for name in KEY_FILES:
        assert (out / name).read_bytes() != before[name]
    assert stat.S_IMODE((out / "access_private.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "refresh_private.pem").stat().st_mode) == 0o600
    load_rsa_pair(out / "access_private.pem", out / "access_public.pem")


# --- keys rotate ---------------------------------------------------------------------

ISSUER = AUDIENCE = "oop-fastapi-backend"


def issue_tokens(codec: JwtTokenCodec) -> tuple[str, str]:
    now = datetime.now(UTC)
    access = codec.encode_access(
        subject="user-1",
        session_id="session-1",
        role="user",
        permissions=[],
        now=now,
        ttl_seconds=300,
    )
    refresh = codec.encode_refresh(
        subject="user-1",
        session_id="session-1",
        jti="refresh-1",
        now=now,
        expires_at=datetime.fromtimestamp(now.timestamp() + 3600, UTC),
    )
    return access, refresh


def kid_of(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


def test_keys_rotate_on_development_keys_changes_the_kid_and_keeps_the_old_one(
    cli: Cli,
) -> None:
    settings = Settings(_env_file=None, environment="test", data_dir=cli.data_dir)
    before = build_container(settings)
    before.keys.load()
    before.hasher.close()
    old_access, old_refresh = issue_tokens(before.codec)

    result = cli.run("keys", "rotate")

    assert result.returncode == 0, result.stderr
    after = build_container(settings)
    after.keys.load()
    after.hasher.close()
    old_kid, new_kid = before.keys.access.current.kid, after.keys.access.current.kid
    assert new_kid != old_kid
    assert after.keys.refresh.current.kid != before.keys.refresh.current.kid
    assert f"access_token: kid {old_kid} -> {new_kid}" in result.stdout
    assert (cli.data_dir / "keys" / f"access_token_retired_{old_kid}.pem").is_file()
    assert after.codec.decode_access(old_access).subject == "user-1"
    assert after.codec.decode_refresh(old_refresh).jti == "refresh-1"
    new_access, new_refresh = issue_tokens(after.codec)
    assert kid_of(new_access) == new_kid
    assert kid_of(new_refresh) == after.keys.refresh.current.kid
    assert [key["kid"] for key in after.codec.jwks()["keys"]] == [new_kid, old_kid]
    private = cli.data_dir / "keys" / "access_token_private.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert_no_private_key_material(result.stdout + result.stderr, private)


def test_keys_rotate_refuses_out_for_development_keys(cli: Cli, tmp_path: Path) -> None:
    result = cli.run("keys", "rotate", "--out", str(tmp_path / "out"))

    assert result.returncode == 2
    assert "development keys" in result.stderr
    assert not (tmp_path / "out").exists()
    assert not (cli.data_dir / "keys").exists()


@pytest.fixture
def configured_env(tmp_path: Path, key_pems: KeyPems) -> dict[str, str]:
    """Keys configured as the app runs in production: file paths in the environment."""
    directory = tmp_path / "current-keys"
    directory.mkdir()
    env = {}
    for kind in ("access", "refresh"):
        for half in ("private", "public"):
            path = directory / f"{kind}_{half}.pem"
            path.write_text(getattr(key_pems, f"{kind}_{half}"))
            env[f"{kind.upper()}_TOKEN_{half.upper()}_KEY"] = str(path)
    return env


def test_keys_rotate_with_configured_keys_requires_out(
    cli: Cli, configured_env: dict[str, str]
) -> None:
    result = cli.run("keys", "rotate", **configured_env)

    assert result.returncode == 2
    assert "ACCESS_TOKEN_PRIVATE_KEY" in result.stderr
    assert "--out" in result.stderr
    assert not (cli.data_dir / "keys").exists()


def test_keys_rotate_with_configured_keys_prints_a_procedure_that_works(
    cli: Cli, configured_env: dict[str, str], key_pems: KeyPems, tmp_path: Path
) -> None:
    older_key = generate_private_key().public_key()
    older, older_kid = public_pem(older_key).decode(), thumbprint(older_key)
    env = {**configured_env, "ACCESS_TOKEN_PREVIOUS_PUBLIC_KEYS": older}
    old_ring = key_pems.ring(tmp_path / "unused")
    old_ring.load()
    old_access, old_refresh = issue_tokens(JwtTokenCodec(old_ring, ISSUER, AUDIENCE))
    out = tmp_path / "rotated"

    result = cli.run("keys", "rotate", "--out", str(out), **env)

    assert result.returncode == 0, result.stderr
    printed = env_lines(result.stdout)
    assert printed["ACCESS_TOKEN_PRIVATE_KEY"] == str(out / "access_private.pem")
    assert printed["REFRESH_TOKEN_PUBLIC_KEY"] == str(out / "refresh_public.pem")
    assert len(printed["ACCESS_TOKEN_PREVIOUS_PUBLIC_KEYS"].split(",")) == 2
    assert "ACCESS_TOKEN_TTL_SECONDS = 900 s (15 minutes)" in result.stdout
    assert "REFRESH_TOKEN_TTL_SECONDS = 1209600 s (14 days)" in result.stdout
    assert stat.S_IMODE((out / "access_private.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "refresh_private.pem").stat().st_mode) == 0o600
    assert_no_private_key_material(
        result.stdout + result.stderr, out / "access_private.pem", out / "refresh_private.pem"
    )
    assert not (cli.data_dir / "keys").exists()

    # Follow the printed procedure: the new settings, then "restart".
    new = build_container(settings_from_output(result.stdout, cli.data_dir))
    new.keys.load()
    new.hasher.close()
    assert new.keys.access.current.kid != old_ring.access.current.kid
    assert new.keys.refresh.current.kid != old_ring.refresh.current.kid
    assert {key.kid for key in new.keys.access.retired} == {old_ring.access.current.kid, older_kid}
    assert [key.kid for key in new.keys.refresh.retired] == [old_ring.refresh.current.kid]
    assert new.codec.decode_access(old_access).subject == "user-1"
    assert new.codec.decode_refresh(old_refresh).jti == "refresh-1"
    assert kid_of(issue_tokens(new.codec)[0]) == new.keys.access.current.kid

    again = cli.run("keys", "rotate", "--out", str(out), **env)
    assert again.returncode == 1
    assert "Refusing to overwrite" in again.stderr


def test_keys_rotate_with_a_bad_previous_key_exits_2_naming_the_setting(
    cli: Cli, configured_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**configured_env, "REFRESH_TOKEN_PREVIOUS_PUBLIC_KEYS": "/nonexistent/old.pem"}

    result = cli.run("keys", "rotate", "--out", str(tmp_path / "out"), **env)

    assert result.returncode == 2
    assert "REFRESH_TOKEN_PREVIOUS_PUBLIC_KEYS" in result.stderr
    assert not (tmp_path / "out").exists()
