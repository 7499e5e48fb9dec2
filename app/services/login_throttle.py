"""Online guessing of passwords: locks per account and client, a budget per account.

Two rules, so that an attacker who does not know the password can neither guess
for long nor keep the owner out (docs/SECURITY.md, "Lockout"):

- Consecutive wrong passwords from one client lock that client out of that account
  for a while, doubling with each lock. Other clients are not affected.
- Every account has a budget of wrong passwords per hour, whatever the clients.
  Once it is spent, only a client that proved control of the mailbox (an emailed
  unlock token, a password reset, an email verification) may try further.

Both are keyed by keyed hashes of the address, so unknown addresses behave exactly
like known ones.
"""

import math
from dataclasses import dataclass
from datetime import timedelta

from app.interfaces.clock import Clock
from app.interfaces.keyed_hasher import KeyedHasher
from app.interfaces.repositories.guess_counter_repository import GuessCounterRepository
from app.interfaces.repositories.login_lockout_repository import LoginLockoutRepository
from app.interfaces.request_context import RequestContext
from app.models.errors import AccountLockedError, UnlockRequiredError
from app.models.user import normalise_email

# The budget is counted in fixed windows of an hour holding half the hourly bound:
# any sixty minutes overlap at most two windows, so they never see more than the bound.
BUDGET_WINDOW_SECONDS = 3_600


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """The knobs of the login throttle, taken from Settings by the composition root."""

    max_failures: int
    base_seconds: int
    max_seconds: int
    account_guesses_per_hour: int
    unlock_seconds: int

    @property
    def guesses_per_window(self) -> int:
        return max(1, self.account_guesses_per_hour // 2)

    def lock_series(self) -> list[int]:
        """Each lock doubles the last, up to the cap: 60, 120, 240, … max."""
        series = [min(self.base_seconds, self.max_seconds)]
        while series[-1] < self.max_seconds:
            series.append(min(series[-1] * 2, self.max_seconds))
        return series


@dataclass(frozen=True, slots=True)
class Attempt:
    """An admitted try, counted before its password is checked: whether its failure
    locks this client, and whether it spends the account's budget for the window."""

    locks_client: bool
    spends_budget: bool


class LoginThrottle:
    """Decides whether the current client may try a password for an address.

    Every try is counted *before* its password is checked, so that concurrent tries
    cannot all pass a limit they would each reach only afterwards; a right password
    takes its count back.
    """

    def __init__(
        self,
        lockouts: LoginLockoutRepository,
        guesses: GuessCounterRepository,
        hasher: KeyedHasher,
        clock: Clock,
        context: RequestContext,
        policy: LockoutPolicy,
    ) -> None:
        self._lockouts = lockouts
        self._guesses = guesses
        self._hasher = hasher
        self._clock = clock
        self._context = context
        self._policy = policy

    async def admit(self, email: str) -> Attempt:
        """Count a try, or refuse it (``AccountLockedError``, ``UnlockRequiredError``)."""
        now = self._clock.now()
        client, account = self._client_key(email), self._account_key(email)
        state = await self._lockouts.get(client)
        if state is not None and state.locked_until is not None and state.is_locked(now):
            raise AccountLockedError(retry_after=_seconds(state.locked_until - now))
        window = await self._guesses.hit(account, now, BUDGET_WINDOW_SECONDS)
        unlocked = state is not None and state.is_unlocked(now)
        if window.count > self._policy.guesses_per_window and not unlocked:
            raise UnlockRequiredError(retry_after=_seconds(window.resets_at - now))
        counted = await self._lockouts.record_attempt(
            client, account, now, self._policy.max_failures, self._policy.lock_series()
        )
        if counted is None:
            # A concurrent try locked this client in between: this one is not a guess.
            await self._guesses.release(account)
            locked = await self._lockouts.get(client)
            until = locked.locked_until if locked is not None else None
            raise AccountLockedError(retry_after=_seconds((until or now) - now))
        return Attempt(
            locks_client=counted.is_locked(now),
            spends_budget=window.count == self._policy.guesses_per_window,
        )

    async def succeeded(self, email: str) -> None:
        """The password was right: forget this client's count and take back the guess."""
        await self._lockouts.record_success(self._client_key(email))
        await self._guesses.release(self._account_key(email))

    async def lift(self, email: str) -> None:
        """The current client proved control of the mailbox: lift every client's lock
        on the account, and let this client past a spent budget for a while."""
        now = self._clock.now()
        await self._lockouts.unlock(
            self._account_key(email),
            self._client_key(email),
            now,
            now + timedelta(seconds=self._policy.unlock_seconds),
        )

    def _account_key(self, email: str) -> str:
        return self._hasher.digest("login-account", normalise_email(email))

    def _client_key(self, email: str) -> str:
        return self._hasher.digest(
            "login-client", normalise_email(email), self._context.client().network
        )


def _seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))
