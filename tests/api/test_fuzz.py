"""Property-based fuzzing of every operation of the app's own OpenAPI schema (schemathesis).

For each operation, schemathesis generates valid requests (positive mode) and invalid
ones (negative mode) from the schema, sends them to the app in-process over ASGI, and
checks that no response is a server error and that every response matches the schema
documented for its status. It runs once authenticated as the superadmin and once as a
plain user, on SQLite only, with a bounded, derandomized number of examples so a run is
reproducible and quick.

Schemathesis starts the app's lifespan itself, on its own event loop thread (the test is
synchronous for that reason); the test ends it before returning.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.core.failures import FailureGroup
from schemathesis.python import asgi as schemathesis_asgi

from app.main import create_app
from tests.api.helpers import V1
from tests.conftest import DEFAULT_PASSWORD, SUPERUSER_EMAIL, SUPERUSER_PASSWORD, SettingsFactory

MAX_EXAMPLES = 25
CHECKS = [not_a_server_error, response_schema_conformance]
PLAIN_USER = "fuzz.user@example.com"


@dataclass
class Findings:
    failures: dict[str, str] = field(default_factory=dict)
    operations: int = 0
    calls: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


@pytest.fixture
def fuzz_app(make_settings: SettingsFactory) -> Iterator[FastAPI]:
    app = create_app(make_settings())
    try:
        yield app
    finally:
        # Schemathesis started the lifespan on first contact; end it (and close the
        # database) now rather than at interpreter exit.
        schemathesis_asgi.shutdown_lifespans()


def load_schema(app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def log_in(schema: Any, email: str, password: str) -> str:
    operation = schema[f"{V1}/auth/login"]["POST"]
    case = operation.Case(
        body={"username": email, "password": password},
        media_type="application/x-www-form-urlencoded",
    )
    response = case.call()
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def register_plain_user(schema: Any) -> None:
    case = schema[f"{V1}/auth/register"]["POST"].Case(
        body={"email": PLAIN_USER, "password": DEFAULT_PASSWORD}, media_type="application/json"
    )
    response = case.call()
    assert response.status_code == 201, response.text


def fuzz_operation(operation: Any, token: str, findings: Findings) -> None:
    """Run one operation's examples; record its failure (if any) instead of raising."""
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    headers = {"Authorization": f"Bearer {token}"}

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        findings.calls += 1
        findings.statuses[response.status_code] = findings.statuses.get(response.status_code, 0) + 1

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:
        findings.failures[operation.label] = f"{type(exc).__name__}: {exc}"


def fuzz_all(app: FastAPI, role: str) -> Findings:
    schema = load_schema(app)
    if role == "user":
        register_plain_user(schema)
        credentials = (PLAIN_USER, DEFAULT_PASSWORD)
    else:
        credentials = (SUPERUSER_EMAIL, SUPERUSER_PASSWORD)

    operations = [result.ok() for result in schema.get_all_operations()]
    findings = Findings(operations=len(operations))
    for operation in operations:
        # A fresh session per operation: one that logs out must not turn the next
        # operation's requests into 401s.
        fuzz_operation(operation, log_in(schema, *credentials), findings)
    return findings


def report(findings: Findings) -> str:
    lines = [f"{label}:\n{text}" for label, text in sorted(findings.failures.items())]
    return "\n\n".join(lines)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("role", ["superadmin", "user"])
def test_no_operation_errors_or_breaks_its_schema(fuzz_app: FastAPI, role: str) -> None:
    findings = fuzz_all(fuzz_app, role)
    assert findings.operations >= 20, "every operation of the schema is fuzzed"
    assert findings.calls >= findings.operations * 2
    # The generated requests reached the handlers, not just the validation layer.
    assert any(200 <= status < 300 for status in findings.statuses), findings.statuses
    assert not findings.failures, report(findings)


def received(status: int, body: dict[str, Any], request: httpx.Request) -> httpx.Response:
    """A response as if it had come over the wire (httpx only times those)."""
    response = httpx.Response(status, json=body, request=request)
    response.elapsed = timedelta(milliseconds=1)
    return response


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_checks_catch_what_they_are_meant_to(fuzz_app: FastAPI) -> None:
    """Positive control: the two checks do fail on a broken response for this schema."""
    schema = load_schema(fuzz_app)
    case = schema[f"{V1}/users/me"]["GET"].Case()
    request = httpx.Request("GET", f"http://testserver{V1}/users/me")

    incomplete = received(200, {"id": "x", "email": 42}, request)
    with pytest.raises(FailureGroup) as broken:
        case.validate_response(incomplete, checks=CHECKS)
    assert "schema" in str(broken.value).lower()

    crashed = received(500, {"detail": "boom"}, request)
    with pytest.raises(FailureGroup) as server_error:
        case.validate_response(crashed, checks=CHECKS)
    assert "500" in str(server_error.value)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_undecodable_json_bodies_get_a_documented_status(
    client: httpx.AsyncClient,
) -> None:
    spec = (await client.get("/openapi.json")).json()
    undocumented = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" not in content or "{" in path:
                continue
            response = await client.request(
                method.upper(),
                path,
                content=b'{"email": "\xff\xfe"}',
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code < 500, response.text
            if str(response.status_code) not in operation["responses"]:
                undocumented.append(f"{method.upper()} {path} -> {response.status_code}")
    assert undocumented == []
