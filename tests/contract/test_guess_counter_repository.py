"""Contract of ``GuessCounterRepository``, run against every backend of ``backend``.

The counter is only ever read through the window a ``hit`` returns, as the services
read it: each test observes the state by counting one more guess.
"""

import asyncio
from datetime import timedelta

from app.models.guess_window import GuessWindow
from tests.contract.conftest import Backend

KEY = "hmac-of-alice@example.com"
OTHER = "hmac-of-bob@example.com"
WINDOW = 3_600


async def test_the_first_guess_of_a_key_opens_a_window(backend: Backend) -> None:
    now = backend.clock.now()
    window = await backend.guesses.hit(KEY, now, WINDOW)
    assert window == GuessWindow(count=1, resets_at=now + timedelta(seconds=WINDOW))
    assert window.resets_at.utcoffset() == timedelta(0)


async def test_guesses_count_up_within_the_window_that_the_first_opened(
    backend: Backend,
) -> None:
    opened = backend.clock.now()
    first = await backend.guesses.hit(KEY, opened, WINDOW)
    backend.clock.advance(seconds=WINDOW - 1)
    second = await backend.guesses.hit(KEY, backend.clock.now(), WINDOW)

    assert (first.count, second.count) == (1, 2)
    assert first.resets_at == second.resets_at == opened + timedelta(seconds=WINDOW)


async def test_the_next_guess_after_a_window_closed_opens_a_new_one(backend: Backend) -> None:
    for _ in range(3):
        await backend.guesses.hit(KEY, backend.clock.now(), WINDOW)
    closed_at = backend.clock.advance(seconds=WINDOW)

    reopened = await backend.guesses.hit(KEY, closed_at, WINDOW)
    assert reopened.count == 1
    assert reopened.resets_at == closed_at + timedelta(seconds=WINDOW)


async def test_keys_count_apart_and_release_takes_back_one_guess(backend: Backend) -> None:
    now = backend.clock.now()
    await backend.guesses.hit(KEY, now, WINDOW)
    opened = await backend.guesses.hit(KEY, now, WINDOW)

    await backend.guesses.release(KEY)

    assert await backend.guesses.hit(KEY, now, WINDOW) == GuessWindow(2, opened.resets_at)
    assert (await backend.guesses.hit(OTHER, now, WINDOW)).count == 1
    for _ in range(4):
        await backend.guesses.release(KEY)  # never below zero
    assert (await backend.guesses.hit(KEY, now, WINDOW)).count == 1
    await backend.guesses.release("never-seen")


async def test_concurrent_guesses_are_each_counted_once(backend: Backend) -> None:
    now = backend.clock.now()
    windows = await asyncio.gather(*(backend.guesses.hit(KEY, now, WINDOW) for _ in range(12)))

    assert sorted(window.count for window in windows) == list(range(1, 13))
    assert (await backend.guesses.hit(KEY, now, WINDOW)).count == 13


async def test_concurrent_guesses_after_a_closed_window_open_exactly_one_new_one(
    backend: Backend,
) -> None:
    await backend.guesses.hit(KEY, backend.clock.now(), WINDOW)
    later = backend.clock.advance(seconds=WINDOW + 5)

    windows = await asyncio.gather(*(backend.guesses.hit(KEY, later, WINDOW) for _ in range(8)))

    assert sorted(window.count for window in windows) == list(range(1, 9))
    assert {window.resets_at for window in windows} == {later + timedelta(seconds=WINDOW)}
