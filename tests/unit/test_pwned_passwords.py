"""The Pwned Passwords adapter against a local range API: k-anonymity, padding, failures."""

import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app.interfaces.breached_passwords import BreachCheckFailure, BreachCheckUnavailableError
from app.utils.pwned_passwords import PwnedPasswordsChecker
from tests.pwned_passwords_server import Behaviour, RangeApiServer, sha1_hex
from tests.smtp_server import free_port

BREACHED = "Tr0ub4dor&3-correct"
PADDED = "listed-only-as-padding-7"
CLEAN = "violet-Harbour-7-kettle"
TIMEOUT_SECONDS = 0.5


@pytest.fixture
def server() -> Iterator[RangeApiServer]:
    with RangeApiServer({BREACHED: 42, "another-breached-one": 7}, padded=[PADDED]) as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


def checker(client: httpx.AsyncClient, url: str) -> PwnedPasswordsChecker:
    return PwnedPasswordsChecker(client, url, TIMEOUT_SECONDS)


async def test_a_breached_password_has_its_count(
    server: RangeApiServer, client: httpx.AsyncClient
) -> None:
    assert await checker(client, server.url).times_breached(BREACHED) == 42


async def test_only_the_five_character_prefix_leaves_with_padding_asked_for(
    server: RangeApiServer, client: httpx.AsyncClient
) -> None:
    await checker(client, server.url + "/").times_breached(BREACHED)
    [(path, headers)] = server.requests
    digest = sha1_hex(BREACHED)
    assert path == f"/range/{digest[:5]}"
    assert digest[5:] not in path
    assert BREACHED not in path
    assert headers["Add-Padding"] == "true"


async def test_a_clean_password_counts_zero(
    server: RangeApiServer, client: httpx.AsyncClient
) -> None:
    assert await checker(client, server.url).times_breached(CLEAN) == 0


async def test_a_padding_entry_is_not_a_breach(
    server: RangeApiServer, client: httpx.AsyncClient
) -> None:
    digest = sha1_hex(PADDED)
    assert f"{digest[5:]}:0" in server.range_answer(digest[:5], padding=True)
    assert await checker(client, server.url).times_breached(PADDED) == 0


async def test_an_unreachable_service_is_unavailable(client: httpx.AsyncClient) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BreachCheckUnavailableError) as caught:
        await checker(client, closed).times_breached(BREACHED)
    assert caught.value.reason is BreachCheckFailure.UNREACHABLE


async def test_a_service_that_hangs_times_out(
    server: RangeApiServer, client: httpx.AsyncClient
) -> None:
    server.behaviour = Behaviour.HANG
    started = time.monotonic()
    with pytest.raises(BreachCheckUnavailableError) as caught:
        await checker(client, server.url).times_breached(BREACHED)
    assert caught.value.reason is BreachCheckFailure.TIMEOUT
    assert time.monotonic() - started < TIMEOUT_SECONDS + 1.0


@pytest.mark.parametrize(
    "behaviour", [Behaviour.GARBAGE, Behaviour.EMPTY, Behaviour.HUGE, Behaviour.ERROR]
)
async def test_a_garbled_empty_oversized_or_failed_answer_is_a_bad_response(
    server: RangeApiServer, client: httpx.AsyncClient, behaviour: Behaviour
) -> None:
    server.behaviour = behaviour
    with pytest.raises(BreachCheckUnavailableError) as caught:
        await checker(client, server.url).times_breached(BREACHED)
    assert caught.value.reason is BreachCheckFailure.BAD_RESPONSE


def test_the_error_carries_no_password() -> None:
    error = BreachCheckUnavailableError(BreachCheckFailure.TIMEOUT)
    assert str(error) == "the breached-password service gave no answer: timeout"
