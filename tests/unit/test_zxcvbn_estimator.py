"""The zxcvbn estimator: a bounded input, off the event loop, one user's words at a time."""

import asyncio
import sys
import time
from collections.abc import Iterator

import pytest
from zxcvbn import zxcvbn

from app.utils.zxcvbn_estimator import SCORED_CHARACTERS, ZxcvbnStrengthEstimator

# Distinct l33t symbols: zxcvbn tries every reading of them, its dearest kind of input.
L33T_SYMBOLS = "4@8({[<3691!|70$5+%2"
ROUNDS = 400


@pytest.fixture
def estimator() -> Iterator[ZxcvbnStrengthEstimator]:
    estimator = ZxcvbnStrengthEstimator()
    yield estimator
    estimator.close()


async def test_scores_with_zxcvbns_advice(estimator: ZxcvbnStrengthEstimator) -> None:
    weak = await estimator.estimate("password123", [])
    assert weak.score == 0
    assert weak.warning == "This is a very common password."
    assert "Add another word or two. Uncommon words are better." in weak.suggestions
    strong = await estimator.estimate("violet-Harbour-7-kettle", [])
    assert strong.score == 4
    assert (strong.warning, strong.suggestions) == ("", ())


async def test_context_words_lower_the_score(estimator: ZxcvbnStrengthEstimator) -> None:
    assert (await estimator.estimate("QuixbyZoltan", [])).score == 4
    assert (await estimator.estimate("QuixbyZoltan", ["zoltan", "quixby"])).score <= 1


async def test_only_the_first_characters_are_scored(estimator: ZxcvbnStrengthEstimator) -> None:
    password = "a" * SCORED_CHARACTERS + "Zq7!mT#w-Kb4%nR9@-plum-Orbit"
    assert zxcvbn(password, max_length=128)["score"] == 4
    assert (await estimator.estimate(password, [])).score == 0


async def test_the_dearest_128_characters_cost_a_fraction_of_a_second(
    estimator: ZxcvbnStrengthEstimator,
) -> None:
    """Unbounded, zxcvbn spends over 10 s on this input; bounded, under 0.1 s here."""
    password = (L33T_SYMBOLS * 7)[:128]
    started = time.perf_counter()
    await estimator.estimate(password, ["someone", "example.com"])
    assert time.perf_counter() - started < 2.0


async def test_the_event_loop_runs_while_a_password_is_scored(
    estimator: ZxcvbnStrengthEstimator,
) -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    try:
        # Each costs tens of milliseconds of CPU (the 16 most expensive characters).
        for shift in range(4):
            password = (L33T_SYMBOLS[shift:] + L33T_SYMBOLS[:shift])[:SCORED_CHARACTERS]
            ticks_before = ticks
            await estimator.estimate(password, [])
            assert ticks > ticks_before, "the event loop stood still while zxcvbn ran"
    finally:
        ticker.cancel()


async def test_concurrent_estimates_never_see_each_others_words() -> None:
    """zxcvbn keeps the user's words in a module-level dictionary during a call."""
    # Threads take turns every microsecond instead of every 5 ms: without the lock, about
    # one call in a hundred then scores against the other thread's words.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    first, second = ZxcvbnStrengthEstimator(), ZxcvbnStrengthEstimator()
    try:
        password = "QuixbyZoltan"
        with_words = [first.estimate(password, ["zoltan", "quixby"]) for _ in range(ROUNDS)]
        without = [second.estimate(password, ["unrelated"]) for _ in range(ROUNDS)]
        results = await asyncio.gather(*with_words, *without)
    finally:
        first.close()
        second.close()
        sys.setswitchinterval(previous)
    assert results[0].score <= 1
    assert [estimate.score for estimate in results[:ROUNDS]] == [results[0].score] * ROUNDS
    assert [estimate.score for estimate in results[ROUNDS:]] == [4] * ROUNDS
