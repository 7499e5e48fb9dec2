"""The outbox dispatcher on a real SQL outbox, delivering to a real SMTP server.

Every database test runs on SQLite and, when TEST_POSTGRES_URL is set, on PostgreSQL.
PostgreSQL tests get a database of their own (created and dropped around the test), so
they never touch tables that other test runs use.
"""

import asyncio
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.commands.base import EmailBranding, EmailInvoker
from app.commands.email_commands import (
    BulkVerificationCommand,
    VerificationCodeCommand,
    WelcomeCommand,
)
from app.db import Database
from app.interfaces.clock import Clock
from app.models.email import OutboxMessage, OutboxStatus
from app.models.role import Role
from app.models.user import User
from app.repositories.sql.migrator import upgrade_to_head
from app.repositories.sql.outbox_repository import SqlOutboxRepository
from app.services.outbox_dispatcher import DeliveryPolicy, OutboxDispatcher
from app.utils.clock import SystemClock
from app.utils.email.smtp_sender import SmtpConfig, SmtpEmailSender
from app.utils.ids import new_id
from app.utils.template_renderer import JinjaTemplateRenderer
from tests.smtp_server import ReceivedEmail, SmtpTestServer

POSTGRES_URL_ENV = "TEST_POSTGRES_URL"
FROM_EMAIL = "noreply@acme.example"
BRANDING = EmailBranding(project_name="Acme", frontend_url="https://acme.example")
# Fast retries for the tests that run on the real clock.
FAST = DeliveryPolicy(
    batch_size=10,
    max_attempts=5,
    lease_seconds=60,
    backoff_base_seconds=0.01,
    backoff_max_seconds=0.05,
    poll_interval_seconds=0.02,
)


class ManualClock:
    """A clock that only moves when told to (implements ``app.interfaces.clock.Clock``)."""

    def __init__(self) -> None:
        self._now = datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now


# --- databases --------------------------------------------------------------------------


@asynccontextmanager
async def _sqlite(tmp_path: Path) -> AsyncIterator[str]:
    yield f"sqlite+aiosqlite:///{tmp_path / 'outbox.db'}"


@asynccontextmanager
async def _postgres(tmp_path: Path) -> AsyncIterator[str]:
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        pytest.skip(f"set {POSTGRES_URL_ENV} (postgresql+asyncpg://...) to run against PostgreSQL")
    name = f"outbox_test_{secrets.token_hex(6)}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


DATABASES: dict[str, Callable[[Path], AbstractAsyncContextManager[str]]] = {
    "sqlite": _sqlite,
    "postgres": _postgres,
}


@dataclass
class Store:
    name: str
    outbox: SqlOutboxRepository


@pytest.fixture(params=list(DATABASES))
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    async with DATABASES[request.param](tmp_path) as url:
        engine = Database.connect(url)
        try:
            await upgrade_to_head(engine)
            # A provider, exactly as the app wires the repositories.
            yield Store(request.param, SqlOutboxRepository(Database.engine))
        finally:
            await Database.dispose()


# --- helpers ----------------------------------------------------------------------------


def make_user(email: str) -> User:
    now = datetime.now(UTC)
    return User(
        id=new_id(),
        email=email,
        hashed_password="not-a-hash",
        role=Role.USER,
        permissions=frozenset(),
        created_at=now,
        updated_at=now,
        full_name=email.partition("@")[0].title(),
    )


def invoker(store: Store, clock: Clock) -> EmailInvoker:
    return EmailInvoker(store.outbox, JinjaTemplateRenderer(), BRANDING, clock)


async def queue_codes(store: Store, clock: Clock, *emails: str) -> dict[str, str]:
    """Queue a verification code for each address; returns outbox id -> recipient."""
    items = [(make_user(email), f"{index:06d}") for index, email in enumerate(emails, 1)]
    queued = await invoker(store, clock).execute(BulkVerificationCommand(items, ttl_minutes=15))
    assert queued == len(emails)
    return await outbox_ids(store)


async def outbox_ids(store: Store) -> dict[str, str]:
    messages = await store.outbox.list_messages(None, 1000, None)
    return {message.id: message.recipient for message in messages}


async def state(store: Store, message_id: str) -> OutboxMessage:
    message = await store.outbox.get(message_id)
    assert message is not None
    return message


def dispatcher(
    store: Store, server: SmtpTestServer, clock: Clock, policy: DeliveryPolicy = FAST
) -> OutboxDispatcher:
    sender = SmtpEmailSender(
        SmtpConfig(host=server.host, port=server.port, from_email=FROM_EMAIL, timeout_seconds=5)
    )
    return OutboxDispatcher(store.outbox, sender, clock, policy)


def sent_id(received: ReceivedEmail) -> str:
    """The outbox id inside a received Message-ID ``<id@domain>``."""
    return str(received.message["Message-ID"]).strip("<>").partition("@")[0]


