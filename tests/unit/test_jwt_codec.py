"""JwtTokenCodec: round trips, headers, and the forged or misused tokens it must refuse."""

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from app.interfaces.token_codec import TokenExpiredError, TokenInvalidError
from app.utils.jwt_codec import JwtTokenCodec
from app.utils.keys import (
    KeyRing,
    dev_retired_key_path,
    generate_private_key,
    public_pem,
    rotate_dev_key,
    signing_key,
)
from tests.conftest import KeyPems

ISSUER = "test-issuer"
AUDIENCE = "test-audience"
SUBJECT = "0190a4b2-0000-7000-8000-000000000001"
SESSION = "0190a4b2-0000-7000-8000-000000000002"


@pytest.fixture(scope="module")
def keys(key_pems: KeyPems, tmp_path_factory: pytest.TempPathFactory) -> KeyRing:
    """Loading RSA keys is slow; the loaded ring is read-only, so one serves the module."""
    ring = key_pems.ring(tmp_path_factory.mktemp("keys"))
    ring.load()
    return ring


@pytest.fixture
def codec(keys: KeyRing) -> JwtTokenCodec:
    return JwtTokenCodec(keys, ISSUER, AUDIENCE)


def now_ts() -> int:
    return int(datetime.now(UTC).timestamp())


def access_claims(**changes: Any) -> dict[str, Any]:
    """Valid access claims; a change of ``None`` removes the claim."""
    issued = now_ts()
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": SUBJECT,
        "sid": SESSION,
        "jti": str(uuid.uuid4()),
        "type": "access",
        "role": "user",
        "perms": ["profile:read"],
        "iat": issued,
        "nbf": issued,
        "exp": issued + 300,
    }
    return apply(claims, changes)


def refresh_claims(**changes: Any) -> dict[str, Any]:
    issued = now_ts()
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": SUBJECT,
        "sid": SESSION,
        "jti": str(uuid.uuid4()),
        "type": "refresh",
        "iat": issued,
        "exp": issued + 3600,
    }
    return apply(claims, changes)


def apply(claims: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def sign(
    claims: dict[str, Any],
    key: rsa.RSAPrivateKey,
    kid: str,
    typ: str = "at+jwt",
    algorithm: str = "RS256",
) -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid, "typ": typ})


def forge_access(keys: KeyRing, **changes: Any) -> str:
    signing = keys.access.current
    return sign(access_claims(**changes), signing.private_key, signing.kid)


def forge_refresh(keys: KeyRing, **changes: Any) -> str:
    signing = keys.refresh.current
    return sign(refresh_claims(**changes), signing.private_key, signing.kid, typ="rt+jwt")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- round trips and headers -----------------------------------------------------


def test_access_token_round_trip(codec: JwtTokenCodec) -> None:
    now = datetime.now(UTC)

    token = codec.encode_access(
        subject=SUBJECT,
        session_id=SESSION,
        role="admin",
        permissions=["user:read", "profile:read"],
        now=now,
        ttl_seconds=600,
    )
    claims = codec.decode_access(token)

    issued = datetime.fromtimestamp(int(now.timestamp()), UTC)
    assert claims.subject == SUBJECT
    assert claims.session_id == SESSION
    assert claims.role == "admin"
    assert claims.permissions == ("user:read", "profile:read")
    assert claims.issued_at == issued
    assert claims.expires_at == issued + timedelta(seconds=600)
    assert uuid.UUID(claims.jti).version == 7


def test_access_tokens_get_distinct_jtis(codec: JwtTokenCodec) -> None:
    def encode() -> str:
        return codec.encode_access(
            subject=SUBJECT,
            session_id=SESSION,
            role="user",
            permissions=[],
            now=datetime.now(UTC),
            ttl_seconds=60,
        )

    assert codec.decode_access(encode()).jti != codec.decode_access(encode()).jti


