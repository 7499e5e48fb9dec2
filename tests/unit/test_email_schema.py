"""The email type's RFC 5321 length rules, in octets of the address as stored.

Over HTTP (tests/api/test_email_length.py) email-validator refuses an over-long
domain or address before these rules are reached; here they are checked on their own.
"""

import pytest
from pydantic import TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from app.schemas.base import Email, within_smtp_limits

ADAPTER = TypeAdapter(Email)


@pytest.mark.parametrize(
    "address",
    [
        "l" * 64 + "@example.com",
        "l" * 64 + "@" + "d" * 185 + ".com",
        "l@" + "d" * 248 + ".com",
    ],
    ids=["local-part-64", "address-254", "domain-252"],
)
def test_addresses_at_the_limits_pass(address: str) -> None:
    assert within_smtp_limits(address) == address


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("l" * 65 + "@example.com", "before the @-sign is longer than 64 octets"),
        ("l@" + "d" * 252 + ".com", "after the @-sign is longer than 255 octets"),
        ("l" * 64 + "@" + "d" * 186 + ".com", "The address is longer than 254 octets"),
    ],
    ids=["local-part-65", "domain-256", "address-255"],
)
def test_addresses_over_a_limit_are_invalid_addresses(address: str, reason: str) -> None:
    with pytest.raises(PydanticCustomError, match=reason) as caught:
        within_smtp_limits(address)
    assert caught.value.type == "value_error"
    assert str(caught.value).startswith("value is not a valid email address: ")


def test_the_limits_count_octets_not_characters() -> None:
    # "ü" is two octets in UTF-8: 32 of them fill the local part, 33 overflow it.
    assert ADAPTER.validate_python("ü" * 32 + "@example.com") == "ü" * 32 + "@example.com"
    with pytest.raises(ValidationError, match="longer than 64 octets"):
        ADAPTER.validate_python("ü" * 33 + "@example.com")


def test_the_address_is_measured_as_stored_in_lower_case() -> None:
    assert ADAPTER.validate_python("L" * 64 + "@Example.COM") == "l" * 64 + "@example.com"
    with pytest.raises(ValidationError, match="longer than 64 octets"):
        ADAPTER.validate_python("L" * 65 + "@Example.COM")
