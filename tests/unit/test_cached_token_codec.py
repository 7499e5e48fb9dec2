"""CachedTokenCodec: verifies a token's signature once, and never trusts more than that."""

from datetime import UTC, datetime

import pytest

from app.interfaces.token_codec import AccessClaims, TokenExpiredError, TokenInvalidError
from app.utils.cached_token_codec import CachedTokenCodec
from app.utils.jwt_codec import JwtTokenCodec
from app.utils.keys import KeyRing
from tests.unit.test_jwt_codec import (
    AUDIENCE,
    ISSUER,
    SESSION,
    SUBJECT,
    b64url,
    b64url_decode,
    forge_access,
    forge_refresh,
    keys,
    now_ts,
)

__all__ = ["keys"]  # the module-scoped fixture, shared with test_jwt_codec


class CountingCodec(JwtTokenCodec):
    """The real codec, counting how often it really verifies an access token."""

    def __init__(self, ring: KeyRing) -> None:
        super().__init__(ring, ISSUER, AUDIENCE)
        self.verified = 0

    def decode_access(self, token: str) -> AccessClaims:
        self.verified += 1
        return super().decode_access(token)


class Clock:
    def __init__(self) -> None:
        self.value = float(now_ts())

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def inner(keys: KeyRing) -> CountingCodec:
    return CountingCodec(keys)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cached(inner: CountingCodec, clock: Clock) -> CachedTokenCodec:
    return CachedTokenCodec(inner, max_entries=3, now=clock)


def test_a_token_is_verified_once_and_then_served_from_memory(
    cached: CachedTokenCodec, inner: CountingCodec, keys: KeyRing
) -> None:
    token = forge_access(keys)
    first = cached.decode_access(token)
    again = cached.decode_access(token)
    assert again == first
    assert (first.subject, first.session_id) == (SUBJECT, SESSION)
    assert inner.verified == 1


def test_an_altered_signature_is_refused_although_the_original_is_cached(
    cached: CachedTokenCodec, keys: KeyRing
) -> None:
    token = forge_access(keys)
    cached.decode_access(token)
    head, payload, signature = token.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[-1] ^= 0x01
    with pytest.raises(TokenInvalidError):
        cached.decode_access(f"{head}.{payload}.{b64url(bytes(raw))}")


def test_an_altered_payload_is_refused_although_the_original_is_cached(
    cached: CachedTokenCodec, keys: KeyRing
) -> None:
    token = forge_access(keys)
    cached.decode_access(token)
    head, _, signature = token.split(".")
    other_payload = forge_access(keys, role="superadmin").split(".")[1]
    with pytest.raises(TokenInvalidError):
        cached.decode_access(f"{head}.{other_payload}.{signature}")


def test_a_cached_token_is_verified_again_once_its_exp_has_passed(
    cached: CachedTokenCodec, inner: CountingCodec, clock: Clock, keys: KeyRing
) -> None:
    expires = now_ts() + 60
    token = forge_access(keys, exp=expires)
    cached.decode_access(token)
    clock.value = expires - 0.001
    cached.decode_access(token)
    assert inner.verified == 1
    # At exp the cache lets go; the wrapped codec decides (with its own clock, for
    # which the token is still valid, so it verifies and is remembered again).
    clock.value = expires
    cached.decode_access(token)
    assert inner.verified == 2


def test_an_expired_token_raises_the_wrapped_codecs_error_every_time(
    cached: CachedTokenCodec, inner: CountingCodec, keys: KeyRing
) -> None:
    token = forge_access(keys, iat=now_ts() - 120, nbf=now_ts() - 120, exp=now_ts() - 60)
    for _ in range(2):
        with pytest.raises(TokenExpiredError) as caught:
            cached.decode_access(token)
        # The refresh middleware binds the refresh to this session id.
        assert caught.value.session_id == SESSION
    assert inner.verified == 2


def test_the_least_recently_used_token_is_forgotten_beyond_the_bound(
    cached: CachedTokenCodec, inner: CountingCodec, keys: KeyRing
) -> None:
    tokens = [forge_access(keys) for _ in range(4)]
    for token in tokens[:3]:
        cached.decode_access(token)
    cached.decode_access(tokens[0])  # now the most recently used
    cached.decode_access(tokens[3])  # evicts tokens[1]
    assert inner.verified == 4
    cached.decode_access(tokens[0])
    assert inner.verified == 4
    cached.decode_access(tokens[1])
    assert inner.verified == 5


def test_refresh_tokens_are_always_verified(cached: CachedTokenCodec, keys: KeyRing) -> None:
    token = forge_refresh(keys)
    assert cached.decode_refresh(token).subject == SUBJECT
    head, payload, _ = token.split(".")
    with pytest.raises(TokenInvalidError):
        cached.decode_refresh(f"{head}.{payload}.{b64url(b'forged')}")


def test_tokens_it_signs_verify_through_it(cached: CachedTokenCodec) -> None:
    now = datetime.now(UTC)
    token = cached.encode_access(
        subject=SUBJECT,
        session_id=SESSION,
        role="user",
        permissions=["profile:read"],
        now=now,
        ttl_seconds=300,
    )
    assert cached.decode_access(token).permissions == ("profile:read",)
    assert cached.jwks()["keys"]


def test_a_bound_below_one_is_refused(inner: CountingCodec) -> None:
    with pytest.raises(ValueError, match="max_entries"):
        CachedTokenCodec(inner, max_entries=0)
