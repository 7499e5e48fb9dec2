"""Contract of ``OutboxRepository``, run against every backend of ``backend``."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from app.models.email import EmailKind, OutboxMessage, OutboxStatus
from app.utils.ids import new_id
from tests.contract.conftest import Backend

LEASE = timedelta(seconds=30)
# The smallest step every backend stores (MongoDB keeps milliseconds).
TICK = timedelta(milliseconds=1)
MAX_ERROR_LENGTH = 1000

Finish = Callable[[Backend, str, str, datetime], Awaitable[bool]]


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None, value
    assert value.utcoffset() == timedelta(0), value


def ids(messages: list[OutboxMessage]) -> list[str]:
    return [message.id for message in messages]


async def stored(backend: Backend, message_id: str) -> OutboxMessage:
    message = await backend.outbox.get(message_id)
    assert message is not None, message_id
    return message


async def claim_one(backend: Backend, owner: str, now: datetime) -> OutboxMessage:
    """Claim exactly one message (the store must hold exactly one due message)."""
    claimed = await backend.outbox.claim(owner, now, now + LEASE, limit=10)
    assert len(claimed) == 1, claimed
    return claimed[0]


async def finish_sent(backend: Backend, message_id: str, owner: str, now: datetime) -> bool:
    return await backend.outbox.mark_sent(message_id, owner, now)


async def finish_retry(backend: Backend, message_id: str, owner: str, now: datetime) -> bool:
    return await backend.outbox.mark_retry(
        message_id, owner, "smtp down", now + timedelta(minutes=5), now
    )


async def finish_failed(backend: Backend, message_id: str, owner: str, now: datetime) -> bool:
    return await backend.outbox.mark_failed(message_id, owner, "bounced", now)


FINISHERS: dict[str, Finish] = {
    "mark_sent": finish_sent,
    "mark_retry": finish_retry,
    "mark_failed": finish_failed,
}


# --- add / get -------------------------------------------------------------------------


async def test_add_then_get_round_trips_every_field(backend: Backend) -> None:
    message = backend.new_message(
        recipient="alice@example.com",
        kind=EmailKind.PASSWORD_RESET_CODE,
        subject="Your code",
        next_attempt_at=backend.clock.now() + timedelta(minutes=1),
    )

    await backend.outbox.add(message)
    got = await backend.outbox.get(message.id)

    assert got == message
    assert got is not None
    assert got.kind is EmailKind.PASSWORD_RESET_CODE
    assert got.status is OutboxStatus.PENDING
    assert got.text_body == "Hello alice@example.com"
    assert got.html_body == "<p>Hello alice@example.com</p>"
    assert got.lease_owner is None
    assert got.lease_until is None
    assert got.last_error is None
    assert got.sent_at is None
    for value in (got.next_attempt_at, got.created_at, got.updated_at):
        assert_utc(value)


async def test_add_keeps_every_optional_field(backend: Backend) -> None:
    now = backend.clock.now()
    message = replace(
        backend.new_message(),
        status=OutboxStatus.SENT,
        attempts=3,
        lease_owner="worker-1",
        lease_until=now + LEASE,
        last_error="earlier failure",
        sent_at=now,
    )

    await backend.outbox.add(message)

    got = await stored(backend, message.id)
    assert got == message
    assert got.status is OutboxStatus.SENT
    assert_utc(got.lease_until)
    assert_utc(got.sent_at)


async def test_get_missing_message_is_none(backend: Backend) -> None:
    await backend.add_message()
    assert await backend.outbox.get(new_id()) is None


# --- claim -----------------------------------------------------------------------------


async def test_claim_returns_only_due_pending_messages(backend: Backend) -> None:
    now = backend.clock.now()
    overdue = await backend.add_message(next_attempt_at=now - timedelta(minutes=5))
    due_now = await backend.add_message(next_attempt_at=now)
    almost = await backend.add_message(next_attempt_at=now + TICK)
    later = await backend.add_message(next_attempt_at=now + timedelta(hours=1))

    claimed = await backend.outbox.claim("worker-1", now, now + LEASE, limit=10)

    assert sorted(ids(claimed)) == sorted([overdue.id, due_now.id])
    for message in (almost, later):
        assert await stored(backend, message.id) == message


async def test_claim_compares_instants_whatever_the_time_zone(backend: Backend) -> None:
    queued = await backend.add_message()
    due = queued.next_attempt_at
    east = timezone(timedelta(hours=5))
    west = timezone(timedelta(hours=-3))

    before = (due - TICK).astimezone(east)
    assert await backend.outbox.claim("worker-1", before, before + LEASE, limit=10) == []
    at = due.astimezone(west)
    claimed = await backend.outbox.claim("worker-1", at, at + LEASE, limit=10)

    assert ids(claimed) == [queued.id]
    assert claimed[0].lease_until == due + LEASE
    assert_utc(claimed[0].lease_until)
    assert_utc(claimed[0].updated_at)


async def test_claim_leases_each_message_and_counts_an_attempt(backend: Backend) -> None:
    queued = await backend.add_message()
    now = backend.clock.advance(seconds=5)
    lease_until = now + LEASE

    claimed = await backend.outbox.claim("worker-1", now, lease_until, limit=10)

    assert len(claimed) == 1
    message = claimed[0]
    assert message.id == queued.id
    assert message.status is OutboxStatus.SENDING
    assert message.lease_owner == "worker-1"
    assert message.lease_until == lease_until
    assert message.attempts == queued.attempts + 1
    assert message.updated_at == now
    assert_utc(message.lease_until)
    assert_utc(message.updated_at)
    # Everything else is untouched.
    assert message.recipient == queued.recipient
    assert message.subject == queued.subject
    assert message.text_body == queued.text_body
    assert message.html_body == queued.html_body
    assert message.kind is queued.kind
    assert message.created_at == queued.created_at
    assert message.next_attempt_at == queued.next_attempt_at
    assert message.sent_at is None
    assert await stored(backend, queued.id) == message


async def test_claim_respects_the_limit(backend: Backend) -> None:
    start = backend.clock.now()
    # Queued as the app queues them: each due when it was created.
    queued = [
        await backend.add_message(next_attempt_at=start + timedelta(seconds=i)) for i in range(5)
    ]
    now = backend.clock.advance(minutes=1)

    first = await backend.outbox.claim("worker-1", now, now + LEASE, limit=2)
    second = await backend.outbox.claim("worker-2", now, now + LEASE, limit=2)
    third = await backend.outbox.claim("worker-3", now, now + LEASE, limit=2)
    fourth = await backend.outbox.claim("worker-4", now, now + LEASE, limit=2)

    assert (len(first), len(second), len(third), len(fourth)) == (2, 2, 1, 0)
    every = ids(first) + ids(second) + ids(third)
    assert sorted(every) == sorted(ids(queued))
    counts = await backend.outbox.count_by_status()
    assert counts[OutboxStatus.SENDING] == 5
    assert counts[OutboxStatus.PENDING] == 0


async def test_claim_with_limit_one_leaves_the_rest_pending(backend: Backend) -> None:
    now = backend.clock.now()
    queued = [await backend.add_message() for _ in range(3)]

    claimed = await backend.outbox.claim("worker-1", now, now + LEASE, limit=1)

    assert len(claimed) == 1
    assert claimed[0].id in ids(queued)
    for message in queued:
        if message.id != claimed[0].id:
            assert await stored(backend, message.id) == message


async def test_claim_with_nothing_due_is_empty(backend: Backend) -> None:
    now = backend.clock.now()
    assert await backend.outbox.claim("worker-1", now, now + LEASE, limit=10) == []
    future = await backend.add_message(next_attempt_at=now + timedelta(minutes=1))

    assert await backend.outbox.claim("worker-1", now, now + LEASE, limit=10) == []
    assert await stored(backend, future.id) == future


async def test_sent_and_failed_messages_are_never_claimed(backend: Backend) -> None:
    now = backend.clock.now()
    long_ago = now - timedelta(days=1)
    sent = replace(
        backend.new_message(next_attempt_at=long_ago), status=OutboxStatus.SENT, sent_at=long_ago
    )
    failed = replace(
        backend.new_message(next_attempt_at=long_ago),
        status=OutboxStatus.FAILED,
        last_error="gave up",
    )
    await backend.outbox.add(sent)
    await backend.outbox.add(failed)

    assert await backend.outbox.claim("worker-1", now, now + LEASE, limit=10) == []
    assert await stored(backend, sent.id) == sent
    assert await stored(backend, failed.id) == failed


async def test_a_message_under_a_live_lease_is_not_claimable(backend: Backend) -> None:
    await backend.add_message()
    now = backend.clock.now()
    taken = await claim_one(backend, "worker-1", now)
    assert taken.lease_until is not None

    for at in (now, now + timedelta(seconds=10), taken.lease_until - TICK):
        assert await backend.outbox.claim("worker-2", at, at + LEASE, limit=10) == []
        # Not even the owner gets it twice.
        assert await backend.outbox.claim("worker-1", at, at + LEASE, limit=10) == []

    assert await stored(backend, taken.id) == taken


@pytest.mark.parametrize("after_expiry", [timedelta(0), timedelta(minutes=10)])
async def test_an_expired_lease_makes_the_message_claimable_again(
    backend: Backend, after_expiry: timedelta
) -> None:
    queued = await backend.add_message()
    first = await claim_one(backend, "worker-1", backend.clock.now())
    assert first.lease_until is not None
    now = first.lease_until + after_expiry

    second = await backend.outbox.claim("worker-2", now, now + LEASE, limit=10)

    assert ids(second) == [queued.id]
    again = second[0]
    assert again.status is OutboxStatus.SENDING
    assert again.lease_owner == "worker-2"
    assert again.lease_until == now + LEASE
    assert again.attempts == 2
    assert again.updated_at == now
    # The worker that lost its lease can no longer finish the message.
    assert await backend.outbox.mark_sent(queued.id, "worker-1", now) is False
    assert await backend.outbox.mark_sent(queued.id, "worker-2", now) is True
    final = await stored(backend, queued.id)
    assert final.status is OutboxStatus.SENT
    assert final.attempts == 2


async def test_each_claim_counts_one_more_attempt(backend: Backend) -> None:
    queued = await backend.add_message()
    for attempt in range(1, 4):
        now = backend.clock.advance(minutes=1)
        message = await claim_one(backend, "worker-1", now)
        assert message.attempts == attempt
        retry_at = now + timedelta(seconds=30)
        assert await backend.outbox.mark_retry(queued.id, "worker-1", "try again", retry_at, now)
    assert (await stored(backend, queued.id)).attempts == 3


# --- claim under concurrency -----------------------------------------------------------


def assert_partition(
    batches: dict[str, list[OutboxMessage]], expected: set[str], label: str
) -> None:
    every = [message.id for batch in batches.values() for message in batch]
    assert len(every) == len(set(every)), f"{label}: a message was handed out twice"
    assert set(every) == expected, f"{label}: {len(expected - set(every))} messages unclaimed"
    for owner, batch in batches.items():
        for message in batch:
            assert message.lease_owner == owner
            assert message.status is OutboxStatus.SENDING


async def assert_stored_owners(backend: Backend, batches: dict[str, list[OutboxMessage]]) -> None:
    for owner, batch in batches.items():
        for message in batch:
            assert (await stored(backend, message.id)).lease_owner == owner


@pytest.mark.parametrize("claimers", [2, 5])
async def test_concurrent_claims_hand_each_message_to_exactly_one_claimer(
    backend: Backend, claimers: int
) -> None:
    now = backend.clock.now()
    queued = [await backend.add_message(recipient=f"user{i}@example.com") for i in range(50)]
    owners = [f"worker-{i}" for i in range(claimers)]

    results = await asyncio.gather(
        *(backend.outbox.claim(owner, now, now + LEASE, limit=50) for owner in owners)
    )

    batches = dict(zip(owners, results, strict=True))
    assert_partition(batches, set(ids(queued)), f"{claimers} claimers")
    await assert_stored_owners(backend, batches)
    assert all(message.attempts == 1 for batch in results for message in batch)
    assert await backend.outbox.claim("late", now, now + LEASE, limit=50) == []


@pytest.mark.parametrize("claimers", [2, 5])
async def test_concurrent_workers_draining_in_small_batches_never_share_a_message(
    backend: Backend, claimers: int
) -> None:
    now = backend.clock.now()
    queued = [await backend.add_message(recipient=f"user{i}@example.com") for i in range(50)]
    limit = 7

    async def drain(owner: str) -> list[OutboxMessage]:
        received: list[OutboxMessage] = []
        while batch := await backend.outbox.claim(owner, now, now + LEASE, limit=limit):
            received.extend(batch)
        return received

    owners = [f"worker-{i}" for i in range(claimers)]
    results = await asyncio.gather(*(drain(owner) for owner in owners))

    batches = dict(zip(owners, results, strict=True))
    assert_partition(batches, set(ids(queued)), f"{claimers} draining workers")
    await assert_stored_owners(backend, batches)
    counts = await backend.outbox.count_by_status()
    assert counts[OutboxStatus.SENDING] == 50
    assert counts[OutboxStatus.PENDING] == 0


@pytest.mark.parametrize("claimers", [2, 5])
async def test_concurrent_claims_respect_the_limit(backend: Backend, claimers: int) -> None:
    now = backend.clock.now()
    for i in range(50):
        await backend.add_message(recipient=f"user{i}@example.com")
    limit = 7
    owners = [f"worker-{i}" for i in range(claimers)]

    results = await asyncio.gather(
        *(backend.outbox.claim(owner, now, now + LEASE, limit=limit) for owner in owners)
    )

    sizes = [len(batch) for batch in results]
    assert all(size <= limit for size in sizes), sizes
    # "Up to limit" each: a claimer may lose rows to a concurrent one, but not all do.
    assert limit <= sum(sizes) <= claimers * limit, sizes
    every = [message.id for batch in results for message in batch]
    assert len(every) == len(set(every))
    await assert_stored_owners(backend, dict(zip(owners, results, strict=True)))
    counts = await backend.outbox.count_by_status()
    assert counts[OutboxStatus.SENDING] == sum(sizes)
    assert counts[OutboxStatus.PENDING] == 50 - sum(sizes)


@pytest.mark.parametrize("claimers", [2, 5])
async def test_concurrent_claims_of_expired_leases_hand_each_message_to_one_claimer(
    backend: Backend, claimers: int
) -> None:
    start = backend.clock.now()
    queued = [await backend.add_message(recipient=f"user{i}@example.com") for i in range(50)]
    dead = await backend.outbox.claim("dead-worker", start, start + LEASE, limit=50)
    assert len(dead) == 50
    now = start + LEASE
    owners = [f"worker-{i}" for i in range(claimers)]

    results = await asyncio.gather(
        *(backend.outbox.claim(owner, now, now + LEASE, limit=50) for owner in owners)
    )

    batches = dict(zip(owners, results, strict=True))
    assert_partition(batches, set(ids(queued)), f"{claimers} claimers of expired leases")
    await assert_stored_owners(backend, batches)
    assert all(message.attempts == 2 for batch in results for message in batch)


# --- mark_sent / mark_retry / mark_failed ----------------------------------------------


async def test_mark_sent_records_delivery(backend: Backend) -> None:
    queued = await backend.add_message()
    message = await claim_one(backend, "worker-1", backend.clock.now())
    now = backend.clock.advance(seconds=2)

    assert await backend.outbox.mark_sent(queued.id, "worker-1", now) is True

    sent = await stored(backend, queued.id)
    assert sent.status is OutboxStatus.SENT
    assert sent.sent_at == now
    assert sent.updated_at == now
    assert_utc(sent.sent_at)
    assert sent.attempts == message.attempts == 1
    assert sent.last_error is None
    assert sent.created_at == queued.created_at
    # Sent is final: no one claims it again, even long after the lease.
    later = backend.clock.advance(days=1)
    assert await backend.outbox.claim("worker-2", later, later + LEASE, limit=10) == []


async def test_mark_retry_releases_the_lease_and_schedules_another_attempt(
    backend: Backend,
) -> None:
    queued = await backend.add_message()
    await claim_one(backend, "worker-1", backend.clock.now())
    now = backend.clock.advance(seconds=2)
    retry_at = now + timedelta(minutes=5)

    assert await backend.outbox.mark_retry(queued.id, "worker-1", "421 try later", retry_at, now)

    pending = await stored(backend, queued.id)
    assert pending.status is OutboxStatus.PENDING
    assert pending.next_attempt_at == retry_at
    assert pending.last_error == "421 try later"
    assert pending.updated_at == now
    assert pending.lease_owner is None
    assert pending.lease_until is None
    assert pending.attempts == 1
    assert pending.sent_at is None
    # Not due before the new time, due from it on.
    before = retry_at - TICK
    assert await backend.outbox.claim("worker-2", before, before + LEASE, limit=10) == []
    again = await backend.outbox.claim("worker-2", retry_at, retry_at + LEASE, limit=10)
    assert ids(again) == [queued.id]
    assert again[0].attempts == 2
    assert again[0].last_error == "421 try later"


async def test_mark_failed_gives_up_but_keeps_the_message(backend: Backend) -> None:
    queued = await backend.add_message()
    await claim_one(backend, "worker-1", backend.clock.now())
    now = backend.clock.advance(seconds=2)

    assert await backend.outbox.mark_failed(queued.id, "worker-1", "550 no such user", now)

    failed = await stored(backend, queued.id)
    assert failed.status is OutboxStatus.FAILED
    assert failed.last_error == "550 no such user"
    assert failed.updated_at == now
    assert failed.sent_at is None
    assert failed.attempts == 1
    assert ids(await backend.outbox.list_messages(OutboxStatus.FAILED, 10, None)) == [queued.id]
    later = backend.clock.advance(days=1)
    assert await backend.outbox.claim("worker-2", later, later + LEASE, limit=10) == []


@pytest.mark.parametrize("method", ["mark_retry", "mark_failed"])
@pytest.mark.parametrize("text", ["x" * 1500, "é" * 1001 + "tail", "y" * MAX_ERROR_LENGTH])
async def test_the_error_is_truncated_to_1000_characters(
    backend: Backend, method: str, text: str
) -> None:
    queued = await backend.add_message()
    await claim_one(backend, "worker-1", backend.clock.now())
    now = backend.clock.advance(seconds=1)

    if method == "mark_retry":
        done = await backend.outbox.mark_retry(queued.id, "worker-1", text, now, now)
    else:
        done = await backend.outbox.mark_failed(queued.id, "worker-1", text, now)

    assert done is True
    message = await stored(backend, queued.id)
    assert message.last_error == text[:MAX_ERROR_LENGTH]
    assert message.last_error is not None
    assert len(message.last_error) == MAX_ERROR_LENGTH


@pytest.mark.parametrize("finisher", list(FINISHERS))
async def test_only_the_lease_owner_can_finish(backend: Backend, finisher: str) -> None:
    queued = await backend.add_message()
    leased = await claim_one(backend, "worker-1", backend.clock.now())
    now = backend.clock.advance(seconds=1)
    finish = FINISHERS[finisher]

    assert await finish(backend, queued.id, "worker-2", now) is False
    assert await finish(backend, queued.id, "", now) is False
    assert await stored(backend, queued.id) == leased

    assert await finish(backend, queued.id, "worker-1", now) is True
    assert (await stored(backend, queued.id)).status is not OutboxStatus.SENDING


@pytest.mark.parametrize("finisher", list(FINISHERS))
async def test_finishing_an_unknown_message_is_false(backend: Backend, finisher: str) -> None:
    await backend.add_message()
    await claim_one(backend, "worker-1", backend.clock.now())
    assert await FINISHERS[finisher](backend, new_id(), "worker-1", backend.clock.now()) is False


@pytest.mark.parametrize("first", list(FINISHERS))
@pytest.mark.parametrize("second", list(FINISHERS))
async def test_a_finished_message_cannot_be_finished_again(
    backend: Backend, first: str, second: str
) -> None:
    queued = await backend.add_message()
    await claim_one(backend, "worker-1", backend.clock.now())
    now = backend.clock.advance(seconds=1)
    assert await FINISHERS[first](backend, queued.id, "worker-1", now) is True
    after_first = await stored(backend, queued.id)

    later = backend.clock.advance(seconds=1)
    assert await FINISHERS[second](backend, queued.id, "worker-1", later) is False

    assert await stored(backend, queued.id) == after_first


@pytest.mark.parametrize("finisher", list(FINISHERS))
async def test_a_never_claimed_message_cannot_be_finished(backend: Backend, finisher: str) -> None:
    queued = await backend.add_message()
    assert await FINISHERS[finisher](backend, queued.id, "worker-1", backend.clock.now()) is False
    assert await stored(backend, queued.id) == queued


@pytest.mark.parametrize("finisher", list(FINISHERS))
@pytest.mark.parametrize("status", [OutboxStatus.PENDING, OutboxStatus.SENT, OutboxStatus.FAILED])
async def test_finishing_needs_status_sending_even_for_the_named_owner(
    backend: Backend, finisher: str, status: OutboxStatus
) -> None:
    now = backend.clock.now()
    # A stale owner left on a message that is no longer being sent.
    message = replace(
        backend.new_message(), status=status, lease_owner="worker-1", lease_until=now + LEASE
    )
    await backend.outbox.add(message)

    assert await FINISHERS[finisher](backend, message.id, "worker-1", now) is False
    assert await stored(backend, message.id) == message


# --- requeue_failed --------------------------------------------------------------------


async def add_failed(backend: Backend, status: OutboxStatus = OutboxStatus.FAILED) -> OutboxMessage:
    """A message the worker finished long ago (gave up on, by default), a stale lease on it."""
    long_ago = backend.clock.now() - timedelta(days=1)
    message = replace(
        backend.new_message(created_at=long_ago),
        status=status,
        attempts=8,
        last_error="550 mailbox unavailable",
        lease_owner="dead-worker",
        lease_until=long_ago + LEASE,
    )
    await backend.outbox.add(message)
    return message


def requeued(message: OutboxMessage, now: datetime) -> OutboxMessage:
    """``message`` as requeue_failed leaves it: only the delivery state changes."""
    return replace(
        message,
        status=OutboxStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        updated_at=now,
        lease_owner=None,
        lease_until=None,
    )


async def test_requeue_failed_puts_every_failed_message_back_in_the_queue(
    backend: Backend,
) -> None:
    stale = await add_failed(backend)
    queued = await backend.add_message()
    await claim_one(backend, "worker-1", backend.clock.now())
    assert await backend.outbox.mark_failed(queued.id, "worker-1", "bounced", backend.clock.now())
    gave_up = await stored(backend, queued.id)
    sent = await backend.add_message()
    await claim_one(backend, "worker-1", backend.clock.now())
    assert await backend.outbox.mark_sent(sent.id, "worker-1", backend.clock.now())
    sending = await backend.add_message()
    await claim_one(backend, "worker-2", backend.clock.now())
    pending = await backend.add_message(next_attempt_at=backend.clock.now() + LEASE)
    untouched = {m.id: await stored(backend, m.id) for m in (sent, sending, pending)}
    # Within the live lease, before the pending message is due: only requeued ones are.
    now = backend.clock.advance(seconds=1)

    assert await backend.outbox.requeue_failed(now, None) == 2

    # The error stays until a new attempt replaces it.
    assert await stored(backend, stale.id) == requeued(stale, now)
    assert await stored(backend, gave_up.id) == requeued(gave_up, now)
    assert (await stored(backend, gave_up.id)).last_error == "bounced"
    for message_id, message in untouched.items():
        assert await stored(backend, message_id) == message
    assert (await backend.outbox.count_by_status())[OutboxStatus.FAILED] == 0
    # Due at once, with the full number of attempts ahead of it again.
    claimed = await backend.outbox.claim("worker-3", now, now + LEASE, limit=10)
    assert sorted(ids(claimed)) == sorted([stale.id, gave_up.id])
    assert all(message.attempts == 1 for message in claimed)
    assert await backend.outbox.requeue_failed(now, None) == 0


async def test_requeue_failed_with_ids_requeues_only_those_that_failed(backend: Backend) -> None:
    first, second, third = [await add_failed(backend) for _ in range(3)]
    sent = await add_failed(backend, status=OutboxStatus.SENT)
    now = backend.clock.advance(seconds=1)

    assert await backend.outbox.requeue_failed(now, []) == 0
    assert (await backend.outbox.count_by_status())[OutboxStatus.FAILED] == 3

    # Not failed, unknown and repeated ids are no error; they are just not counted.
    count = await backend.outbox.requeue_failed(now, [first.id, sent.id, new_id(), first.id])

    assert count == 1
    assert await stored(backend, first.id) == requeued(first, now)
    assert await stored(backend, sent.id) == sent
    assert await stored(backend, second.id) == second
    assert await stored(backend, third.id) == third
    assert await backend.outbox.requeue_failed(now, [second.id, third.id]) == 2
    assert await stored(backend, third.id) == requeued(third, now)


# --- list_messages ---------------------------------------------------------------------


async def test_list_messages_is_newest_first(backend: Backend) -> None:
    queued = [await backend.add_message(recipient=f"user{i}@example.com") for i in range(4)]

    listed = await backend.outbox.list_messages(None, 10, None)

    assert ids(listed) == ids(queued)[::-1]
    assert listed[0] == queued[-1]


async def test_list_messages_of_an_empty_outbox_is_empty(backend: Backend) -> None:
    assert await backend.outbox.list_messages(None, 10, None) == []
    assert await backend.outbox.list_messages(OutboxStatus.PENDING, 10, None) == []


async def test_list_messages_respects_the_limit(backend: Backend) -> None:
    queued = [await backend.add_message() for _ in range(5)]
    assert ids(await backend.outbox.list_messages(None, 2, None)) == [queued[4].id, queued[3].id]
    assert ids(await backend.outbox.list_messages(None, 1, None)) == [queued[4].id]


MIXED = [
    OutboxStatus.PENDING,
    OutboxStatus.SENT,
    OutboxStatus.FAILED,
    OutboxStatus.SENDING,
    OutboxStatus.PENDING,
    OutboxStatus.FAILED,
    OutboxStatus.SENT,
    OutboxStatus.FAILED,
]


async def add_mixed(backend: Backend) -> list[OutboxMessage]:
    """Messages with interleaved statuses, oldest first."""
    now = backend.clock.now()
    messages = []
    for status in MIXED:
        message = replace(backend.new_message(), status=status)
        if status is OutboxStatus.SENDING:
            message = replace(message, lease_owner="worker-1", lease_until=now + LEASE)
        await backend.outbox.add(message)
        messages.append(message)
    return messages


async def test_list_messages_filters_by_status(backend: Backend) -> None:
    messages = await add_mixed(backend)

    for status in OutboxStatus:
        listed = await backend.outbox.list_messages(status, 10, None)
        expected = [m.id for m in reversed(messages) if m.status is status]
        assert ids(listed) == expected, status
        assert all(m.status is status for m in listed)


async def test_list_messages_filters_the_statuses_set_by_the_worker(backend: Backend) -> None:
    sent, failed, retried = [await backend.add_message() for _ in range(3)]
    untouched = await backend.add_message(next_attempt_at=backend.clock.now() + LEASE)
    now = backend.clock.now()
    assert len(await backend.outbox.claim("worker-1", now, now + LEASE, limit=10)) == 3
    assert await backend.outbox.mark_sent(sent.id, "worker-1", now)
    assert await backend.outbox.mark_failed(failed.id, "worker-1", "boom", now)
    assert await backend.outbox.mark_retry(retried.id, "worker-1", "later", now + LEASE, now)

    assert ids(await backend.outbox.list_messages(OutboxStatus.SENT, 10, None)) == [sent.id]
    assert ids(await backend.outbox.list_messages(OutboxStatus.FAILED, 10, None)) == [failed.id]
    assert await backend.outbox.list_messages(OutboxStatus.SENDING, 10, None) == []
    pending = await backend.outbox.list_messages(OutboxStatus.PENDING, 10, None)
    assert ids(pending) == [untouched.id, retried.id]


async def test_list_messages_pages_with_before_id(backend: Backend) -> None:
    queued = [await backend.add_message(recipient=f"user{i}@example.com") for i in range(7)]
    pages: list[list[str]] = []
    before: str | None = None

    while page := ids(await backend.outbox.list_messages(None, 3, before)):
        pages.append(page)
        before = page[-1]

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [message_id for page in pages for message_id in page] == ids(queued)[::-1]


async def test_list_messages_before_id_is_exclusive(backend: Backend) -> None:
    queued = [await backend.add_message() for _ in range(4)]

    assert ids(await backend.outbox.list_messages(None, 10, queued[2].id)) == [
        queued[1].id,
        queued[0].id,
    ]
    assert await backend.outbox.list_messages(None, 10, queued[0].id) == []


async def test_list_messages_pages_one_status_with_before_id(backend: Backend) -> None:
    messages = await add_mixed(backend)
    failed = [m.id for m in reversed(messages) if m.status is OutboxStatus.FAILED]
    assert len(failed) == 3

    first = await backend.outbox.list_messages(OutboxStatus.FAILED, 2, None)
    rest = await backend.outbox.list_messages(OutboxStatus.FAILED, 2, first[-1].id)
    assert ids(first) + ids(rest) == failed
    assert len(rest) == 1

    # ``before_id`` may name a message of another status: the page continues below it.
    sending = messages[3]
    assert sending.status is OutboxStatus.SENDING
    below = await backend.outbox.list_messages(OutboxStatus.FAILED, 10, sending.id)
    assert ids(below) == [messages[2].id]


# --- count_by_status -------------------------------------------------------------------


async def test_count_by_status_of_an_empty_outbox_is_all_zeros(backend: Backend) -> None:
    counts = await backend.outbox.count_by_status()
    assert counts == dict.fromkeys(OutboxStatus, 0)
    assert set(counts) == set(OutboxStatus)


async def test_count_by_status_counts_every_status(backend: Backend) -> None:
    now = backend.clock.now()
    due = [await backend.add_message() for _ in range(4)]
    later = [await backend.add_message(next_attempt_at=now + LEASE) for _ in range(3)]
    queued = due + later
    claimed = await backend.outbox.claim("worker-1", now, now + LEASE, limit=10)
    assert sorted(ids(claimed)) == sorted(ids(due))
    assert await backend.outbox.mark_sent(claimed[0].id, "worker-1", now)
    assert await backend.outbox.mark_failed(claimed[1].id, "worker-1", "boom", now)

    counts = await backend.outbox.count_by_status()

    assert counts == {
        OutboxStatus.PENDING: 3,
        OutboxStatus.SENDING: 2,
        OutboxStatus.SENT: 1,
        OutboxStatus.FAILED: 1,
    }
    assert sum(counts.values()) == len(queued)


async def test_count_by_status_includes_zero_for_missing_statuses(backend: Backend) -> None:
    await backend.add_message()
    await backend.add_message()

    counts = await backend.outbox.count_by_status()

    assert counts == {
        OutboxStatus.PENDING: 2,
        OutboxStatus.SENDING: 0,
        OutboxStatus.SENT: 0,
        OutboxStatus.FAILED: 0,
    }
