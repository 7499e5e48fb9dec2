"""Contract of ``OneTimeCodeRepository`` and ``CooldownRepository``, run on every backend."""

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from app.models.one_time_code import CodePurpose
from app.models.user import User
from app.utils.ids import new_id
from tests.contract.conftest import Backend

MAX_ATTEMPTS = 5
# The smallest step every backend stores (MongoDB keeps milliseconds).
TICK = timedelta(milliseconds=1)
COOLDOWN = 60

VERIFY = CodePurpose.VERIFY_EMAIL
RESET = CodePurpose.RESET_PASSWORD


def assert_utc(value: datetime) -> None:
    assert value.tzinfo is not None, value
    assert value.utcoffset() == timedelta(0), value


async def owner(backend: Backend, email: str = "owner@example.com") -> User:
    return await backend.add_user(email)


# --- replace / get ---------------------------------------------------------------------


async def test_replace_then_get_round_trips_every_field(backend: Backend) -> None:
    user = await owner(backend)
    code = backend.new_code(user.id, RESET, ttl=timedelta(minutes=10), attempts=2)

    await backend.codes.replace(code)
    stored = await backend.codes.get(user.id, RESET)

    assert stored == code
    assert stored is not None
    assert stored.purpose is RESET
    assert stored.attempts == 2
    assert stored.code_hash == code.code_hash
    assert_utc(stored.created_at)
    assert_utc(stored.expires_at)
    assert stored.expires_at - stored.created_at == timedelta(minutes=10)


async def test_get_without_a_code_is_none(backend: Backend) -> None:
    user = await owner(backend)
    other = await owner(backend, "other@example.com")
    await backend.replace_code(other.id, VERIFY)
    await backend.replace_code(user.id, RESET)

    assert await backend.codes.get(user.id, VERIFY) is None
    assert await backend.codes.get(new_id(), VERIFY) is None


async def test_replace_keeps_only_the_newest_code_of_a_user_and_purpose(
    backend: Backend,
) -> None:
    user = await owner(backend)
    old = await backend.replace_code(user.id, VERIFY)
    backend.clock.advance(minutes=1)
    new = await backend.replace_code(user.id, VERIFY)

    assert await backend.codes.get(user.id, VERIFY) == new
    # The old code is gone, not merely hidden.
    assert await backend.codes.record_failure(old.id) == 0
    assert await backend.codes.consume(old.id, backend.clock.now(), MAX_ATTEMPTS) is False
    assert await backend.codes.get(user.id, VERIFY) == new


async def test_replace_resets_the_attempts_of_the_old_code(backend: Backend) -> None:
    user = await owner(backend)
    old = await backend.replace_code(user.id, VERIFY)
    assert await backend.codes.record_failure(old.id) == 1
    assert await backend.codes.record_failure(old.id) == 2

    new = await backend.replace_code(user.id, VERIFY)

    stored = await backend.codes.get(user.id, VERIFY)
    assert stored == new
    assert stored is not None
    assert stored.attempts == 0
    assert await backend.codes.record_failure(new.id) == 1


async def test_codes_of_different_purposes_and_users_coexist(backend: Backend) -> None:
    user = await owner(backend)
    other = await owner(backend, "other@example.com")
    verify = await backend.replace_code(user.id, VERIFY)
    reset = await backend.replace_code(user.id, RESET)
    theirs = await backend.replace_code(other.id, VERIFY)

    assert await backend.codes.get(user.id, VERIFY) == verify
    assert await backend.codes.get(user.id, RESET) == reset
    assert await backend.codes.get(other.id, VERIFY) == theirs

    newer = await backend.replace_code(user.id, RESET)
    assert await backend.codes.get(user.id, RESET) == newer
    assert await backend.codes.get(user.id, VERIFY) == verify
    assert await backend.codes.get(other.id, VERIFY) == theirs


async def test_concurrent_replaces_leave_exactly_one_code(backend: Backend) -> None:
    user = await owner(backend)
    codes = [backend.new_code(user.id, VERIFY) for _ in range(10)]

    await asyncio.gather(*(backend.codes.replace(code) for code in codes))

    stored = await backend.codes.get(user.id, VERIFY)
    assert stored is not None
    assert stored in codes
    now = backend.clock.now()
    consumed = [await backend.codes.consume(code.id, now, MAX_ATTEMPTS) for code in codes]
    assert consumed.count(True) == 1
    assert consumed[codes.index(stored)] is True
    assert await backend.codes.get(user.id, VERIFY) is None


# --- record_failure --------------------------------------------------------------------


