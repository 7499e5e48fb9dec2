"""Contracts for the metrics the services and controllers report, whatever collects them."""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from app.interfaces.breached_passwords import BreachCheckFailure
from app.models.email import OutboxStatus
from app.models.email_request import EmailRequestPurpose


class LoginOutcome(StrEnum):
    """How a login attempt ended; a bounded set, so it can label a metric."""

    SUCCESS = "success"
    INVALID_CREDENTIALS = "invalid_credentials"
    LOCKED = "locked"
    DISABLED = "disabled"
    UNVERIFIED = "unverified"


class AuthMetrics(Protocol):
    """What the auth service counts."""

    def login_attempt(self, outcome: LoginOutcome) -> None: ...


class PasswordPolicyMetrics(Protocol):
    """What the password policy counts."""

    def breach_check_failed(self, reason: BreachCheckFailure) -> None:
        """A breached-password check got no answer, and the password went through."""


@dataclass(frozen=True, slots=True)
class MetricsPage:
    """A rendered scrape: the exposition body and its media type."""

    body: bytes
    content_type: str


class MetricsExporter(Protocol):
    """The scrape side: gauges refreshed just before rendering, then the page."""

    def set_outbox_depth(
        self,
        counts: Mapping[OutboxStatus, int],
        requests: Mapping[EmailRequestPurpose, int],
    ) -> None:
        """The outbox by status, and the email requests the worker has yet to fulfil."""

    def clear_outbox_depth(self) -> None:
        """Drop those series, when they cannot be read, rather than show stale ones."""

    def render(self) -> MetricsPage: ...