def test_refresh_token_round_trip(codec: JwtTokenCodec) -> None:
    now = datetime.now(UTC)
    expires = now + timedelta(days=14)
    jti = str(uuid.uuid4())

    token = codec.encode_refresh(
        subject=SUBJECT, session_id=SESSION, jti=jti, now=now, expires_at=expires
    )
    claims = codec.decode_refresh(token)

    assert claims.subject == SUBJECT
    assert claims.session_id == SESSION
    assert claims.jti == jti
    assert claims.issued_at == datetime.fromtimestamp(int(now.timestamp()), UTC)
    assert claims.expires_at == datetime.fromtimestamp(int(expires.timestamp()), UTC)


def test_access_header_names_kid_type_and_algorithm(codec: JwtTokenCodec, keys: KeyRing) -> None:
    token = codec.encode_access(
        subject=SUBJECT,
        session_id=SESSION,
        role="user",
        permissions=[],
        now=datetime.now(UTC),
        ttl_seconds=60,
    )

    assert jwt.get_unverified_header(token) == {
        "alg": "RS256",
        "typ": "at+jwt",
        "kid": keys.access.current.kid,
    }


def test_refresh_header_names_kid_type_and_algorithm(codec: JwtTokenCodec, keys: KeyRing) -> None:
    now = datetime.now(UTC)
    token = codec.encode_refresh(
        subject=SUBJECT, session_id=SESSION, jti="j", now=now, expires_at=now + timedelta(hours=1)
    )

    assert jwt.get_unverified_header(token) == {
        "alg": "RS256",
        "typ": "rt+jwt",
        "kid": keys.refresh.current.kid,
    }
    assert keys.refresh.current.kid != keys.access.current.kid


def test_tokens_forged_with_valid_claims_are_accepted(codec: JwtTokenCodec, keys: KeyRing) -> None:
    # Sanity check of the forging helpers: every attack below changes one thing only.
    assert codec.decode_access(forge_access(keys)).subject == SUBJECT
    assert codec.decode_refresh(forge_refresh(keys)).subject == SUBJECT


# --- attacks and misuse ---------------------------------------------------------------


def test_alg_none_token_is_rejected(codec: JwtTokenCodec, keys: KeyRing) -> None:
    token = jwt.encode(
        access_claims(),
        None,
        algorithm="none",
        headers={"kid": keys.access.current.kid, "typ": "at+jwt"},
    )

    with pytest.raises(TokenInvalidError):
        codec.decode_access(token)


def test_hs256_signed_with_the_public_key_pem_is_rejected(
    codec: JwtTokenCodec, keys: KeyRing, key_pems: KeyPems
) -> None:
    # PyJWT refuses a PEM as an HMAC secret, so the confused-algorithm token is built by hand.
    header = {"alg": "HS256", "typ": "at+jwt", "kid": keys.access.current.kid}
    signing_input = (
        b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(access_claims()).encode())
    )
    signature = hmac.new(
        key_pems.access_public.encode(), signing_input.encode(), hashlib.sha256
    ).digest()
    token = signing_input + "." + b64url(signature)

    with pytest.raises(TokenInvalidError):
        codec.decode_access(token)


def test_token_signed_by_another_key_with_the_same_kid_is_rejected(
    codec: JwtTokenCodec, keys: KeyRing
) -> None:
    attacker = generate_private_key()
    token = sign(access_claims(), attacker, keys.access.current.kid)

    with pytest.raises(TokenInvalidError):
        codec.decode_access(token)


def test_access_token_signed_with_the_refresh_key_is_rejected(
    codec: JwtTokenCodec, keys: KeyRing
) -> None:
    token = sign(access_claims(), keys.refresh.current.private_key, keys.access.current.kid)

    with pytest.raises(TokenInvalidError):
        codec.decode_access(token)


@pytest.mark.parametrize("kid", ["unknown-kid", None])
def test_unknown_or_missing_kid_is_rejected(
    codec: JwtTokenCodec, keys: KeyRing, kid: str | None
) -> None:
    headers: dict[str, Any] = {"typ": "at+jwt"}
    if kid is not None:
        headers["kid"] = kid
    token = jwt.encode(
        access_claims(), keys.access.current.private_key, algorithm="RS256", headers=headers
    )

    with pytest.raises(TokenInvalidError):
        codec.decode_access(token)