async def test_record_failure_counts_each_wrong_guess(backend: Backend) -> None:
    user = await owner(backend)
    code = await backend.replace_code(user.id, VERIFY)
    other = await backend.replace_code(user.id, RESET)

    assert [await backend.codes.record_failure(code.id) for _ in range(3)] == [1, 2, 3]

    stored = await backend.codes.get(user.id, VERIFY)
    assert stored is not None
    assert stored.attempts == 3
    assert stored.code_hash == code.code_hash
    assert await backend.codes.get(user.id, RESET) == other


async def test_record_failure_of_a_missing_code_is_zero(backend: Backend) -> None:
    user = await owner(backend)
    code = await backend.replace_code(user.id, VERIFY)

    assert await backend.codes.record_failure(new_id()) == 0
    assert await backend.codes.get(user.id, VERIFY) == code


async def test_record_failure_after_consume_is_zero(backend: Backend) -> None:
    user = await owner(backend)
    code = await backend.replace_code(user.id, VERIFY)
    assert await backend.codes.consume(code.id, backend.clock.now(), MAX_ATTEMPTS) is True

    assert await backend.codes.record_failure(code.id) == 0
    assert await backend.codes.get(user.id, VERIFY) is None


async def test_twenty_concurrent_failures_are_all_counted(backend: Backend) -> None:
    user = await owner(backend)
    code = await backend.replace_code(user.id, VERIFY)

    results = await asyncio.gather(*(backend.codes.record_failure(code.id) for _ in range(20)))

    assert sorted(results) == list(range(1, 21))
    stored = await backend.codes.get(user.id, VERIFY)
    assert stored is not None
    assert stored.attempts == 20


# --- consume ---------------------------------------------------------------------------


async def test_consume_deletes_the_code_once(backend: Backend) -> None:
    user = await owner(backend)
    code = await backend.replace_code(user.id, VERIFY)
    other = await backend.replace_code(user.id, RESET)
    now = backend.clock.advance(minutes=1)

    assert await backend.codes.consume(code.id, now, MAX_ATTEMPTS) is True
    assert await backend.codes.get(user.id, VERIFY) is None
    assert await backend.codes.consume(code.id, now, MAX_ATTEMPTS) is False
    assert await backend.codes.get(user.id, RESET) == other


async def test_consume_of_an_unknown_code_is_false(backend: Backend) -> None:
    user = await owner(backend)
    code = await backend.replace_code(user.id, VERIFY)

    assert await backend.codes.consume(new_id(), backend.clock.now(), MAX_ATTEMPTS) is False
    assert await backend.codes.get(user.id, VERIFY) == code


async def test_twenty_concurrent_consumes_let_exactly_one_win(backend: Backend) -> None:
    user = await owner(backend)
    code = await backend.replace_code(user.id, VERIFY)
    now = backend.clock.advance(seconds=5)

    results = await asyncio.gather(
        *(backend.codes.consume(code.id, now, MAX_ATTEMPTS) for _ in range(20))
    )

    assert results.count(True) == 1, results
    assert results.count(False) == 19
    assert await backend.codes.get(user.id, VERIFY) is None


@pytest.mark.parametrize("after_expiry", [timedelta(0), TICK, timedelta(hours=1)])
async def test_consume_refuses_an_expired_code(backend: Backend, after_expiry: timedelta) -> None:
    user = await owner(backend)
    code = await backend.replace_code(user.id, VERIFY, ttl=timedelta(minutes=15))

    assert (
        await backend.codes.consume(code.id, code.expires_at + after_expiry, MAX_ATTEMPTS) is False
    )
    # Refused, not consumed: the code is still there.
    assert await backend.codes.get(user.id, VERIFY) == code


async def test_consume_accepts_a_code_until_its_expiry(backend: Backend) -> None:
    user = await owner(backend)
    code = await backend.replace_code(user.id, VERIFY, ttl=timedelta(minutes=15))

    assert await backend.codes.consume(code.id, code.expires_at - TICK, MAX_ATTEMPTS) is True
    assert await backend.codes.get(user.id, VERIFY) is None


async def test_consume_compares_instants_whatever_the_time_zone(backend: Backend) -> None:
    user = await owner(backend)
    code = await backend.replace_code(user.id, VERIFY)
    east = timezone(timedelta(hours=9))

    assert (
        await backend.codes.consume(code.id, code.expires_at.astimezone(east), MAX_ATTEMPTS)
        is False
    )
    assert await backend.codes.consume(
        code.id, (code.expires_at - TICK).astimezone(east), MAX_ATTEMPTS
    )