def received_ids(server: SmtpTestServer) -> list[str]:
    return [sent_id(item) for item in server.received]


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


# --- delivery -------------------------------------------------------------------------


async def test_dispatch_delivers_queued_messages_and_marks_them_sent(
    store: Store, smtp_server: SmtpTestServer
) -> None:
    clock = ManualClock()
    queue = invoker(store, clock)
    await queue.execute(VerificationCodeCommand(make_user("alice@example.com"), "482913", 15))
    await queue.execute(WelcomeCommand(make_user("bob@example.com")))
    ids = await outbox_ids(store)
    clock.advance(1)

    handled = await dispatcher(store, smtp_server, clock).dispatch_once()

    assert handled == 2
    assert sorted(received_ids(smtp_server)) == sorted(ids)
    by_recipient = {item.rcpt_tos[0]: item for item in smtp_server.received}
    assert "482913" in by_recipient["alice@example.com"].text
    assert "Welcome to Acme" in str(by_recipient["bob@example.com"].message["Subject"])
    for message_id in ids:
        message = await state(store, message_id)
        assert message.status is OutboxStatus.SENT
        assert message.sent_at == clock.now()
        assert message.attempts == 1
        assert message.lease_owner is None
        assert message.lease_until is None
        assert message.last_error is None


async def test_sent_messages_are_not_sent_again(store: Store, smtp_server: SmtpTestServer) -> None:
    clock = ManualClock()
    await queue_codes(store, clock, "alice@example.com")
    worker = dispatcher(store, smtp_server, clock)

    assert await worker.dispatch_once() == 1
    clock.advance(3600)
    assert await worker.dispatch_once() == 0
    assert len(smtp_server.received) == 1


async def test_messages_not_yet_due_wait(store: Store, smtp_server: SmtpTestServer) -> None:
    clock = ManualClock()
    await queue_codes(store, clock, "alice@example.com")
    early = ManualClock()
    early.advance(-60)  # a worker whose clock is a minute behind the queueing one

    assert await dispatcher(store, smtp_server, early).dispatch_once() == 0
    assert smtp_server.received == []


async def test_server_down_reschedules_and_restart_delivers_exactly_once(
    store: Store, smtp_server: SmtpTestServer
) -> None:
    clock = ManualClock()
    policy = DeliveryPolicy(batch_size=10, max_attempts=5, backoff_base_seconds=10)
    ids = await queue_codes(store, clock, "alice@example.com", "bob@example.com")
    worker = dispatcher(store, smtp_server, clock, policy)
    smtp_server.stop()

    assert await worker.dispatch_once() == 2

    failed_at = clock.now()
    for message_id in ids:
        message = await state(store, message_id)
        assert message.status is OutboxStatus.PENDING
        assert message.attempts == 1
        assert message.last_error is not None
        assert "connection" in message.last_error.lower()
        # First retry: between half and all of the base delay later.
        assert failed_at + timedelta(seconds=5) <= message.next_attempt_at
        assert message.next_attempt_at <= failed_at + timedelta(seconds=10)
        assert message.lease_owner is None
    assert await worker.dispatch_once() == 0  # not due yet

    smtp_server.start()
    clock.advance(10)
    assert await worker.dispatch_once() == 2
    clock.advance(3600)
    assert await worker.dispatch_once() == 0

    delivered = received_ids(smtp_server)
    assert sorted(delivered) == sorted(ids)
    assert len(set(delivered)) == len(delivered)
    for message_id in ids:
        message = await state(store, message_id)
        assert message.status is OutboxStatus.SENT
        assert message.attempts == 2


async def test_refused_recipient_fails_at_once_and_others_still_go(
    store: Store, smtp_server: SmtpTestServer
) -> None:
    clock = ManualClock()
    ids = await queue_codes(store, clock, "ghost@example.com", "bob@example.com")
    by_recipient = {recipient: message_id for message_id, recipient in ids.items()}
    smtp_server.refuse("ghost@example.com")
    worker = dispatcher(store, smtp_server, clock)

    assert await worker.dispatch_once() == 2

    ghost = await state(store, by_recipient["ghost@example.com"])
    assert ghost.status is OutboxStatus.FAILED
    assert ghost.attempts == 1
    assert ghost.last_error is not None
    assert "550" in ghost.last_error
    assert ghost.lease_owner is None
    bob = await state(store, by_recipient["bob@example.com"])
    assert bob.status is OutboxStatus.SENT
    clock.advance(24 * 3600)
    assert await worker.dispatch_once() == 0
    assert received_ids(smtp_server) == [by_recipient["bob@example.com"]]


