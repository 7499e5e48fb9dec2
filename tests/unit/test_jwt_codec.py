"""JwtTokenCodec: round trips, headers, and the forged or misused tokens it must refuse."""

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from app.interfaces.token_codec import TokenExpiredError, TokenInvalidError
from app.utils.jwt_codec import JwtTokenCodec
from app.utils.keys import KeyRing, generate_private_key
from tests.conftest import KeyPems

ISSUER = "test-issuer"
AUDIENCE = "test-audience"
SUBJECT = "0190a4b2-0000-7000-8000-000000000001"
SESSION = "0190a4b2-0000-7000-8000-000000000002"


@pytest.fixture(scope="module")
def keys(key_pems: KeyPems, tmp_path_factory: pytest.TempPathFactory) -> KeyRing:
    """Loading RSA keys is slow; the loaded ring is read-only, so one serves the module."""
    ring = KeyRing(
        access_private=key_pems.access_private,
        access_public=key_pems.access_public,
        refresh_private=key_pems.refresh_private,
        refresh_public=key_pems.refresh_public,
        data_dir=tmp_path_factory.mktemp("keys"),
    )
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
    signing = keys.access[0]
    return sign(access_claims(**changes), signing.private_key, signing.kid)


def forge_refresh(keys: KeyRing, **changes: Any) -> str:
    signing = keys.refresh[0]
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
        "kid": keys.access[0].kid,
    }


def test_refresh_header_names_kid_type_and_algorithm(codec: JwtTokenCodec, keys: KeyRing) -> None:
    now = datetime.now(UTC)
    token = codec.encode_refresh(
        subject=SUBJECT, session_id=SESSION, jti="j", now=now, expires_at=now + timedelta(hours=1)
    )

    assert jwt.get_unverified_header(token) == {
        "alg": "RS256",
        "typ": "rt+jwt",
        "kid": keys.refresh[0].kid,
    }
    assert keys.refresh[0].kid != keys.access[0].kid


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
        headers={"kid": keys.access[0].kid, "typ": "at+jwt"},
    )

    with pytest.raises(TokenInvalidError):
        codec.decode_access(token)


def test_hs256_signed_with_the_public_key_pem_is_rejected(
    codec: JwtTokenCodec, keys: KeyRing, key_pems: KeyPems
) -> None:
    # PyJWT refuses a PEM as an HMAC secret, so the confused-algorithm token is built by hand.
    header = {"alg": "HS256", "typ": "at+jwt", "kid": keys.access[0].kid}
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
    token = sign(access_claims(), attacker, keys.access[0].kid)

    with pytest.raises(TokenInvalidError):
        codec.decode_access(token)


def test_access_token_signed_with_the_refresh_key_is_rejected(
    codec: JwtTokenCodec, keys: KeyRing
) -> None:
    token = sign(access_claims(), keys.refresh[0].private_key, keys.access[0].kid)

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
        access_claims(), keys.access[0].private_key, algorithm="RS256", headers=headers
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
    signing = keys.access[0]
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


# --- JWKS -----------------------------------------------------------------------------


def test_jwks_publishes_the_access_public_key_only(codec: JwtTokenCodec, keys: KeyRing) -> None:
    document = codec.jwks()

    assert len(document["keys"]) == 1
    jwk = document["keys"][0]
    assert jwk["kid"] == keys.access[0].kid
    assert jwk["alg"] == "RS256"
    assert jwk["use"] == "sig"
    assert jwk["kty"] == "RSA"
    for private_part in ("d", "p", "q", "dp", "dq", "qi"):
        assert private_part not in jwk
    numbers = keys.access[0].public_key.public_numbers()
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
