"""PwdlibPasswordHasher: argon2id parameters, bcrypt migration, off-loop hashing."""

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import argon2
import bcrypt
import pytest
from pwdlib import PasswordHash

from app.utils.password_hasher import PwdlibPasswordHasher, default_hash_concurrency

ARGON2_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def hasher() -> Iterator[PwdlibPasswordHasher]:
    instance = PwdlibPasswordHasher(max_workers=2)
    yield instance
    instance.close()


def bcrypt_hash(password: bytes) -> str:
    return bcrypt.hashpw(password, bcrypt.gensalt(rounds=4)).decode()


def spy(
    monkeypatch: pytest.MonkeyPatch, method: str, hook: Callable[[tuple[Any, ...]], None]
) -> None:
    """Wrap a pwdlib ``PasswordHash`` method so ``hook`` sees each call; the real one runs."""
    original = getattr(PasswordHash, method)

    def wrapper(self: PasswordHash, *args: Any) -> Any:
        hook(args)
        return original(self, *args)

    monkeypatch.setattr(PasswordHash, method, wrapper)


async def test_new_hashes_are_argon2id_with_owasp_parameters(
    hasher: PwdlibPasswordHasher,
) -> None:
    first = await hasher.hash(PASSWORD)
    second = await hasher.hash(PASSWORD)

    assert first.startswith(ARGON2_PREFIX)
    assert second.startswith(ARGON2_PREFIX)
    assert first != second  # a fresh salt each time
    assert PASSWORD not in first


async def test_verify_accepts_the_right_password(hasher: PwdlibPasswordHasher) -> None:
    hashed = await hasher.hash(PASSWORD)

    result = await hasher.verify(PASSWORD, hashed)

    assert result.valid is True
    assert result.new_hash is None


async def test_verify_rejects_a_wrong_password(hasher: PwdlibPasswordHasher) -> None:
    hashed = await hasher.hash(PASSWORD)

    result = await hasher.verify(PASSWORD + "!", hashed)

    assert result.valid is False
    assert result.new_hash is None


async def test_bcrypt_hash_verifies_and_is_upgraded_to_argon2id(
    hasher: PwdlibPasswordHasher,
) -> None:
    legacy = bcrypt_hash(PASSWORD.encode())

    result = await hasher.verify(PASSWORD, legacy)

    assert result.valid is True
    assert result.new_hash is not None
    assert result.new_hash.startswith(ARGON2_PREFIX)
    upgraded = await hasher.verify(PASSWORD, result.new_hash)
    assert upgraded.valid is True
    assert upgraded.new_hash is None


async def test_bcrypt_hash_rejects_a_wrong_password(hasher: PwdlibPasswordHasher) -> None:
    result = await hasher.verify("wrong password", bcrypt_hash(PASSWORD.encode()))

    assert result.valid is False
    assert result.new_hash is None


async def test_password_over_72_bytes_against_bcrypt_is_invalid_not_an_error(
    hasher: PwdlibPasswordHasher,
) -> None:
    long_password = "a" * 100
    # The stored hash is of the first 72 bytes: a truncating bcrypt would accept it.
    legacy = bcrypt_hash(long_password.encode()[:72])

    result = await hasher.verify(long_password, legacy)

    assert result.valid is False
    assert result.new_hash is None


async def test_long_password_round_trips_with_argon2id(hasher: PwdlibPasswordHasher) -> None:
    long_password = "é" * 100  # 200 bytes
    hashed = await hasher.hash(long_password)

    assert (await hasher.verify(long_password, hashed)).valid is True
    assert (await hasher.verify(long_password[:36], hashed)).valid is False


async def test_argon2_hash_with_weaker_parameters_is_upgraded(
    hasher: PwdlibPasswordHasher,
) -> None:
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    assert not weak.startswith(ARGON2_PREFIX)

    result = await hasher.verify(PASSWORD, weak)

    assert result.valid is True
    assert result.new_hash is not None
    assert result.new_hash.startswith(ARGON2_PREFIX)


