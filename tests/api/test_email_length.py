"""Addresses over RFC 5321's length limits (§4.5.3.1) are refused wherever one is named.

At most 64 octets before the @-sign, 255 after it and 254 in all. Every request body
that carries an address refuses a longer one with 422 and writes nothing; the login
form's ``username`` treats it as the unknown address it is. Runs on every database
backend of ``tests/api/conftest.py``.
"""

from typing import Any

import httpx
import pytest

from tests.api.helpers import (
    V1,
    LoggedIn,
    assert_problem,
    comparable,
    login,
    login_superuser,
    register,
)

STRONG = "violet-Harbour-7-kettle"


def domain_of(octets: int) -> str:
    """A domain of exactly ``octets`` octets: 63-octet labels, a shorter one, then .com."""
    full, last = divmod(octets - len(".com"), 64)
    assert last > 0, "no valid domain has this layout; pick another length"
    return ("d" * 63 + ".") * full + "d" * last + ".com"


ACCEPTED = {
    "local-part-64": "l" * 64 + "@example.com",
    "address-254": "l" * 64 + "@" + domain_of(189),
}
REFUSED = {
    "local-part-65": "l" * 65 + "@example.com",
    "domain-256": "l@" + domain_of(256),
    "address-255": "l" * 64 + "@" + domain_of(190),
}
# Each request that names an address: its path, its body, and whether an admin sends it.
REQUESTS: dict[str, tuple[str, dict[str, Any], bool]] = {
    "register": ("/auth/register", {"password": STRONG}, False),
    "admin-create": ("/users", {"password": STRONG, "role": "user"}, True),
    "forgot-password": ("/auth/forgot-password", {}, False),
    "resend-verification": ("/auth/resend-verification", {}, False),
    "verify-email": ("/auth/verify-email", {"code": "123456"}, False),
    "reset-password": ("/auth/reset-password", {"code": "123456", "new_password": STRONG}, False),
}


def test_the_addresses_have_the_lengths_they_are_named_after() -> None:
    assert len(REFUSED["local-part-65"].partition("@")[0]) == 65
    assert len(REFUSED["domain-256"].partition("@")[2]) == 256
    assert len(REFUSED["address-255"]) == 255
    assert len(ACCEPTED["local-part-64"].partition("@")[0]) == 64
    assert len(ACCEPTED["address-254"]) == 254


async def what_an_admin_sees(client: httpx.AsyncClient, admin: LoggedIn) -> list[Any]:
    """Every user, audit event and queued email (fewer than 100 of each here)."""
    seen = []
    for path in ("/users", "/admin/audit", "/admin/emails"):
        response = await client.get(f"{V1}{path}", params={"limit": 100}, headers=admin.headers)
        assert response.status_code == 200, response.text
        seen.append(response.json())
    return seen


@pytest.mark.parametrize("email", ACCEPTED.values(), ids=ACCEPTED.keys())
async def test_an_address_at_the_limits_registers_and_logs_in(
    client: httpx.AsyncClient, email: str
) -> None:
    user = await register(client, email, STRONG)
    assert user["email"] == email
    await login(client, email, STRONG)


@pytest.mark.parametrize("request_name", REQUESTS.keys())
@pytest.mark.parametrize("email", REFUSED.values(), ids=REFUSED.keys())
async def test_an_over_long_address_is_422_and_writes_nothing(
    client: httpx.AsyncClient, email: str, request_name: str
) -> None:
    path, body, as_admin = REQUESTS[request_name]
    admin = await login_superuser(client)
    before = await what_an_admin_sees(client, admin)

    response = await client.post(
        f"{V1}{path}", json={"email": email, **body}, headers=admin.headers if as_admin else None
    )

    problem = assert_problem(response, 422, "validation_error")
    assert [error["loc"] for error in problem["errors"]] == [["body", "email"]]
    assert await what_an_admin_sees(client, admin) == before


async def test_the_local_part_rule_names_itself(client: httpx.AsyncClient) -> None:
    """The other two limits are met first by email-validator, in its own words."""
    response = await client.post(
        f"{V1}/auth/register", json={"email": REFUSED["local-part-65"], "password": STRONG}
    )
    [error] = assert_problem(response, 422, "validation_error")["errors"]
    assert error["type"] == "value_error"
    assert "before the @-sign is longer than 64 octets" in error["msg"]


@pytest.mark.parametrize("email", REFUSED.values(), ids=REFUSED.keys())
async def test_login_with_an_over_long_address_is_an_unknown_address(
    client: httpx.AsyncClient, email: str
) -> None:
    """The OAuth2 token endpoint answers bad credentials, not the address's syntax."""

    async def attempt(username: str) -> httpx.Response:
        return await client.post(
            f"{V1}/auth/login", data={"username": username, "password": STRONG}
        )

    unknown = await attempt("no.such.user@example.com")
    over_long = await attempt(email)

    assert_problem(over_long, 401, "invalid_credentials")
    assert comparable(over_long) == comparable(unknown)
