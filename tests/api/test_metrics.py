"""Prometheus metrics: off by default; on, requests by route template, logins, the outbox."""

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from app.main import create_app
from app.middlewares.metrics_middleware import MetricsMiddleware
from app.models.email import OutboxStatus
from app.models.email_request import EmailRequestPurpose
from app.utils.metrics import UNMATCHED_ROUTE
from tests.api.helpers import V1, login, login_superuser, register
from tests.conftest import SettingsFactory, running

USER_BY_ID = f"{V1}/users/{{user_id}}"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """The metrics do not depend on the store: SQLite only."""
    return f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"


async def scrape(client: httpx.AsyncClient) -> list[Sample]:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return [
        sample
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(found) <= 1
    return found[0] if found else None


async def test_metrics_are_off_by_default(client: httpx.AsyncClient, app: FastAPI) -> None:
    response = await client.get("/metrics")

    assert response.status_code == 404
    assert not [m for m in app.user_middleware if m.cls is MetricsMiddleware]


async def test_metrics_count_requests_by_template_logins_and_the_outbox(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(metrics_enabled=True)
    async with running(settings) as (app, client):
        admin = await login_superuser(client)
        user = await register(client, "counted@example.com")
        await login(client, "counted@example.com")
        wrong = await client.post(
            f"{V1}/auth/login",
            data={"username": "counted@example.com", "password": "not-the-password"},
        )
        assert wrong.status_code == 401
        for user_id in (user["id"], admin.user_id):
            response = await client.get(f"{V1}/users/{user_id}", headers=admin.headers)
            assert response.status_code == 200
        assert (await client.get(f"{V1}/no-such-thing/{user['id']}")).status_code == 404
        assert (await client.request("BREW", "/health")).status_code == 405

        samples = await scrape(client)
        await register(client, "queued@example.com")
        forgot = await client.post(
            f"{V1}/auth/forgot-password", json={"email": "counted@example.com"}
        )
        assert forgot.status_code == 202
        later = await scrape(client)
        schema = (await client.get("/openapi.json")).json()

    requests = "http_requests_total"
    # Two ids, one series: the route's template, never the path.
    assert value(samples, requests, route=USER_BY_ID, method="GET", status="200") == 2
    assert (
        value(
            samples,
            "http_request_duration_seconds_count",
            route=USER_BY_ID,
            method="GET",
            status="200",
        )
        == 2
    )
    assert value(samples, requests, route=UNMATCHED_ROUTE, method="GET", status="404") == 1
    assert value(samples, requests, route="/health", method="OTHER", status="405") == 1
    templates = {context.path for context in iter_route_contexts(app.routes)}
    routes = {s.labels["route"] for s in samples if s.name == requests}
    assert routes <= templates | {UNMATCHED_ROUTE}, routes - templates
    assert f"{V1}/auth/login" in routes
    assert {s.labels["method"] for s in samples if s.name == requests} <= {"GET", "POST", "OTHER"}

    logins = "auth_login_attempts_total"
    assert value(samples, logins, result="success") == 2
    assert value(samples, logins, result="invalid_credentials") == 1

    # Read at each scrape: the first registration's verification email is queued (the
    # worker is off), and the second one's joins it.
    outbox = "email_outbox_messages"
    assert value(samples, outbox, status=OutboxStatus.PENDING.value) == 1
    assert value(samples, outbox, status=OutboxStatus.SENT.value) == 0
    assert value(later, outbox, status=OutboxStatus.PENDING.value) == 2
    # So is the queue of requests for codes and links, which the worker has yet to take.
    queued = "email_requests_queued"
    assert value(samples, queued, purpose=EmailRequestPurpose.RESET_PASSWORD.value) == 0
    assert value(later, queued, purpose=EmailRequestPurpose.RESET_PASSWORD.value) == 1
    # The scrape itself is counted, under its own route.
    assert value(later, requests, route="/metrics", method="GET", status="200") == 1

    assert "/metrics" not in schema["paths"]

    # Every app has a registry of its own: on the global one, a second app in the
    # process would fail on duplicate metrics, or count the first one's requests.
    other = create_app(settings)
    try:
        registry = other.state.container.metrics.registry
        assert registry is not app.state.container.metrics.registry
        labels = {"route": "/metrics", "method": "GET", "status": "200"}
        assert registry.get_sample_value(requests, labels) is None
    finally:
        other.state.container.hasher.close()
