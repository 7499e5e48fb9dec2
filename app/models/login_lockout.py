"""The failed-login state of one email address."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class LoginLockout:
    """Keyed by a keyed hash of the email, so unknown addresses lock exactly like known
    ones and the state reveals nothing about which accounts exist.

    ``failures`` counts consecutive wrong passwords since the last lock or success;
    ``lockouts`` counts locks so far, which doubles the next lock's length.
    """

    key: str
    failures: int
    lockouts: int
    locked_until: datetime | None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now
