"""Shared DTO building blocks."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128


def _lower(value: str) -> str:
    return value.lower()


# RFC 5321 §4.5.3.1, in octets of the address as stored and sent: the longest local
# part and domain an SMTP server must accept, and the 256-octet path less its angle
# brackets (which alone keeps a domain to 252). A longer address cannot be relied on
# to receive mail, so none is accepted.
LOCAL_PART_MAX_OCTETS = 64
DOMAIN_MAX_OCTETS = 255
EMAIL_MAX_OCTETS = 254


def within_smtp_limits(address: str) -> str:
    """Refuse an address over RFC 5321's limits, as an invalid address.

    email-validator, as pydantic calls it, checks the domain (at 253 octets, the DNS
    limit) and the whole address, but leaves the local part to its strict mode. All
    three rules are stated here, so that no change of the library can loosen them.
    """
    local, _, domain = address.rpartition("@")
    for part, name, limit in (
        (local, "The part before the @-sign", LOCAL_PART_MAX_OCTETS),
        (domain, "The part after the @-sign", DOMAIN_MAX_OCTETS),
        (address, "The address", EMAIL_MAX_OCTETS),
    ):
        if len(part.encode()) > limit:
            raise PydanticCustomError(
                "value_error",
                "value is not a valid email address: {reason}",
                {"reason": f"{name} is longer than {limit} octets."},
            )
    return address


Email = Annotated[
    EmailStr,
    Field(max_length=EMAIL_MAX_OCTETS),
    AfterValidator(_lower),
    AfterValidator(within_smtp_limits),
]
Password = Annotated[str, Field(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)]
FullName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _rfc3339_milliseconds(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# Every store keeps milliseconds (MongoDB's precision). Pydantic's default drops the
# fraction when it is zero, so one value in a thousand had a different shape and
# sorted out of place as a string; a fixed width keeps text order = time order.
Timestamp = Annotated[
    datetime,
    PlainSerializer(_rfc3339_milliseconds, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


class InputModel(BaseModel):
    """Base of every request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)
