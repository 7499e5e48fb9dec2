"""The Dockerfile, .dockerignore and docker-compose.yml agree with the app and each other.

No Docker engine is needed: the files are parsed and checked against ``Settings``,
the routes and the CLI; the image's HEALTHCHECK command runs against a real server.
``docker compose config`` runs only where the CLI has the compose plugin.
"""

import asyncio
import json
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
import uvicorn
import yaml
from fastapi import FastAPI

from app.cli import cli
from app.config import EmailBackend, Environment, Settings, load_settings
from tests.live_server import setting_variables
from tests.smtp_server import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"

# Variables of the build and the interpreter, not settings of the app.
NOT_SETTINGS = frozenset(
    {
        "PATH",
        "VIRTUAL_ENV",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONUNBUFFERED",
        "PIP_NO_CACHE_DIR",
        "PIP_DISABLE_PIP_VERSION_CHECK",
    }
)
# Settings that are secrets: they come from .env or the platform, never from these files.
SECRET_SETTINGS = frozenset(
    {
        "SECRET_KEY",
        "ACCESS_TOKEN_PRIVATE_KEY",
        "ACCESSTOKENPRIVATEKEY",
        "REFRESH_TOKEN_PRIVATE_KEY",
        "REFRESHTOKENPRIVATEKEY",
        "FIRST_SUPERUSER_PASSWORD",
        "SMTP_PASSWORD",
        "MONGO_PASS",
    }
)
# What docs/DEPLOYMENT.md has a production .env add: `keys generate` prints paths.
PRODUCTION_DOT_ENV = {
    "ENVIRONMENT": "production",
    "ACCESS_TOKEN_PRIVATE_KEY": "/app/data/prod-keys/access_private.pem",
    "ACCESS_TOKEN_PUBLIC_KEY": "/app/data/prod-keys/access_public.pem",
    "REFRESH_TOKEN_PRIVATE_KEY": "/app/data/prod-keys/refresh_private.pem",
    "REFRESH_TOKEN_PUBLIC_KEY": "/app/data/prod-keys/refresh_public.pem",
    "SECRET_KEY": "x" * 64,
    "FIRST_SUPERUSER_EMAIL": "admin@example.com",
    "FIRST_SUPERUSER_PASSWORD": "a-long-random-passphrase",
}

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, ${NAME:+alt}
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}")


