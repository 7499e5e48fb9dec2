"""The failed-login state of one account as seen from one client."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class LoginLockout:
    """Keyed by a keyed hash of the email and the client, so unknown addresses lock
    exactly like known ones and the state reveals nothing about which accounts exist.

    ``failures`` counts consecutive wrong passwords from this client since its last
    lock or success; ``lockouts`` counts its locks so far, which doubles the next
    one's length. ``unlocked_until`` is set when this client proved control of the
    mailbox: until then it may log in even when the account's guess budget is spent.
    """

    key: str
    failures: int
    lockouts: int
    locked_until: datetime | None
    unlocked_until: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    def is_unlocked(self, now: datetime) -> bool:
        return self.unlocked_until is not None and self.unlocked_until > now