async def test_consume_refuses_a_code_at_max_attempts(backend: Backend) -> None:
    user = await owner(backend)
    code = await backend.replace_code(user.id, VERIFY)
    for _ in range(MAX_ATTEMPTS):
        await backend.codes.record_failure(code.id)
    now = backend.clock.now()

    assert await backend.codes.consume(code.id, now, MAX_ATTEMPTS) is False
    stored = await backend.codes.get(user.id, VERIFY)
    assert stored is not None
    assert stored.attempts == MAX_ATTEMPTS
    # A higher limit would still accept it: the refusal is about the attempts.
    assert await backend.codes.consume(code.id, now, MAX_ATTEMPTS + 1) is True


async def test_consume_refuses_a_code_beyond_max_attempts(backend: Backend) -> None:
    user = await owner(backend)
    code = await backend.replace_code(user.id, VERIFY, attempts=MAX_ATTEMPTS + 3)

    assert await backend.codes.consume(code.id, backend.clock.now(), MAX_ATTEMPTS) is False
    assert await backend.codes.get(user.id, VERIFY) == code


async def test_consume_accepts_a_code_one_attempt_below_the_limit(backend: Backend) -> None:
    user = await owner(backend)
    code = await backend.replace_code(user.id, VERIFY)
    for _ in range(MAX_ATTEMPTS - 1):
        await backend.codes.record_failure(code.id)

    assert await backend.codes.consume(code.id, backend.clock.now(), MAX_ATTEMPTS) is True
    assert await backend.codes.get(user.id, VERIFY) is None


# --- delete ----------------------------------------------------------------------------


async def test_delete_removes_only_that_purpose_of_that_user(backend: Backend) -> None:
    user = await owner(backend)
    other = await owner(backend, "other@example.com")
    verify = await backend.replace_code(user.id, VERIFY)
    reset = await backend.replace_code(user.id, RESET)
    theirs = await backend.replace_code(other.id, VERIFY)

    await backend.codes.delete(user.id, VERIFY)

    assert await backend.codes.get(user.id, VERIFY) is None
    assert await backend.codes.consume(verify.id, backend.clock.now(), MAX_ATTEMPTS) is False
    assert await backend.codes.get(user.id, RESET) == reset
    assert await backend.codes.get(other.id, VERIFY) == theirs


async def test_delete_without_a_code_does_nothing(backend: Backend) -> None:
    user = await owner(backend)
    reset = await backend.replace_code(user.id, RESET)

    await backend.codes.delete(user.id, VERIFY)
    await backend.codes.delete(new_id(), RESET)

    assert await backend.codes.get(user.id, RESET) == reset


async def test_deleting_the_user_deletes_their_codes(backend: Backend) -> None:
    user = await owner(backend)
    other = await owner(backend, "other@example.com")
    verify = await backend.replace_code(user.id, VERIFY)
    reset = await backend.replace_code(user.id, RESET)
    theirs = await backend.replace_code(other.id, RESET)

    assert await backend.users.delete(user.id) is True

    assert await backend.codes.get(user.id, VERIFY) is None
    assert await backend.codes.get(user.id, RESET) is None
    now = backend.clock.now()
    for code in (verify, reset):
        assert await backend.codes.record_failure(code.id) == 0
        assert await backend.codes.consume(code.id, now, MAX_ATTEMPTS) is False
    assert await backend.codes.get(other.id, RESET) == theirs


# --- CooldownRepository ----------------------------------------------------------------


async def test_acquire_on_a_new_key_takes_the_slot(backend: Backend) -> None:
    assert await backend.cooldowns.acquire("key-1", backend.clock.now(), COOLDOWN) is None


async def test_acquire_within_the_cooldown_returns_the_seconds_left(backend: Backend) -> None:
    start = backend.clock.now()
    assert await backend.cooldowns.acquire("key-1", start, COOLDOWN) is None

    at_once = await backend.cooldowns.acquire("key-1", start, COOLDOWN)
    later = await backend.cooldowns.acquire("key-1", start + timedelta(seconds=15), COOLDOWN)
    last = await backend.cooldowns.acquire(
        "key-1", start + timedelta(seconds=COOLDOWN) - timedelta(milliseconds=1), COOLDOWN
    )

    assert at_once == pytest.approx(COOLDOWN)
    assert later == pytest.approx(COOLDOWN - 15)
    assert last == pytest.approx(0.001)
    for left in (at_once, later, last):
        assert left is not None
        assert 0 < left <= COOLDOWN