def interpolate(value: Any, host_env: Mapping[str, str]) -> Any:
    """``value`` with Compose's ``${...}`` substitutions, ``host_env`` being what is set."""
    if isinstance(value, dict):
        return {key: interpolate(item, host_env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, host_env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = host_env.get(name)
        is_set = current is not None and (current != "" or not (op or "").startswith(":"))
        if op in (":-", "-"):
            return current if is_set and current is not None else arg
        if op in (":?", "?"):
            assert is_set, f"${{{name}}} must be set: {arg}"
            return current or ""
        if op == ":+":
            return arg if is_set else ""
        assert current is not None, f"${{{name}}} has no default: give the test a value for it"
        return current

    return INTERPOLATION.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def load_compose(host_env: Mapping[str, str] | None = None) -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict)
    interpolated: dict[str, Any] = interpolate(document, host_env or {})
    return interpolated


def app_environment(compose: Mapping[str, Any]) -> dict[str, str]:
    raw = compose["services"]["app"].get("environment", {})
    if isinstance(raw, list):
        raw = dict(entry.split("=", 1) for entry in raw)
    return {name: str(value) for name, value in raw.items()}


def load_as_environment(
    monkeypatch: pytest.MonkeyPatch, variables: Mapping[str, str], env_file: Mapping[str, str]
) -> Settings:
    """Settings read the way the container reads them: only these variables set.

    ``env_file`` plays the part of .env, which `environment:` overrides in Compose.
    """
    for name in setting_variables():
        monkeypatch.delenv(name, raising=False)
    for name, value in {**env_file, **variables}.items():
        monkeypatch.setenv(name, value)
    return load_settings(_env_file=None)


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def dockerfile_stages() -> list[list[Instruction]]:
    """The instructions of each build stage, continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    stages: list[list[Instruction]] = []
    for line in lines:
        keyword, _, arguments = line.partition(" ")
        instruction = Instruction(keyword.upper(), arguments.strip())
        if instruction.keyword == "FROM":
            stages.append([])
        assert stages, f"{line!r} comes before the first FROM"
        stages[-1].append(instruction)
    return stages


def env_names(stage: list[Instruction]) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.arguments):
                name, _, value = pair.partition("=")
                values[name] = value
    return values


def only(stage: list[Instruction], keyword: str) -> Instruction:
    found = [instruction for instruction in stage if instruction.keyword == keyword]
    assert len(found) == 1, f"the final stage needs exactly one {keyword}, has {len(found)}"
    return found[0]


def healthcheck_command(stage: list[Instruction]) -> list[str]:
    options, _, command = only(stage, "HEALTHCHECK").arguments.partition("CMD ")
    assert "--interval" in options
    argv = json.loads(command)
    assert isinstance(argv, list)
    return [str(part) for part in argv]


def assert_pinned(image: str) -> None:
    name, _, tag = image.rpartition(":")
    assert name, f"{image} names no tag"
    assert "/" not in tag, f"{image} names no tag"
    assert tag != "latest", f"{image} is not pinned"


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A path glob as a regex: ``**/`` any directories, ``*`` and ``?`` within one name."""
    out = ""
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out += "(?:.*/)?"
            index += 3
        elif pattern.startswith("**", index):
            out += ".*"
            index += 2
        elif pattern[index] == "*":
            out += "[^/]*"
            index += 1
        elif pattern[index] == "?":
            out += "[^/]"
            index += 1
        elif pattern[index] == "[":
            end = pattern.index("]", index)
            out += pattern[index : end + 1]
            index = end + 1
        else:
            out += re.escape(pattern[index])
            index += 1
    return re.compile(out)


def ignored_by_docker(path: str, rules: list[str]) -> bool:
    """Whether .dockerignore keeps ``path`` out of the build context (last match wins).

    A rule that matches a directory excludes, or includes back, all that is under it.
    """
    parts = path.split("/")
    prefixes = ["/".join(parts[: count + 1]) for count in range(len(parts))]
    ignored = False
    for rule in rules:
        negated = rule.startswith("!")
        regex = glob_regex(rule.removeprefix("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not negated
    return ignored


def dockerignore_rules() -> list[str]:
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_compose_wires_app_mongo_and_mailpit() -> None:
    compose = load_compose()
    services = compose["services"]
    assert set(services) >= {"app", "mongo", "mailpit"}
    app = services["app"]
    assert app["build"] in (".", {"context": "."})
    # A healthy database and mail server before the app starts.
    assert app["depends_on"]["mongo"]["condition"] == "service_healthy"
    assert app["depends_on"]["mailpit"]["condition"] == "service_healthy"
    for name in ("mongo", "mailpit"):
        assert services[name]["healthcheck"]["test"], f"{name} has no healthcheck"
    # Official images, pinned by tag.
    assert services["mongo"]["image"].startswith("mongo:")
    assert services["mailpit"]["image"].startswith("axllent/mailpit:")
    for service in services.values():
        if "image" in service and "build" not in service:
            assert_pinned(service["image"])
    # Named volumes, declared at the top level, keep the data across `down`/`up`.
    volumes = compose["volumes"]
    mongo_volume = services["mongo"]["volumes"][0].split(":")
    assert mongo_volume[1] == "/data/db"
    assert mongo_volume[0] in volumes
    app_volume = app["volumes"][0].split(":")
    assert app_volume[0] in volumes


def test_app_environment_names_only_settings_and_no_secrets() -> None:
    compose = load_compose()
    known = setting_variables()
    passed = set(app_environment(compose))
    assert passed - known == set(), "not settings of the app"
    assert passed & SECRET_SETTINGS == set(), "secrets belong in .env, not in the compose file"
    # Secrets come from an optional .env, so `docker compose up` works without one.
    env_files = compose["services"]["app"]["env_file"]
    assert {"path": ".env", "required": False} in env_files

    final = dockerfile_stages()[-1]
    image_env = set(env_names(final)) - NOT_SETTINGS
    assert image_env - known == set(), "the image sets variables the app does not read"
    assert image_env & SECRET_SETTINGS == set(), "secrets must not be baked into the image"
    for stage in dockerfile_stages():
        for instruction in stage:
            if instruction.keyword in ("ENV", "ARG"):
                assert not any(secret in instruction.arguments for secret in SECRET_SETTINGS)


def test_demo_settings_load_and_point_at_the_other_services(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compose = load_compose()
    services = compose["services"]
    settings = load_as_environment(monkeypatch, app_environment(compose), env_file={})

    # Out of the box: development mode, so generated keys and SECRET_KEY are allowed.
    assert settings.environment is Environment.DEVELOPMENT
    assert settings.host == "0.0.0.0"  # noqa: S104 - the container's interface
    # The database and the SMTP server are the other services, by their names.
    assert settings.mongo_url is not None
    assert settings.mongo_url.startswith("mongodb://mongo:27017/")
    assert "mongo" in services
    assert settings.mongo_database == "app"
    assert settings.email_backend is EmailBackend.SMTP
    assert settings.smtp_host == "mailpit"
    assert "mailpit" in services
    assert settings.smtp_port == 1025  # Mailpit's SMTP port
    assert settings.backend_cors_origins == ["http://localhost:3000", "http://localhost:5173"]
    assert settings.frontend_url == "http://localhost:3000"
    # DATA_DIR is where the app volume is mounted, and a VOLUME of the image.
    app_volume_target = services["app"]["volumes"][0].split(":")[1]
    assert str(settings.data_dir) == app_volume_target
    volumes = [i.arguments for i in dockerfile_stages()[-1] if i.keyword == "VOLUME"]
    assert any(app_volume_target in volume for volume in volumes)


def test_production_with_the_documented_env_file_has_no_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `.env` sets ENVIRONMENT, which Compose reads for ${ENVIRONMENT} too.
    compose = load_compose(host_env={"ENVIRONMENT": "production"})
    settings = load_as_environment(
        monkeypatch, app_environment(compose), env_file=PRODUCTION_DOT_ENV
    )
    assert settings.environment is Environment.PRODUCTION
    assert settings.production_problems() == []

    # Without the secrets, production refuses: the image's default stays safe.
    bare = load_as_environment(monkeypatch, app_environment(compose), env_file={})
    problems = " ".join(bare.production_problems())
    assert "SECRET_KEY" in problems
    assert "ACCESS_TOKEN_PRIVATE_KEY" in problems


def test_published_port_exposed_port_and_port_setting_agree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compose = load_compose()
    settings = load_as_environment(monkeypatch, app_environment(compose), env_file={})
    ports = compose["services"]["app"]["ports"]
    assert len(ports) == 1
    host_ip, host_port, container_port = ports[0].split(":")
    assert host_ip == "127.0.0.1"
    assert host_port == "8000"
    assert int(container_port) == settings.port

    final = dockerfile_stages()[-1]
    assert only(final, "EXPOSE").arguments == str(settings.port)
    assert env_names(final)["PORT"] == str(settings.port)


def test_dockerfile_builds_in_two_stages_and_runs_unprivileged() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    for stage in stages:
        assert_pinned(stage[0].arguments.split()[0])
    final = stages[-1]
    final_image = final[0].arguments.split()[0]
    assert final_image.startswith("python:3.11-slim")
    # The builder makes a wheel from pyproject.toml and installs no dev extra.
    builder_runs = " ".join(i.arguments for i in stages[0] if i.keyword == "RUN")
    assert "pip wheel" in builder_runs
    assert "[dev]" not in DOCKERFILE.read_text()
    assert any(i.keyword == "COPY" and i.arguments.startswith("--from=") for i in final), (
        "the runtime stage copies the build result from the builder"
    )

    env = env_names(final)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["HOST"] == "0.0.0.0"  # noqa: S104 - the container's interface

    keywords = [i.keyword for i in final]
    user = only(final, "USER").arguments
    assert user.split(":")[0] not in ("root", "0")
    assert keywords.index("USER") < keywords.index("CMD")

    assert json.loads(only(final, "CMD").arguments) == ["python", "-m", "app", "serve"]
    assert re.search(r"['\"]/health['\"]", " ".join(healthcheck_command(final)))


def test_the_cmd_is_a_command_of_the_cli() -> None:
    command = typer.main.get_command(cli)
    assert isinstance(command, typer.core.TyperGroup)
    cmd = json.loads(only(dockerfile_stages()[-1], "CMD").arguments)
    assert cmd[:3] == ["python", "-m", "app"]
    assert cmd[3] in command.commands


async def test_healthcheck_command_passes_on_a_live_app_and_fails_without_one(
    app: FastAPI,
) -> None:
    argv = healthcheck_command(dockerfile_stages()[-1])
    assert argv[0] == "python"
    # This interpreter stands in for the image's; the command itself is unchanged.
    argv[0] = sys.executable
    port = free_port()
    env = {"PORT": str(port), "PATH": "/usr/bin:/bin"}

    async def run_healthcheck() -> int:
        process = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        return await process.wait()

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving.done(), "the server did not start"
            await asyncio.sleep(0.02)
        assert await run_healthcheck() == 0
    finally:
        server.should_exit = True
        await serving
    assert await run_healthcheck() != 0


def test_dockerignore_keeps_local_files_out_and_the_sources_in() -> None:
    rules = dockerignore_rules()
    for path in (
        ".env",
        ".venv/bin/python",
        "data/app.db",
        "data/keys/access_token_private.pem",
        ".git/HEAD",
        "app/__pycache__/main.cpython-311.pyc",
    ):
        assert ignored_by_docker(path, rules), f"{path} would be sent to the Docker daemon"

    copied: list[str] = []
    for stage in dockerfile_stages():
        for instruction in stage:
            if instruction.keyword == "COPY" and not instruction.arguments.startswith("--"):
                copied.extend(instruction.arguments.split()[:-1])
    assert {"pyproject.toml", "README.md", "app"} <= set(copied)
    for source in copied:
        assert not ignored_by_docker(source, rules), f"the Dockerfile copies ignored {source}"
    # Every file the package ships must reach the build.
    for path in (ROOT / "app").rglob("*"):
        relative = path.relative_to(ROOT).as_posix()
        if path.is_file() and "__pycache__" not in path.parts:
            assert not ignored_by_docker(relative, rules), f"{relative} is left out"


def test_package_data_covers_every_non_python_file_of_the_app() -> None:
    # The image installs a wheel: a template or migration file not listed here is
    # missing there, though the tests (run from the source tree) would pass.
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["app"]
    regexes = [glob_regex(pattern) for pattern in patterns]
    package = ROOT / "app"
    for path in package.rglob("*"):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".py", ".pyc"):
            continue
        relative = path.relative_to(package).as_posix()
        assert any(regex.fullmatch(relative) for regex in regexes), (
            f"app/{relative} is not in [tool.setuptools.package-data]"
        )


def test_docker_compose_config_accepts_the_file() -> None:
    try:
        probe = subprocess.run(
            ["docker", "compose", "version"],  # noqa: S607 - the docker CLI on PATH
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except FileNotFoundError:
        pytest.skip("the docker CLI is not installed")
    if probe.returncode != 0:
        pytest.skip("the docker CLI has no compose plugin")
    result = subprocess.run(  # noqa: S603 - fixed arguments
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
