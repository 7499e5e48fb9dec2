"""Contract of ``LoginLockoutRepository``, run against every backend of ``backend``."""

import asyncio
from datetime import timedelta

from tests.contract.conftest import Backend

ACCOUNT = "hmac-of-alice@example.com"
KEY = "hmac-of-alice@example.com-from-203.0.113.7"
OTHER = "hmac-of-alice@example.com-from-198.51.100.9"
STRANGER = "hmac-of-bob@example.com-from-203.0.113.7"
MAX_FAILURES = 3
# The doubling, capped series the service passes: 60 s, 120 s, then 240 s for good.
LOCKS = [60, 120, 240]


async def fail(backend: Backend, times: int, key: str = KEY, account: str = ACCOUNT) -> None:
    for _ in range(times):
        await backend.lockouts.record_attempt(
            key, account, backend.clock.now(), MAX_FAILURES, LOCKS
        )


async def test_an_unknown_key_has_no_state(backend: Backend) -> None:
    assert await backend.lockouts.get(KEY) is None


async def test_failures_below_the_maximum_count_without_locking(backend: Backend) -> None:
    now = backend.clock.now()
    first = await backend.lockouts.record_attempt(KEY, ACCOUNT, now, MAX_FAILURES, LOCKS)
    second = await backend.lockouts.record_attempt(KEY, ACCOUNT, now, MAX_FAILURES, LOCKS)

    assert (first.failures, second.failures) == (1, 2)
    assert second.lockouts == 0
    assert second.locked_until is None
    assert not second.is_locked(now)
    assert await backend.lockouts.get(KEY) == second


async def test_the_maximum_locks_for_the_first_length_and_resets_the_count(
    backend: Backend,
) -> None:
    await fail(backend, MAX_FAILURES - 1)
    now = backend.clock.now()

    locked = await backend.lockouts.record_attempt(KEY, ACCOUNT, now, MAX_FAILURES, LOCKS)

    assert locked.failures == 0
    assert locked.lockouts == 1
    assert locked.locked_until == now + timedelta(seconds=LOCKS[0])
    assert locked.locked_until is not None
    assert locked.locked_until.utcoffset() == timedelta(0)
    assert locked.is_locked(now + timedelta(seconds=LOCKS[0] - 1))
    assert not locked.is_locked(now + timedelta(seconds=LOCKS[0]))
    assert await backend.lockouts.get(KEY) == locked


async def test_each_further_lock_takes_the_next_length_up_to_the_last(backend: Backend) -> None:
    lengths = []
    for _ in range(len(LOCKS) + 2):
        await fail(backend, MAX_FAILURES - 1)
        now = backend.clock.now()
        lock = await backend.lockouts.record_attempt(KEY, ACCOUNT, now, MAX_FAILURES, LOCKS)
        assert lock.locked_until is not None
        lengths.append(int((lock.locked_until - now).total_seconds()))
        backend.clock.advance(seconds=lock.locked_until.timestamp() - now.timestamp())

    assert lengths == [60, 120, 240, 240, 240]
    state = await backend.lockouts.get(KEY)
    assert state is not None
    assert state.lockouts == len(LOCKS) + 2


async def test_a_success_forgets_failures_and_lockouts_of_that_pair_only(
    backend: Backend,
) -> None:
    await fail(backend, MAX_FAILURES)
    await fail(backend, 1, key=OTHER)

    await backend.lockouts.record_success(KEY)

    state = await backend.lockouts.get(KEY)
    assert state is not None
    assert (state.failures, state.lockouts, state.locked_until) == (0, 0, None)
    other = await backend.lockouts.get(OTHER)
    assert other is not None
    assert other.failures == 1
    # After a success the series starts again from the first length.
    await fail(backend, MAX_FAILURES - 1)
    now = backend.clock.now()
    lock = await backend.lockouts.record_attempt(KEY, ACCOUNT, now, MAX_FAILURES, LOCKS)
    assert lock.locked_until == now + timedelta(seconds=LOCKS[0])


async def test_a_success_of_an_unknown_pair_is_harmless(backend: Backend) -> None:
    await backend.lockouts.record_success(KEY)
    assert await backend.lockouts.get(KEY) is None


async def test_unlock_lifts_every_client_of_the_account_and_admits_the_one_that_proved(
    backend: Backend,
) -> None:
    await fail(backend, MAX_FAILURES)
    await fail(backend, MAX_FAILURES, key=OTHER)
    await fail(backend, MAX_FAILURES, key=STRANGER, account="hmac-of-bob@example.com")
    now = backend.clock.now()
    until = now + timedelta(days=1)

    await backend.lockouts.unlock(ACCOUNT, KEY, now, until)

    proved = await backend.lockouts.get(KEY)
    assert proved is not None
    assert not proved.is_locked(now)
    assert (proved.failures, proved.lockouts) == (0, 0)
    assert proved.unlocked_until == until
    assert proved.is_unlocked(now)
    assert not proved.is_unlocked(until)
    other = await backend.lockouts.get(OTHER)
    assert other is not None
    assert not other.is_locked(now)
    assert not other.is_unlocked(now), "only the client that proved is let past the budget"
    stranger = await backend.lockouts.get(STRANGER)
    assert stranger is not None
    assert stranger.is_locked(now), "another account's locks stay"


async def test_unlock_creates_the_pair_it_admits_and_a_success_keeps_it(
    backend: Backend,
) -> None:
    now = backend.clock.now()
    until = now + timedelta(hours=1)

    await backend.lockouts.unlock(ACCOUNT, KEY, now, until)
    await fail(backend, 1)
    await backend.lockouts.record_success(KEY)

    state = await backend.lockouts.get(KEY)
    assert state is not None
    assert state.failures == 0
    assert state.unlocked_until == until


async def test_concurrent_failures_are_each_counted_once(backend: Backend) -> None:
    now = backend.clock.now()
    attempts = 12

    await asyncio.gather(
        *(backend.lockouts.record_attempt(KEY, ACCOUNT, now, 100, LOCKS) for _ in range(attempts))
    )

    state = await backend.lockouts.get(KEY)
    assert state is not None
    assert (state.failures, state.lockouts) == (attempts, 0)


async def test_a_locked_pair_counts_no_attempt_until_the_lock_ends(backend: Backend) -> None:
    await fail(backend, MAX_FAILURES)
    now = backend.clock.now()
    locked = await backend.lockouts.get(KEY)
    assert locked is not None
    assert locked.locked_until is not None

    assert await backend.lockouts.record_attempt(KEY, ACCOUNT, now, MAX_FAILURES, LOCKS) is None
    assert await backend.lockouts.get(KEY) == locked, "a refused attempt changes nothing"

    backend.clock.advance(seconds=LOCKS[0])
    counted = await backend.lockouts.record_attempt(
        KEY, ACCOUNT, backend.clock.now(), MAX_FAILURES, LOCKS
    )
    assert counted is not None
    assert (counted.failures, counted.lockouts) == (1, 1)


async def test_concurrent_attempts_on_a_pair_count_at_most_up_to_its_lock(backend: Backend) -> None:
    now = backend.clock.now()

    results = await asyncio.gather(
        *(
            backend.lockouts.record_attempt(KEY, ACCOUNT, now, MAX_FAILURES, LOCKS)
            for _ in range(12)
        )
    )

    counted = [result for result in results if result is not None]
    assert len(counted) == MAX_FAILURES, "attempts past the lock are refused, not counted"
    state = await backend.lockouts.get(KEY)
    assert state is not None
    assert state.lockouts == 1