def test_tampered_payload_is_rejected(codec: JwtTokenCodec, keys: KeyRing) -> None:
    header, payload, signature = forge_access(keys).split(".")
    claims = json.loads(b64url_decode(payload))
    claims["sub"] = "someone-else"
    tampered = ".".join([header, b64url(json.dumps(claims).encode()), signature])

    with pytest.raises(TokenInvalidError):
        codec.decode_access(tampered)


@pytest.mark.parametrize("token", ["", "not-a-token", "a.b.c", "x.y"])
def test_malformed_token_is_rejected(codec: JwtTokenCodec, token: str) -> None:
    with pytest.raises(TokenInvalidError):
        codec.decode_access(token)


def test_expired_access_token_raises_expired_with_the_session_id(
    codec: JwtTokenCodec, keys: KeyRing
) -> None:
    issued = now_ts() - 600
    token = forge_access(keys, iat=issued, nbf=issued, exp=issued + 300)

    with pytest.raises(TokenExpiredError) as caught:
        codec.decode_access(token)

    assert caught.value.session_id == SESSION


def test_expired_refresh_token_raises_expired_with_the_session_id(
    codec: JwtTokenCodec, keys: KeyRing
) -> None:
    issued = now_ts() - 600
    token = forge_refresh(keys, iat=issued, exp=issued + 300)

    with pytest.raises(TokenExpiredError) as caught:
        codec.decode_refresh(token)

    assert caught.value.session_id == SESSION


def test_expired_token_without_sid_is_invalid_not_expired(
    codec: JwtTokenCodec, keys: KeyRing
) -> None:
    issued = now_ts() - 600
    token = forge_access(keys, iat=issued, nbf=issued, exp=issued + 300, sid=None)

    with pytest.raises(TokenInvalidError):
        codec.decode_access(token)


@pytest.mark.parametrize("claim", ["iss", "aud"])
def test_expired_token_from_another_issuer_or_audience_is_invalid(
    codec: JwtTokenCodec, keys: KeyRing, claim: str
) -> None:
    issued = now_ts() - 600
    token = forge_access(keys, iat=issued, nbf=issued, exp=issued + 300, **{claim: "other"})

    with pytest.raises(TokenInvalidError):
        codec.decode_access(token)


def test_token_not_yet_valid_is_rejected(codec: JwtTokenCodec, keys: KeyRing) -> None:
    token = forge_access(keys, nbf=now_ts() + 120)

    with pytest.raises(TokenInvalidError):
        codec.decode_access(token)


def test_wrong_issuer_is_rejected(codec: JwtTokenCodec, keys: KeyRing) -> None:
    with pytest.raises(TokenInvalidError):
        codec.decode_access(forge_access(keys, iss="https://evil.example"))
    with pytest.raises(TokenInvalidError):
        codec.decode_refresh(forge_refresh(keys, iss="https://evil.example"))


def test_wrong_audience_is_rejected(codec: JwtTokenCodec, keys: KeyRing) -> None:
    with pytest.raises(TokenInvalidError):
        codec.decode_access(forge_access(keys, aud="another-api"))
    with pytest.raises(TokenInvalidError):
        codec.decode_refresh(forge_refresh(keys, aud="another-api"))


def test_refresh_token_is_not_an_access_token(codec: JwtTokenCodec) -> None:
    now = datetime.now(UTC)
    refresh = codec.encode_refresh(
        subject=SUBJECT, session_id=SESSION, jti="j", now=now, expires_at=now + timedelta(hours=1)
    )

    with pytest.raises(TokenInvalidError):
        codec.decode_access(refresh)


def test_access_token_is_not_a_refresh_token(codec: JwtTokenCodec) -> None:
    access = codec.encode_access(
        subject=SUBJECT,
        session_id=SESSION,
        role="user",
        permissions=[],
        now=datetime.now(UTC),
        ttl_seconds=60,
    )

    with pytest.raises(TokenInvalidError):
        codec.decode_refresh(access)


def test_type_claim_must_match_the_header(codec: JwtTokenCodec, keys: KeyRing) -> None:
    with pytest.raises(TokenInvalidError):
        codec.decode_access(forge_access(keys, type="refresh"))