async def test_transient_failures_give_up_after_max_attempts(
    store: Store, smtp_server: SmtpTestServer
) -> None:
    clock = ManualClock()
    policy = DeliveryPolicy(max_attempts=3, backoff_base_seconds=1, backoff_max_seconds=60)
    [message_id] = await queue_codes(store, clock, "alice@example.com")
    worker = dispatcher(store, smtp_server, clock, policy)
    smtp_server.stop()

    for attempt in (1, 2):
        assert await worker.dispatch_once() == 1
        message = await state(store, message_id)
        assert (message.status, message.attempts) == (OutboxStatus.PENDING, attempt)
        clock.advance(3600)
    assert await worker.dispatch_once() == 1

    message = await state(store, message_id)
    assert message.status is OutboxStatus.FAILED
    assert message.attempts == 3
    assert message.last_error is not None
    assert "connection" in message.last_error.lower()
    smtp_server.start()
    clock.advance(3600)
    assert await worker.dispatch_once() == 0
    assert smtp_server.received == []


# --- backoff -------------------------------------------------------------------------


def test_backoff_grows_exponentially_within_equal_jitter_bounds() -> None:
    policy = DeliveryPolicy(backoff_base_seconds=1.0, backoff_max_seconds=1000.0)

    previous_high = 0.0
    for attempts in range(1, 9):
        ceiling = 2.0 ** (attempts - 1)
        draws = [policy.backoff(attempts) for _ in range(200)]
        assert all(ceiling / 2 <= draw <= ceiling for draw in draws)
        assert len(set(draws)) > 1  # jittered, not a fixed delay
        # Each step's shortest wait is at least the previous step's longest.
        assert min(draws) >= previous_high
        previous_high = max(draws)


def test_backoff_is_capped_by_backoff_max_seconds() -> None:
    policy = DeliveryPolicy(backoff_base_seconds=2.0, backoff_max_seconds=30.0)

    for attempts in (5, 6, 10, 50):
        draws = [policy.backoff(attempts) for _ in range(100)]
        assert all(15.0 <= draw <= 30.0 for draw in draws)
    assert all(8.0 <= policy.backoff(4) <= 16.0 for _ in range(100))


def test_backoff_of_the_first_attempt_is_around_the_base() -> None:
    policy = DeliveryPolicy(backoff_base_seconds=0.01)

    for attempts in (0, 1):
        assert all(0.005 <= policy.backoff(attempts) <= 0.01 for _ in range(100))


# --- leases --------------------------------------------------------------------------


async def test_crashed_claim_is_redelivered_only_after_its_lease_expires(
    store: Store, smtp_server: SmtpTestServer
) -> None:
    clock = ManualClock()
    [message_id] = await queue_codes(store, clock, "alice@example.com")
    claimed = await store.outbox.claim(
        "crashed-worker", clock.now(), clock.now() + timedelta(seconds=30), 10
    )
    assert [message.id for message in claimed] == [message_id]
    worker = dispatcher(store, smtp_server, clock)

    clock.advance(29)
    assert await worker.dispatch_once() == 0
    held = await state(store, message_id)
    assert (held.status, held.lease_owner) == (OutboxStatus.SENDING, "crashed-worker")
    assert smtp_server.received == []

    clock.advance(2)
    assert await worker.dispatch_once() == 1

    assert received_ids(smtp_server) == [message_id]
    message = await state(store, message_id)
    assert message.status is OutboxStatus.SENT
    assert message.attempts == 2
    assert message.sent_at == clock.now()
    # The crashed worker, coming back, can no longer record anything.
    assert await store.outbox.mark_sent(message_id, "crashed-worker", clock.now()) is False
    assert (
        await store.outbox.mark_retry(
            message_id, "crashed-worker", "late", clock.now(), clock.now()
        )
        is False
    )
    assert (await state(store, message_id)).status is OutboxStatus.SENT


async def test_expired_lease_after_the_last_attempt_gives_up_without_sending(
    store: Store, smtp_server: SmtpTestServer
) -> None:
    clock = ManualClock()
    [message_id] = await queue_codes(store, clock, "alice@example.com")
    await store.outbox.claim("crashed-worker", clock.now(), clock.now() + timedelta(seconds=5), 1)
    clock.advance(6)
    policy = DeliveryPolicy(max_attempts=1)

    assert await dispatcher(store, smtp_server, clock, policy).dispatch_once() == 1

    message = await state(store, message_id)
    assert message.status is OutboxStatus.FAILED
    assert message.last_error is not None
    assert "gave up" in message.last_error
    assert smtp_server.received == []


# --- the run loop ----------------------------------------------------------------------


