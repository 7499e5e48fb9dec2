"""Breached passwords by the Pwned Passwords range API (k-anonymity), over httpx."""

import asyncio
import hashlib
import string
from typing import Final

import httpx

from app.interfaces.breached_passwords import (
    BreachCheckFailure,
    BreachCheckUnavailableError,
    BreachedPasswordChecker,
)

PREFIX_LENGTH: Final = 5
SUFFIX_LENGTH: Final = 35
# A real answer lists 800 to 1,000 suffixes of about 40 bytes each once padded.
MAX_ANSWER_BYTES: Final = 1_048_576
_HEX_DIGITS: Final = frozenset(string.hexdigits)


class PwnedPasswordsChecker(BreachedPasswordChecker):
    """Asks ``GET {base_url}/range/{first 5 hex digits of the password's SHA-1}``.

    Only those 5 digits leave the process; one prefix is shared by hundreds of breached
    hashes. The answer lists the other 35 digits of each as ``SUFFIX:COUNT`` lines, and
    the password is breached when its own suffix is there with a count above 0. With
    ``Add-Padding: true`` the service adds made-up suffixes with count 0, so that the
    size of the answer says nothing about the prefix; they count as absent.

    ``timeout_seconds`` bounds the whole exchange, however slowly the bytes arrive.
    """

    def __init__(self, client: httpx.AsyncClient, base_url: str, timeout_seconds: float) -> None:
        self._client = client
        self._range_url = base_url.rstrip("/") + "/range/"
        self._timeout_seconds = timeout_seconds

    async def times_breached(self, password: str) -> int:
        # SHA-1 because the corpus is keyed by it; nothing is stored with it.
        digest = hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()
        answer = await self._range(digest[:PREFIX_LENGTH])
        return _count_of(digest[PREFIX_LENGTH:], answer)

    async def _range(self, prefix: str) -> str:
        try:
            async with asyncio.timeout(self._timeout_seconds):
                return await self._download(self._range_url + prefix)
        except (TimeoutError, httpx.TimeoutException):
            raise BreachCheckUnavailableError(BreachCheckFailure.TIMEOUT) from None
        except httpx.DecodingError:
            raise BreachCheckUnavailableError(BreachCheckFailure.BAD_RESPONSE) from None
        except httpx.HTTPError:
            # The exception's text may hold the URL, and so the prefix: it is not kept.
            raise BreachCheckUnavailableError(BreachCheckFailure.UNREACHABLE) from None

    async def _download(self, url: str) -> str:
        async with self._client.stream("GET", url, headers={"Add-Padding": "true"}) as response:
            if response.status_code != httpx.codes.OK:
                raise BreachCheckUnavailableError(BreachCheckFailure.BAD_RESPONSE)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise BreachCheckUnavailableError(BreachCheckFailure.BAD_RESPONSE)
        try:
            return body.decode("ascii")
        except UnicodeDecodeError:
            raise BreachCheckUnavailableError(BreachCheckFailure.BAD_RESPONSE) from None


def _count_of(suffix: str, answer: str) -> int:
    """The count listed for ``suffix``, 0 when absent; any malformed line voids the answer."""
    count = 0
    listed = 0
    for line in answer.splitlines():
        line = line.strip()
        if not line:
            continue
        candidate, colon, number = line.partition(":")
        if not (
            colon
            and len(candidate) == SUFFIX_LENGTH
            and _HEX_DIGITS.issuperset(candidate)
            and number.isdigit()
        ):
            raise BreachCheckUnavailableError(BreachCheckFailure.BAD_RESPONSE)
        listed += 1
        if candidate.upper() == suffix:
            count = int(number)
    if not listed:
        # Every prefix has breached hashes, so an empty answer is a broken one.
        raise BreachCheckUnavailableError(BreachCheckFailure.BAD_RESPONSE)
    return count


class DisabledBreachCheck(BreachedPasswordChecker):
    """PASSWORD_BREACH_CHECK_URL empty: nothing is looked up (a Null Object)."""

    async def times_breached(self, password: str) -> int:
        return 0