def test_typ_header_must_match(codec: JwtTokenCodec, keys: KeyRing) -> None:
    signing = keys.access.current
    token = sign(access_claims(), signing.private_key, signing.kid, typ="JWT")

    with pytest.raises(TokenInvalidError):
        codec.decode_access(token)


@pytest.mark.parametrize(
    "claim", ["iss", "aud", "sub", "sid", "jti", "type", "iat", "exp", "nbf", "role", "perms"]
)
def test_access_token_missing_a_required_claim_is_rejected(
    codec: JwtTokenCodec, keys: KeyRing, claim: str
) -> None:
    with pytest.raises(TokenInvalidError):
        codec.decode_access(forge_access(keys, **{claim: None}))


@pytest.mark.parametrize("claim", ["iss", "aud", "sub", "sid", "jti", "type", "iat", "exp"])
def test_refresh_token_missing_a_required_claim_is_rejected(
    codec: JwtTokenCodec, keys: KeyRing, claim: str
) -> None:
    with pytest.raises(TokenInvalidError):
        codec.decode_refresh(forge_refresh(keys, **{claim: None}))


@pytest.mark.parametrize("claim", ["sub", "sid", "jti"])
@pytest.mark.parametrize("value", ["", 42])
def test_identifier_claims_must_be_non_empty_strings(
    codec: JwtTokenCodec, keys: KeyRing, claim: str, value: object
) -> None:
    with pytest.raises(TokenInvalidError):
        codec.decode_access(forge_access(keys, **{claim: value}))


@pytest.mark.parametrize("perms", ["profile:read", {"profile:read": True}, [1], ["ok", None]])
def test_perms_must_be_a_list_of_strings(codec: JwtTokenCodec, keys: KeyRing, perms: Any) -> None:
    with pytest.raises(TokenInvalidError):
        codec.decode_access(forge_access(keys, perms=perms))


# RFC 7519 NumericDates are JSON numbers; PyJWT only compares int(value), which takes
# these. Each is built from the claim's valid value, so "numeric-string" would pass.
NOT_NUMBERS: dict[str, Callable[[int], Any]] = {
    "numeric-string": str,
    "zero-string": lambda _: "0",
    "true": lambda _: True,
    "false": lambda _: False,
    "null": lambda _: None,
    "list": lambda valid: [valid],
    "object": lambda valid: {"value": valid},
}