async def test_run_exits_promptly_when_stopped(store: Store, smtp_server: SmtpTestServer) -> None:
    [message_id] = await queue_codes(store, SystemClock(), "alice@example.com")
    slow_poll = DeliveryPolicy(poll_interval_seconds=30)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher(store, smtp_server, SystemClock(), slow_poll).run(stop))
    await eventually(lambda: len(smtp_server.received) == 1)
    await asyncio.sleep(0.05)  # now idle, waiting out the 30 s poll interval

    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, timeout=2)

    assert time.monotonic() - started < 1.0
    assert (await state(store, message_id)).status is OutboxStatus.SENT


async def test_run_outlives_a_database_outage(
    store: Store, smtp_server: SmtpTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Moving the table away makes every query fail, as a broken database would.
    engine = Database.engine()
    async with engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE outbox_messages RENAME TO outbox_away")
    stop = asyncio.Event()
    worker = dispatcher(store, smtp_server, SystemClock())

    with caplog.at_level(logging.ERROR, logger="app.services.outbox_dispatcher"):
        task = asyncio.create_task(worker.run(stop))
        await eventually(lambda: len(outage_logs(caplog)) >= 2)
        assert not task.done()

        async with engine.begin() as conn:  # the database is back
            await conn.exec_driver_sql("ALTER TABLE outbox_away RENAME TO outbox_messages")
        [message_id] = await queue_codes(store, SystemClock(), "alice@example.com")
        await eventually(lambda: received_ids(smtp_server) == [message_id])
        stop.set()
        await asyncio.wait_for(task, timeout=2)

    assert task.exception() is None
    assert (await state(store, message_id)).status is OutboxStatus.SENT


def outage_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "app.services.outbox_dispatcher" and record.exc_info is not None
    ]


async def test_run_retries_until_the_mail_server_returns(
    store: Store, smtp_server: SmtpTestServer
) -> None:
    smtp_server.stop()
    [message_id] = await queue_codes(store, SystemClock(), "alice@example.com")
    patient = replace(FAST, max_attempts=50)
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher(store, smtp_server, SystemClock(), patient).run(stop))
    try:
        deadline = time.monotonic() + 5
        while (await state(store, message_id)).attempts < 2:
            assert time.monotonic() < deadline, "the loop stopped retrying"
            await asyncio.sleep(0.01)
        smtp_server.start()
        await eventually(lambda: received_ids(smtp_server) == [message_id])
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=2)

    message = await state(store, message_id)
    assert message.status is OutboxStatus.SENT
    assert message.attempts >= 3
    assert received_ids(smtp_server) == [message_id]


# --- batches and concurrency -----------------------------------------------------------


async def drain(worker: OutboxDispatcher) -> list[int]:
    """Dispatch until nothing is due; the size of every batch handled."""
    batches: list[int] = []
    while batch := await worker.dispatch_once():
        batches.append(batch)
    return batches


async def test_dispatch_once_handles_at_most_one_batch(
    store: Store, smtp_server: SmtpTestServer, request: pytest.FixtureRequest
) -> None:
    clock = ManualClock()
    await queue_codes(store, clock, *(f"user{n:02d}@example.com" for n in range(25)))
    worker = dispatcher(store, smtp_server, clock)  # batch_size=10

    assert await worker.dispatch_once() == 10
    counts = await store.outbox.count_by_status()
    assert (counts[OutboxStatus.SENT], counts[OutboxStatus.PENDING]) == (10, 15)
    assert counts[OutboxStatus.SENDING] == 0  # nothing else was leased
    assert await drain(worker) == [10, 5]
    assert len(smtp_server.received) == 25


async def test_two_dispatchers_deliver_a_batch_exactly_once(
    store: Store, smtp_server: SmtpTestServer
) -> None:
    clock = SystemClock()
    ids = await queue_codes(store, clock, *(f"user{n:03d}@example.com" for n in range(100)))
    assert len(ids) == 100
    first, second = (dispatcher(store, smtp_server, clock) for _ in range(2))
    assert first.owner != second.owner

    handled = await asyncio.gather(drain(first), drain(second))

    assert sum(map(sum, handled)) == 100  # no message was claimed twice
    delivered = received_ids(smtp_server)
    assert len(delivered) == 100
    assert set(delivered) == set(ids)
    counts = await store.outbox.count_by_status()
    assert counts[OutboxStatus.SENT] == 100
    assert counts[OutboxStatus.PENDING] == counts[OutboxStatus.SENDING] == 0


async def test_two_dispatchers_share_the_work(
    store: Store, smtp_server: SmtpTestServer, request: pytest.FixtureRequest
) -> None:
    clock = SystemClock()
    await queue_codes(store, clock, *(f"user{n:02d}@example.com" for n in range(40)))
    first, second = (dispatcher(store, smtp_server, clock) for _ in range(2))

    handled = await asyncio.gather(drain(first), drain(second))

    assert all(batches for batches in handled)  # both took part
    assert max(max(batches) for batches in handled) <= FAST.batch_size
    assert len(set(received_ids(smtp_server))) == 40
