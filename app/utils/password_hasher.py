"""Password hashing with pwdlib: argon2id for new hashes, bcrypt still verified."""

import asyncio
import os
import secrets
from concurrent.futures import ThreadPoolExecutor

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from app.interfaces.password_hasher import PasswordHasher, VerifyResult

# OWASP Password Storage Cheat Sheet minimum for argon2id: m=19 MiB, t=2, p=1.
# Settings may raise these; production refuses anything below them.
ARGON2_MEMORY_KIB = 19_456
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1


def default_hash_concurrency() -> int:
    """Leave one core to the event loop so hashing never starves request handling."""
    return max(1, (os.cpu_count() or 2) - 1)


class PwdlibPasswordHasher(PasswordHasher):
    """Runs pwdlib in a bounded thread pool; argon2-cffi releases the GIL while hashing."""

    def __init__(
        self,
        max_workers: int | None = None,
        memory_kib: int = ARGON2_MEMORY_KIB,
        time_cost: int = ARGON2_TIME_COST,
    ) -> None:
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    memory_cost=memory_kib,
                    time_cost=time_cost,
                    parallelism=ARGON2_PARALLELISM,
                ),
                BcryptHasher(),
            )
        )
        self._executor = ThreadPoolExecutor(
            max_workers=max_workers or default_hash_concurrency(),
            thread_name_prefix="password-hash",
        )
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._hash.hash, password)

    async def verify(self, password: str, hashed: str) -> VerifyResult:
        loop = asyncio.get_running_loop()
        valid, updated = await loop.run_in_executor(self._executor, self._verify, password, hashed)
        return VerifyResult(valid=valid, new_hash=updated if valid else None)

    def _verify(self, password: str, hashed: str) -> tuple[bool, str | None]:
        try:
            return self._hash.verify_and_update(password, hashed)
        except (UnknownHashError, ValueError):
            # ValueError: bcrypt refuses passwords over 72 bytes instead of truncating.
            return False, None

    async def verify_dummy(self, password: str) -> None:
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(32))
        await self.verify(password, self._dummy_hash)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
