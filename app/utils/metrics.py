"""Prometheus metrics of one app instance, on a registry of its own.

Every app gets its own ``CollectorRegistry`` rather than the process-global one, so
several apps in one process (the tests, an embedding host) never collide.

Each worker process (``WORKERS`` > 1) has its own registry too, and a scrape reaches
whichever worker accepts the connection: counters then appear to jump between the
workers' values. Scrape one worker per process (one per container, or a port each),
or run one worker; prometheus-client's multiprocess mode is not wired in.
"""

from collections.abc import Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from app.interfaces.breached_passwords import BreachCheckFailure
from app.interfaces.metrics import LoginOutcome, MetricsPage
from app.models.email import OutboxStatus
from app.models.email_request import EmailRequestPurpose

# The label of requests no route matched: the raw path would let anyone create series.
UNMATCHED_ROUTE = "<unmatched>"
OTHER_METHOD = "OTHER"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Down to a millisecond: a cached /users/me answers in a few.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class PrometheusMetrics:
    """The app's collectors; implements ``AuthMetrics``, ``PasswordPolicyMetrics`` and
    ``MetricsExporter``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "http_requests",
            "HTTP requests, by route template, method and status.",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self._latency = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template, method and status.",
            ("route", "method", "status"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._logins = Counter(
            "auth_login_attempts",
            "Login attempts, by result (success or the reason of the failure).",
            ("result",),
            registry=self.registry,
        )
        self._breach_check_failures = Counter(
            "password_breach_check_failures",
            "Breached-password checks that got no answer, by reason; each let a password "
            "through unchecked.",
            ("reason",),
            registry=self.registry,
        )
        self._outbox = Gauge(
            "email_outbox_messages",
            "Messages in the email outbox, by status, read at scrape time.",
            ("status",),
            registry=self.registry,
        )
        self._requests_queued = Gauge(
            "email_requests_queued",
            "Requests for a code or link (forgot-password, resend, unlock) that the worker "
            "has yet to fulfil, by purpose, read at scrape time.",
            ("purpose",),
            registry=self.registry,
        )
        # labels() takes a lock and checks its arguments; a request looks its pair up here.
        self._request_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe_request(self, route: str | None, method: str, status: int, seconds: float) -> None:
        """Count one request; ``route`` is the matched route's template, None when none matched."""
        key = (
            route or UNMATCHED_ROUTE,
            method if method in KNOWN_METHODS else OTHER_METHOD,
            status,
        )
        series = self._request_series.get(key)
        if series is None:
            labels = (key[0], key[1], str(status))
            series = (self._requests.labels(*labels), self._latency.labels(*labels))
            self._request_series[key] = series
        count, latency = series
        count.inc()
        latency.observe(seconds)

    def login_attempt(self, outcome: LoginOutcome) -> None:
        self._logins.labels(outcome.value).inc()

    def breach_check_failed(self, reason: BreachCheckFailure) -> None:
        self._breach_check_failures.labels(reason.value).inc()

    def set_outbox_depth(
        self,
        counts: Mapping[OutboxStatus, int],
        requests: Mapping[EmailRequestPurpose, int],
    ) -> None:
        for status in OutboxStatus:
            self._outbox.labels(status.value).set(counts.get(status, 0))
        for purpose in EmailRequestPurpose:
            self._requests_queued.labels(purpose.value).set(requests.get(purpose, 0))

    def clear_outbox_depth(self) -> None:
        self._outbox.clear()
        self._requests_queued.clear()

    def render(self) -> MetricsPage:
        return MetricsPage(body=generate_latest(self.registry), content_type=CONTENT_TYPE_LATEST)


class DisabledAuthMetrics:
    """METRICS_ENABLED=false: login attempts are not counted (a Null Object)."""

    def login_attempt(self, outcome: LoginOutcome) -> None:
        return None


class DisabledPasswordPolicyMetrics:
    """METRICS_ENABLED=false: failed breach checks are not counted (a Null Object)."""

    def breach_check_failed(self, reason: BreachCheckFailure) -> None:
        return None