@pytest.mark.parametrize(
    "stored",
    ["", "plain-text-password", "$argon2id$v=19$m=19456,t=2,p=1$garbage", "$2b$12$short"],
)
async def test_unreadable_stored_hash_is_invalid_not_an_error(
    hasher: PwdlibPasswordHasher, stored: str
) -> None:
    result = await hasher.verify(PASSWORD, stored)

    assert result.valid is False
    assert result.new_hash is None


async def test_verify_dummy_runs_a_real_argon2_verification(
    hasher: PwdlibPasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified_hashes: list[str] = []
    spy(monkeypatch, "verify_and_update", lambda args: verified_hashes.append(args[1]))

    first = await hasher.verify_dummy(PASSWORD)
    second = await hasher.verify_dummy("another password")

    assert first is None
    assert second is None
    assert len(verified_hashes) == 2
    assert verified_hashes[0].startswith(ARGON2_PREFIX)
    assert verified_hashes[1] == verified_hashes[0]  # the dummy hash is made once


async def test_verify_dummy_takes_time_comparable_to_a_verify(
    hasher: PwdlibPasswordHasher,
) -> None:
    hashed = await hasher.hash(PASSWORD)
    await hasher.verify_dummy(PASSWORD)  # builds the dummy hash outside the timing

    async def fastest(action: Callable[[], Any]) -> float:
        durations = []
        for _ in range(3):
            start = time.perf_counter()
            await action()
            durations.append(time.perf_counter() - start)
        return min(durations)

    verify_time = await fastest(lambda: hasher.verify("wrong password", hashed))
    dummy_time = await fastest(lambda: hasher.verify_dummy("wrong password"))

    # Minimums are robust to scheduling noise; a dummy that skipped the work would be
    # orders of magnitude faster than a real argon2id verification.
    assert dummy_time >= 0.3 * verify_time


async def test_hashing_and_verifying_run_in_the_password_hash_threads(
    hasher: PwdlibPasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    spy(monkeypatch, "hash", lambda _: threads.append(threading.current_thread().name))
    spy(
        monkeypatch,
        "verify_and_update",
        lambda _: threads.append(threading.current_thread().name),
    )

    hashed = await hasher.hash(PASSWORD)
    await hasher.verify(PASSWORD, hashed)

    assert len(threads) == 2
    assert all(name.startswith("password-hash") for name in threads), threads
    assert threading.current_thread().name not in threads


async def test_event_loop_keeps_running_while_a_hash_is_computed(
    hasher: PwdlibPasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hash blocks until a coroutine on the event loop releases it; that can only
    # happen if the hash is not running on the loop's thread.
    released = threading.Event()
    observed: list[bool] = []
    spy(monkeypatch, "hash", lambda _: observed.append(released.wait(timeout=5)))

    async def release() -> None:
        released.set()

    hashing = asyncio.create_task(hasher.hash(PASSWORD))
    await asyncio.sleep(0)
    await release()
    hashed = await hashing

    assert observed == [True]
    assert hashed.startswith(ARGON2_PREFIX)


async def test_no_more_hashes_run_at_once_than_the_concurrency_allows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lock = threading.Lock()
    running, peak = 0, 0

    def enter(_: tuple[Any, ...]) -> None:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)  # long enough for the others to start if they could
        with lock:
            running -= 1

    spy(monkeypatch, "hash", enter)
    bounded = PwdlibPasswordHasher(max_workers=2, memory_kib=1024, time_cost=1)
    try:
        hashes = await asyncio.gather(*(bounded.hash(f"{PASSWORD} {n}") for n in range(6)))
    finally:
        bounded.close()

    assert len(set(hashes)) == 6
    assert peak == 2


@pytest.mark.parametrize(("cores", "threads"), [(None, 1), (1, 1), (2, 1), (8, 7)])
def test_the_default_concurrency_leaves_one_core_to_the_event_loop(
    monkeypatch: pytest.MonkeyPatch, cores: int | None, threads: int
) -> None:
    monkeypatch.setattr("app.utils.password_hasher.os.cpu_count", lambda: cores)
    assert default_hash_concurrency() == threads