def with_claim(claims: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """``claims`` with ``name`` set to ``value``, null included."""
    return {**claims, name: value}


@pytest.mark.parametrize("kind", NOT_NUMBERS.keys())
@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_access_token_time_claims_must_be_numbers(
    codec: JwtTokenCodec, keys: KeyRing, claim: str, kind: str
) -> None:
    claims = access_claims()
    signing = keys.access.current
    token = sign(
        with_claim(claims, claim, NOT_NUMBERS[kind](claims[claim])),
        signing.private_key,
        signing.kid,
    )

    with pytest.raises(TokenInvalidError, match=f"{claim} must be a number|token rejected"):
        codec.decode_access(token)


@pytest.mark.parametrize("kind", NOT_NUMBERS.keys())
@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
def test_refresh_token_time_claims_must_be_numbers(
    codec: JwtTokenCodec, keys: KeyRing, claim: str, kind: str
) -> None:
    """Refresh tokens carry no ``nbf``; one that does is held to the same rule."""
    claims = refresh_claims(nbf=now_ts())
    signing = keys.refresh.current
    token = sign(
        with_claim(claims, claim, NOT_NUMBERS[kind](claims[claim])),
        signing.private_key,
        signing.kid,
        typ="rt+jwt",
    )

    with pytest.raises(TokenInvalidError, match=f"{claim} must be a number|token rejected"):
        codec.decode_refresh(token)


def test_a_past_exp_that_is_not_a_number_is_invalid_not_expired(
    codec: JwtTokenCodec, keys: KeyRing
) -> None:
    """Expired would let the refresh middleware act on it; it is malformed instead."""
    issued = now_ts() - 600
    for exp in (str(issued + 300), True):
        with pytest.raises(TokenInvalidError, match="exp must be a number"):
            codec.decode_access(forge_access(keys, iat=issued, nbf=issued, exp=exp))
        with pytest.raises(TokenInvalidError, match="exp must be a number"):
            codec.decode_refresh(forge_refresh(keys, iat=issued, exp=exp))


def test_time_claims_may_have_a_fraction(codec: JwtTokenCodec, keys: KeyRing) -> None:
    """A NumericDate need not be whole (RFC 7519 §2)."""
    issued = now_ts() - 0.5
    claims = codec.decode_access(forge_access(keys, iat=issued, nbf=issued, exp=issued + 300))
    assert claims.expires_at == datetime.fromtimestamp(issued + 300, UTC)
    assert codec.decode_refresh(forge_refresh(keys, iat=issued, exp=issued + 300.25)).jti


# --- JWKS -----------------------------------------------------------------------------


def test_jwks_publishes_the_access_public_key_only(codec: JwtTokenCodec, keys: KeyRing) -> None:
    document = codec.jwks()

    assert len(document["keys"]) == 1
    jwk = document["keys"][0]
    assert jwk["kid"] == keys.access.current.kid
    assert jwk["alg"] == "RS256"
    assert jwk["use"] == "sig"
    assert jwk["kty"] == "RSA"
    for private_part in ("d", "p", "q", "dp", "dq", "qi"):
        assert private_part not in jwk
    numbers = keys.access.current.public_key.public_numbers()
    assert int.from_bytes(b64url_decode(jwk["n"]), "big") == numbers.n
    assert int.from_bytes(b64url_decode(jwk["e"]), "big") == numbers.e
    json.dumps(document)  # serialisable as a response body


def test_jwks_key_verifies_an_issued_access_token(codec: JwtTokenCodec) -> None:
    token = codec.encode_access(
        subject=SUBJECT,
        session_id=SESSION,
        role="user",
        permissions=[],
        now=datetime.now(UTC),
        ttl_seconds=60,
    )
    public = jwt.PyJWK(codec.jwks()["keys"][0])

    claims = jwt.decode(token, public, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)

    assert claims["sub"] == SUBJECT


# --- key rotation ---------------------------------------------------------------------


def dev_codec(data_dir: Path, **previous: tuple[str, ...]) -> tuple[JwtTokenCodec, KeyRing]:
    """A codec on the development keys under ``data_dir``, loaded as at start-up."""
    ring = KeyRing(
        access_private=None,
        access_public=None,
        refresh_private=None,
        refresh_public=None,
        data_dir=data_dir,
        **previous,
    )
    ring.load()
    return JwtTokenCodec(ring, ISSUER, AUDIENCE), ring


def issue_access(codec: JwtTokenCodec, ttl_seconds: int = 300) -> str:
    return codec.encode_access(
        subject=SUBJECT,
        session_id=SESSION,
        role="user",
        permissions=["profile:read"],
        now=datetime.now(UTC),
        ttl_seconds=ttl_seconds,
    )


def issue_refresh(codec: JwtTokenCodec, jti: str) -> str:
    now = datetime.now(UTC)
    return codec.encode_refresh(
        subject=SUBJECT, session_id=SESSION, jti=jti, now=now, expires_at=now + timedelta(hours=1)
    )


def kid_of(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


def rotate_both(data_dir: Path) -> None:
    rotate_dev_key(data_dir, "access_token")
    rotate_dev_key(data_dir, "refresh_token")


def test_tokens_signed_before_a_rotation_still_verify_after_it(tmp_path: Path) -> None:
    before, old = dev_codec(tmp_path)
    access, refresh = issue_access(before), issue_refresh(before, "refresh-jti")

    rotate_both(tmp_path)
    after, new = dev_codec(tmp_path)

    assert new.access.current.kid != old.access.current.kid
    assert new.refresh.current.kid != old.refresh.current.kid
    assert after.decode_access(access).subject == SUBJECT
    assert after.decode_refresh(refresh).jti == "refresh-jti"


def test_new_tokens_carry_the_new_kid(tmp_path: Path) -> None:
    before, old = dev_codec(tmp_path)
    rotate_both(tmp_path)
    after, new = dev_codec(tmp_path)

    access, refresh = issue_access(after), issue_refresh(after, "jti")

    assert kid_of(access) == new.access.current.kid
    assert kid_of(refresh) == new.refresh.current.kid
    assert after.decode_access(access).session_id == SESSION
    # The pre-rotation process never heard of the new key: why several instances
    # roll out in two phases (docs/KEY_ROTATION.md).
    with pytest.raises(TokenInvalidError, match="unknown signing key"):
        before.decode_access(access)
    assert kid_of(issue_access(before)) == old.access.current.kid


def test_jwks_lists_the_current_and_the_retired_access_keys(tmp_path: Path) -> None:
    before, old = dev_codec(tmp_path)
    old_token = issue_access(before)
    rotate_both(tmp_path)
    after, new = dev_codec(tmp_path)
    new_token = issue_access(after)

    keys = after.jwks()["keys"]

    assert [key["kid"] for key in keys] == [new.access.current.kid, old.access.current.kid]
    assert all(key["alg"] == "RS256" and key["use"] == "sig" for key in keys)
    assert not {new.refresh.current.kid, old.refresh.current.kid} & {key["kid"] for key in keys}
    by_kid = {key["kid"]: jwt.PyJWK(key) for key in keys}
    for token in (old_token, new_token):
        claims = jwt.decode(
            token, by_kid[kid_of(token)], algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER
        )
        assert claims["sub"] == SUBJECT


def test_a_token_signed_by_a_key_outside_the_ring_is_refused(tmp_path: Path) -> None:
    _, old = dev_codec(tmp_path)
    rotate_both(tmp_path)
    after, _ = dev_codec(tmp_path)
    outsider = signing_key(generate_private_key())

    own_kid = sign(access_claims(), outsider.private_key, outsider.kid)
    retired_kid = sign(access_claims(), outsider.private_key, old.access.current.kid)

    with pytest.raises(TokenInvalidError, match="unknown signing key"):
        after.decode_access(own_kid)
    with pytest.raises(TokenInvalidError, match="token rejected"):
        after.decode_access(retired_kid)


def test_an_expired_token_of_a_retired_key_is_reported_expired(tmp_path: Path) -> None:
    _, old = dev_codec(tmp_path)
    issued = now_ts() - 600
    signing = old.access.current
    token = sign(
        access_claims(iat=issued, nbf=issued, exp=issued + 60), signing.private_key, signing.kid
    )
    rotate_both(tmp_path)
    after, _ = dev_codec(tmp_path)

    with pytest.raises(TokenExpiredError) as caught:
        after.decode_access(token)

    assert caught.value.session_id == SESSION


def test_old_tokens_are_refused_once_the_retired_key_is_removed(tmp_path: Path) -> None:
    before, old = dev_codec(tmp_path)
    access = issue_access(before)
    rotate_both(tmp_path)
    dev_retired_key_path(tmp_path, "access_token", old.access.current.kid).unlink()

    after, _ = dev_codec(tmp_path)

    with pytest.raises(TokenInvalidError, match="unknown signing key"):
        after.decode_access(access)


def test_previous_keys_from_settings_verify_as_pem_and_as_path(
    tmp_path: Path, keys: KeyRing
) -> None:
    """Configured keys rotated by hand: the old pair's public keys become previous keys."""
    old = JwtTokenCodec(keys, ISSUER, AUDIENCE)
    access, refresh = issue_access(old), issue_refresh(old, "old-refresh")
    refresh_path = tmp_path / "refresh_previous.pem"
    refresh_path.write_bytes(public_pem(keys.refresh.current.public_key))
    access_previous = public_pem(keys.access.current.public_key).decode()

    new, ring = dev_codec(
        tmp_path / "new",
        access_previous=(access_previous,),
        refresh_previous=(str(refresh_path),),
    )

    assert new.decode_access(access).subject == SUBJECT
    assert new.decode_refresh(refresh).jti == "old-refresh"
    assert kid_of(issue_access(new)) == ring.access.current.kid != keys.access.current.kid
    assert [key["kid"] for key in new.jwks()["keys"]] == [
        ring.access.current.kid,
        keys.access.current.kid,
    ]