async def test_a_refused_acquire_does_not_extend_the_cooldown(backend: Backend) -> None:
    start = backend.clock.now()
    assert await backend.cooldowns.acquire("key-1", start, COOLDOWN) is None
    assert await backend.cooldowns.acquire("key-1", start + timedelta(seconds=50), COOLDOWN)

    after = start + timedelta(seconds=COOLDOWN + 1)
    assert await backend.cooldowns.acquire("key-1", after, COOLDOWN) is None


@pytest.mark.parametrize("after", [timedelta(seconds=COOLDOWN) + TICK, timedelta(hours=2)])
async def test_acquire_after_the_cooldown_takes_the_slot_again(
    backend: Backend, after: timedelta
) -> None:
    start = backend.clock.now()
    assert await backend.cooldowns.acquire("key-1", start, COOLDOWN) is None
    again = start + after

    assert await backend.cooldowns.acquire("key-1", again, COOLDOWN) is None

    # The new cool-down counts from the second acquire.
    left = await backend.cooldowns.acquire("key-1", again + timedelta(seconds=10), COOLDOWN)
    assert left == pytest.approx(COOLDOWN - 10)


async def test_acquire_compares_instants_whatever_the_time_zone(backend: Backend) -> None:
    start = backend.clock.now()
    assert await backend.cooldowns.acquire("key-1", start, COOLDOWN) is None
    west = timezone(timedelta(hours=-7))

    left = await backend.cooldowns.acquire(
        "key-1", (start + timedelta(seconds=20)).astimezone(west), COOLDOWN
    )
    assert left == pytest.approx(COOLDOWN - 20)
    later = (start + timedelta(seconds=COOLDOWN) + TICK).astimezone(west)
    assert await backend.cooldowns.acquire("key-1", later, COOLDOWN) is None


async def test_keys_cool_down_independently(backend: Backend) -> None:
    now = backend.clock.now()
    assert await backend.cooldowns.acquire("key-1", now, COOLDOWN) is None
    assert await backend.cooldowns.acquire("key-2", now, COOLDOWN) is None
    assert await backend.cooldowns.acquire("key-1", now, COOLDOWN) is not None
    assert await backend.cooldowns.acquire("key-3", now, COOLDOWN) is None


async def test_twenty_concurrent_acquires_of_a_new_key_let_exactly_one_win(
    backend: Backend,
) -> None:
    now = backend.clock.now()

    results = await asyncio.gather(
        *(backend.cooldowns.acquire("contended", now, COOLDOWN) for _ in range(20))
    )

    assert results.count(None) == 1, results
    for left in results:
        assert left is None or 0 < left <= COOLDOWN
    assert await backend.cooldowns.acquire("contended", now, COOLDOWN) == pytest.approx(COOLDOWN)


async def test_twenty_concurrent_acquires_of_an_expired_key_let_exactly_one_win(
    backend: Backend,
) -> None:
    start = backend.clock.now()
    assert await backend.cooldowns.acquire("contended", start, COOLDOWN) is None
    now = start + timedelta(seconds=COOLDOWN * 2)

    results = await asyncio.gather(
        *(backend.cooldowns.acquire("contended", now, COOLDOWN) for _ in range(20))
    )

    assert results.count(None) == 1, results
    for left in results:
        assert left is None or 0 < left <= COOLDOWN


async def test_touch_starts_a_cooldown_on_a_new_key(backend: Backend) -> None:
    start = backend.clock.now()
    await backend.cooldowns.touch("key-1", start)

    left = await backend.cooldowns.acquire("key-1", start + timedelta(seconds=20), COOLDOWN)
    assert left == pytest.approx(COOLDOWN - 20)
    assert await backend.cooldowns.acquire("key-2", start, COOLDOWN) is None


async def test_touch_restarts_a_running_cooldown(backend: Backend) -> None:
    start = backend.clock.now()
    assert await backend.cooldowns.acquire("key-1", start, COOLDOWN) is None
    touched = start + timedelta(seconds=30)

    await backend.cooldowns.touch("key-1", touched)

    # Past the first cool-down, but within the one the touch started.
    at = start + timedelta(seconds=COOLDOWN + 1)
    assert await backend.cooldowns.acquire("key-1", at, COOLDOWN) == pytest.approx(29)
    assert (
        await backend.cooldowns.acquire(
            "key-1", touched + timedelta(seconds=COOLDOWN + 1), COOLDOWN
        )
        is None
    )


async def test_touch_after_an_expired_cooldown_starts_a_new_one(backend: Backend) -> None:
    start = backend.clock.now()
    await backend.cooldowns.touch("key-1", start)
    later = start + timedelta(hours=1)

    await backend.cooldowns.touch("key-1", later)

    assert await backend.cooldowns.acquire("key-1", later, COOLDOWN) == pytest.approx(COOLDOWN)
