"""The rules a new password must meet beyond its length: not common, not the email's name."""

from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from typing import Final, Self

from app.models.errors import WeakPasswordError

COMMON_PASSWORDS_RESOURCE: Final = ("data", "common_passwords.txt")


@cache
def load_common_passwords() -> frozenset[str]:
    """The bundled list of the 10,000 most common passwords, lower-cased.

    It ships as package data (app/services/data/common_passwords.txt, sources in the README
    beside it) and is read once per process.
    """
    text = files("app.services").joinpath(*COMMON_PASSWORDS_RESOURCE).read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line)


class PasswordPolicy:
    """Refuses passwords that are easy to guess for someone who knows the list or the account.

    A password is refused when its lower-case form is one of the common passwords, or when
    it equals or contains the local part of the account's email (the part before the "@"),
    compared without regard to case. Local parts shorter than MIN_LOCAL_PART_LENGTH are not
    checked, since "ab@example.com" would otherwise forbid every password containing "ab".
    Length (8 to 128 characters) is enforced by the request schemas, not here.

    The error messages never repeat the password.
    """

    MIN_LOCAL_PART_LENGTH: Final = 3

    def __init__(self, common_passwords: Iterable[str]) -> None:
        self._common = frozenset(password.lower() for password in common_passwords)

    @classmethod
    def from_bundled_list(cls) -> Self:
        """A policy over the list that ships with the application."""
        return cls(load_common_passwords())

    def check(self, password: str, email: str) -> None:
        """Return if the password may be used for the account of email; raise otherwise.

        Raises:
            WeakPasswordError: the password is common or contains the email's local part.
        """
        if password.lower() in self._common:
            raise WeakPasswordError(
                "This password is one of the most commonly used passwords; choose another."
            )
        local_part = email.rsplit("@", 1)[0]
        if len(local_part) >= self.MIN_LOCAL_PART_LENGTH and (
            local_part.casefold() in password.casefold()
        ):
            raise WeakPasswordError(
                "The password must not contain the part of your email address before the @."
            )
