"""Access tokens over HTTP: their documented shape, and every way a bad one is refused."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI

from app.utils.keys import generate_private_key, private_pem, thumbprint
from tests.api.helpers import (
    V1,
    LoggedIn,
    assert_problem,
    bearer,
    login,
    login_superuser,
    register_and_login,
)
from tests.conftest import KeyPems

ME = f"{V1}/users/me"
ISSUER = "oop-fastapi-backend"
AUDIENCE = "oop-fastapi-backend"
ACCESS_TTL = 900
REFRESH_TTL = 1_209_600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header: dict[str, Any] = jwt.get_unverified_header(token)
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return header, claims


def access_kid(key_pems: KeyPems) -> str:
    """The RFC 7638 thumbprint of the configured access public key."""
    public = serialization.load_pem_public_key(key_pems.access_public.encode())
    assert isinstance(public, rsa.RSAPublicKey)
    return thumbprint(public)


def forge(
    private_key: Any,
    claims: dict[str, Any],
    header: dict[str, Any],
    algorithm: str = "RS256",
) -> str:
    return jwt.encode(claims, private_key, algorithm=algorithm, headers=header)


async def assert_invalid_token(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get(ME, headers=bearer(token))
    assert_problem(response, 401, "invalid_token")


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> LoggedIn:
    return await register_and_login(client, "alice@example.com")


# --- the documented shape of the tokens -------------------------------------------------


async def test_access_token_header_and_claims_are_as_documented(
    client: httpx.AsyncClient, alice: LoggedIn, key_pems: KeyPems
) -> None:
    header, _ = unverified(alice.access_token)
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": access_kid(key_pems)}
    # The signature verifies with the configured public key, issuer and audience.
    claims = jwt.decode(
        alice.access_token,
        key_pems.access_public,
        algorithms=["RS256"],
        issuer=ISSUER,
        audience=AUDIENCE,
    )
    assert set(claims) == {
        "iss",
        "aud",
        "sub",
        "sid",
        "jti",
        "type",
        "role",
        "perms",
        "iat",
        "nbf",
        "exp",
    }
    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    assert claims["sub"] == alice.user_id
    assert claims["type"] == "access"
    assert claims["role"] == "user"
    assert claims["perms"] == ["profile:read", "profile:update"]
    assert claims["nbf"] == claims["iat"]
    assert claims["exp"] - claims["iat"] == ACCESS_TTL
    assert abs(claims["iat"] - time.time()) < 60
    # sid and jti are UUIDv7 strings, and distinct.
    assert uuid.UUID(claims["sid"]).version == 7
    assert uuid.UUID(claims["jti"]).version == 7
    assert claims["sid"] != claims["jti"]
    sessions = await client.get(f"{ME}/sessions", headers=alice.headers)
    assert [s["id"] for s in sessions.json()] == [claims["sid"]]


async def test_access_token_matches_published_jwks(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    jwks = (await client.get("/.well-known/jwks.json")).json()
    [jwk] = jwks["keys"]
    header, _ = unverified(alice.access_token)
    assert jwk["kid"] == header["kid"]
    public = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
    claims = jwt.decode(
        alice.access_token, public, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER
    )
    assert claims["sub"] == alice.user_id


async def test_refresh_token_header_and_claims_are_as_documented(
    alice: LoggedIn, key_pems: KeyPems
) -> None:
    header, _ = unverified(alice.refresh_token)
    assert header["alg"] == "RS256"
    assert header["typ"] == "rt+jwt"
    assert header["kid"] != access_kid(key_pems)
    claims = jwt.decode(
        alice.refresh_token,
        key_pems.refresh_public,
        algorithms=["RS256"],
        issuer=ISSUER,
        audience=AUDIENCE,
    )
    assert set(claims) == {"iss", "aud", "sub", "sid", "jti", "type", "iat", "exp"}
    assert claims["type"] == "refresh"
    assert claims["sub"] == alice.user_id
    assert abs(claims["exp"] - claims["iat"] - REFRESH_TTL) <= 1
    _, access_claims = unverified(alice.access_token)
    assert claims["sid"] == access_claims["sid"]
    assert claims["jti"] != access_claims["jti"]


async def test_jti_differs_per_token(client: httpx.AsyncClient, alice: LoggedIn) -> None:
    second = await login(client, alice.email)
    refreshed = await client.post(f"{V1}/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert refreshed.status_code == 200, refreshed.text
    tokens = [
        alice.access_token,
        alice.refresh_token,
        second.access_token,
        second.refresh_token,
        refreshed.json()["access_token"],
        refreshed.json()["refresh_token"],
    ]
    jtis = [unverified(token)[1]["jti"] for token in tokens]
    assert len(set(jtis)) == len(jtis)
    sids = [unverified(token)[1]["sid"] for token in tokens]
    assert sids[0] == sids[1] == sids[4] == sids[5]
    assert sids[2] == sids[3] != sids[0]


# --- refused tokens ---------------------------------------------------------------------


async def test_missing_token_is_not_authenticated(client: httpx.AsyncClient) -> None:
    response = await client.get(ME)
    assert_problem(response, 401, "not_authenticated")


async def test_non_bearer_authorization_is_not_authenticated(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    response = await client.get(ME, headers={"Authorization": f"Basic {alice.access_token}"})
    assert_problem(response, 401, "not_authenticated")


async def test_expired_access_token_is_invalid(
    app: FastAPI, client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    _, claims = unverified(alice.access_token)
    codec = app.state.container.codec

    def mint(now: datetime) -> str:
        token: str = codec.encode_access(
            subject=claims["sub"],
            session_id=claims["sid"],
            role=claims["role"],
            permissions=claims["perms"],
            now=now,
            ttl_seconds=30,
        )
        return token

    # Control: the very same minting with the current time is accepted.
    fresh = await client.get(ME, headers=bearer(mint(datetime.now(UTC))))
    assert fresh.status_code == 200, fresh.text
    await assert_invalid_token(client, mint(datetime.now(UTC) - timedelta(minutes=5)))
    # Two seconds past exp is already too late: there is no leeway.
    await assert_invalid_token(client, mint(datetime.now(UTC) - timedelta(seconds=32)))


async def test_refresh_token_used_as_bearer_is_invalid(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    await assert_invalid_token(client, alice.refresh_token)


async def test_tampered_signature_is_invalid(client: httpx.AsyncClient, alice: LoggedIn) -> None:
    head, payload, signature = alice.access_token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    tampered = f"{head}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"
    assert tampered != alice.access_token
    await assert_invalid_token(client, tampered)
    # Reversing the whole signature segment is refused too.
    await assert_invalid_token(client, f"{head}.{payload}.{signature[::-1]}")
    # And the untouched token still works.
    assert (await client.get(ME, headers=alice.headers)).status_code == 200


async def test_tampered_payload_is_invalid(client: httpx.AsyncClient, alice: LoggedIn) -> None:
    head, _, signature = alice.access_token.split(".")
    _, claims = unverified(alice.access_token)
    escalated = {
        **claims,
        "role": "superadmin",
        "perms": ["profile:read", "profile:update", "root:admin"],
    }
    await assert_invalid_token(client, f"{head}.{b64url_json(escalated)}.{signature}")
    longer_life = {**claims, "exp": claims["exp"] + 3600}
    await assert_invalid_token(client, f"{head}.{b64url_json(longer_life)}.{signature}")


async def test_alg_none_token_is_invalid(
    client: httpx.AsyncClient, alice: LoggedIn, key_pems: KeyPems
) -> None:
    _, claims = unverified(alice.access_token)
    header = {"alg": "none", "typ": "at+jwt", "kid": access_kid(key_pems)}
    unsigned = f"{b64url_json(header)}.{b64url_json(claims)}."
    await assert_invalid_token(client, unsigned)
    none_header = {**header, "alg": "None"}
    await assert_invalid_token(client, f"{b64url_json(none_header)}.{b64url_json(claims)}.")


async def test_hs256_token_signed_with_the_public_key_is_invalid(
    client: httpx.AsyncClient, alice: LoggedIn, key_pems: KeyPems
) -> None:
    """The classic key-confusion attack: HMAC keyed with the RSA public key PEM."""
    _, claims = unverified(alice.access_token)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": access_kid(key_pems)}
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    for secret in (key_pems.access_public, key_pems.access_public.strip()):
        mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
        await assert_invalid_token(client, f"{signing_input}.{b64url(mac)}")


async def test_token_signed_by_a_foreign_rsa_key_is_invalid(
    client: httpx.AsyncClient, alice: LoggedIn, key_pems: KeyPems
) -> None:
    _, claims = unverified(alice.access_token)
    foreign = generate_private_key()
    foreign_pem = private_pem(foreign).decode()
    # Claiming the real kid, so the server verifies with the real key and must refuse.
    real_kid = {"typ": "at+jwt", "kid": access_kid(key_pems)}
    await assert_invalid_token(client, forge(foreign_pem, claims, real_kid))
    # With its own kid the key is simply unknown.
    own_kid = {"typ": "at+jwt", "kid": thumbprint(foreign.public_key())}
    await assert_invalid_token(client, forge(foreign_pem, claims, own_kid))


ClaimsEdit = Callable[[dict[str, Any]], dict[str, Any]]
HeaderEdit = Callable[[dict[str, Any]], dict[str, Any]]


def _without(name: str) -> ClaimsEdit:
    return lambda claims: {k: v for k, v in claims.items() if k != name}


FORGED_CASES: dict[str, tuple[ClaimsEdit, HeaderEdit]] = {
    "wrong-iss": (lambda c: {**c, "iss": "https://evil.example.com"}, lambda h: h),
    "wrong-aud": (lambda c: {**c, "aud": "another-service"}, lambda h: h),
    "aud-list-without-ours": (lambda c: {**c, "aud": ["x", "y"]}, lambda h: h),
    "type-refresh-claim": (lambda c: {**c, "type": "refresh"}, lambda h: h),
    "typ-header-jwt": (lambda c: c, lambda h: {**h, "typ": "JWT"}),
    "typ-header-refresh": (lambda c: c, lambda h: {**h, "typ": "rt+jwt"}),
    "unknown-kid": (lambda c: c, lambda h: {**h, "kid": "not-a-known-key"}),
    "no-kid": (lambda c: c, lambda h: {k: v for k, v in h.items() if k != "kid"}),
    "no-sid": (_without("sid"), lambda h: h),
    "no-sub": (_without("sub"), lambda h: h),
    "no-jti": (_without("jti"), lambda h: h),
    "no-exp": (_without("exp"), lambda h: h),
    "no-nbf": (_without("nbf"), lambda h: h),
    "no-perms": (_without("perms"), lambda h: h),
    "perms-not-a-list": (lambda c: {**c, "perms": "root:admin"}, lambda h: h),
    "empty-sub": (lambda c: {**c, "sub": ""}, lambda h: h),
    "nbf-in-future": (
        lambda c: {**c, "nbf": int(time.time()) + 600, "exp": int(time.time()) + 900},
        lambda h: h,
    ),
    # PyJWT reads int("0") and int(true); a NumericDate is a JSON number.
    "nbf-string": (lambda c: {**c, "nbf": "0"}, lambda h: h),
    "nbf-true": (lambda c: {**c, "nbf": True}, lambda h: h),
}


async def test_forged_token_with_correct_claims_is_accepted(
    client: httpx.AsyncClient, alice: LoggedIn, key_pems: KeyPems
) -> None:
    """Control for the cases below: the forging itself produces a valid token."""
    _, claims = unverified(alice.access_token)
    header = {"typ": "at+jwt", "kid": access_kid(key_pems)}
    token = forge(key_pems.access_private, claims, header)
    response = await client.get(ME, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == alice.user_id


@pytest.mark.parametrize("case", list(FORGED_CASES))
async def test_token_signed_with_real_key_but_wrong_claims_is_invalid(
    client: httpx.AsyncClient, alice: LoggedIn, key_pems: KeyPems, case: str
) -> None:
    edit_claims, edit_header = FORGED_CASES[case]
    _, claims = unverified(alice.access_token)
    header = edit_header({"typ": "at+jwt", "kid": access_kid(key_pems)})
    token = forge(key_pems.access_private, edit_claims(claims), header)
    await assert_invalid_token(client, token)


async def test_refresh_token_with_a_string_exp_is_refused_and_consumes_nothing(
    client: httpx.AsyncClient, alice: LoggedIn, key_pems: KeyPems
) -> None:
    header, claims = unverified(alice.refresh_token)
    sign = {"typ": "rt+jwt", "kid": header["kid"]}
    string_exp = forge(key_pems.refresh_private, {**claims, "exp": str(claims["exp"])}, sign)

    response = await client.post(f"{V1}/auth/refresh", json={"refresh_token": string_exp})

    assert_problem(response, 401, "invalid_token")
    # The same claims with a numeric exp are the genuine token, still unused.
    assert forge(key_pems.refresh_private, claims, sign) == alice.refresh_token
    rotated = await client.post(f"{V1}/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert rotated.status_code == 200, rotated.text


@pytest.fixture
async def server_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Like ``client``, but an unhandled error comes back as the 500 a real client sees."""
    transport = httpx.ASGITransport(
        app=app, raise_app_exceptions=False, client=("203.0.113.7", 50000)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.mark.parametrize("claim", ["iss", "aud"])
async def test_expired_token_with_wrong_iss_or_aud_is_invalid(
    server_client: httpx.AsyncClient, alice: LoggedIn, key_pems: KeyPems, claim: str
) -> None:
    """What a token of a deployment that used another JWT_ISSUER/JWT_AUDIENCE looks like."""
    _, claims = unverified(alice.access_token)
    now = int(time.time())
    old = {**claims, claim: "previous-deployment", "iat": now - 120, "nbf": now - 120}
    old["exp"] = now - 60
    token = forge(key_pems.access_private, old, {"typ": "at+jwt", "kid": access_kid(key_pems)})
    response = await server_client.get(
        ME, headers={**bearer(token), "x-refresh": alice.refresh_token}
    )
    assert_problem(response, 401, "invalid_token")


async def test_token_bound_to_another_users_session_is_invalid(
    client: httpx.AsyncClient, alice: LoggedIn, key_pems: KeyPems
) -> None:
    """A validly signed token whose sid belongs to someone else is refused."""
    bob = await register_and_login(client, "bob@example.com")
    _, claims = unverified(alice.access_token)
    _, bob_claims = unverified(bob.access_token)
    header = {"typ": "at+jwt", "kid": access_kid(key_pems)}
    mixed = forge(key_pems.access_private, {**claims, "sid": bob_claims["sid"]}, header)
    await assert_invalid_token(client, mixed)


async def test_token_of_a_revoked_session_is_invalid(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    other = await login(client, alice.email)
    _, claims = unverified(alice.access_token)
    revoke = await client.delete(f"{ME}/sessions/{claims['sid']}", headers=other.headers)
    assert revoke.status_code == 204, revoke.text
    await assert_invalid_token(client, alice.access_token)
    assert (await client.get(ME, headers=other.headers)).status_code == 200


async def test_token_of_a_deleted_user_is_invalid(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    root = await login_superuser(client)
    deleted = await client.delete(f"{V1}/users/{alice.user_id}", headers=root.headers)
    assert deleted.status_code == 204, deleted.text
    await assert_invalid_token(client, alice.access_token)
    refresh = await client.post(f"{V1}/auth/refresh", json={"refresh_token": alice.refresh_token})
    assert_problem(refresh, 401, "invalid_token")


async def test_token_of_a_deactivated_user_is_invalid(
    client: httpx.AsyncClient, alice: LoggedIn
) -> None:
    root = await login_superuser(client)
    patched = await client.patch(
        f"{V1}/users/{alice.user_id}", json={"is_active": False}, headers=root.headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["is_active"] is False
    await assert_invalid_token(client, alice.access_token)
    # Re-activating the account does not bring the old session back.
    reactivated = await client.patch(
        f"{V1}/users/{alice.user_id}", json={"is_active": True}, headers=root.headers
    )
    assert reactivated.status_code == 200, reactivated.text
    await assert_invalid_token(client, alice.access_token)
