"""RS256 JSON Web Tokens with PyJWT."""

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from app.interfaces.token_codec import (
    AccessClaims,
    RefreshClaims,
    TokenCodec,
    TokenExpiredError,
    TokenInvalidError,
    TokenType,
)
from app.utils.ids import new_id
from app.utils.keys import KeyRing, KeySet, SigningKey, VerificationKey

ALGORITHM = "RS256"
# RFC 9068 names the access-token media type; the refresh type is ours. Checking
# `typ` as well as the `type` claim means one kind can never pass for the other.
ACCESS_TYP = "at+jwt"
REFRESH_TYP = "rt+jwt"
TIME_CLAIMS = ("exp", "nbf", "iat")


def _is_numeric_date(value: Any) -> bool:
    """A JSON number (RFC 7519 §2). PyJWT compares ``int(value)``, so "0" and true pass it."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _time_claims_error(claims: dict[str, Any]) -> TokenInvalidError | None:
    for name in TIME_CLAIMS:
        if name in claims and not _is_numeric_date(claims[name]):
            return TokenInvalidError(f"{name} must be a number")
    return None


def _timestamp(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(value, UTC)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise TokenInvalidError("timestamp out of range") from exc


class JwtTokenCodec(TokenCodec):
    """Signs each token kind with the current key of its own key set.

    The current key and every retired key of a set verify, chosen by the token's
    ``kid``, so keys can rotate without logging anybody out; a ``kid`` the set does
    not hold is refused.
    """

    def __init__(self, keys: KeyRing, issuer: str, audience: str) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience

    def encode_access(
        self,
        *,
        subject: str,
        session_id: str,
        role: str,
        permissions: list[str],
        now: datetime,
        ttl_seconds: int,
    ) -> str:
        issued = int(now.timestamp())
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject,
            "sid": session_id,
            "jti": new_id(),
            "type": TokenType.ACCESS.value,
            "role": role,
            "perms": permissions,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl_seconds,
        }
        return self._sign(claims, self._keys.access.current, ACCESS_TYP)

    def encode_refresh(
        self, *, subject: str, session_id: str, jti: str, now: datetime, expires_at: datetime
    ) -> str:
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": subject,
            "sid": session_id,
            "jti": jti,
            "type": TokenType.REFRESH.value,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
        }
        return self._sign(claims, self._keys.refresh.current, REFRESH_TYP)

    def decode_access(self, token: str) -> AccessClaims:
        claims = self._verify(
            token, self._keys.access, ACCESS_TYP, TokenType.ACCESS, ("nbf", "role", "perms")
        )
        perms = claims["perms"]
        if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
            raise TokenInvalidError("perms must be a list of strings")
        return AccessClaims(
            subject=claims["sub"],
            session_id=claims["sid"],
            jti=claims["jti"],
            role=str(claims["role"]),
            permissions=tuple(perms),
            issued_at=_timestamp(claims["iat"]),
            expires_at=_timestamp(claims["exp"]),
        )

    def decode_refresh(self, token: str) -> RefreshClaims:
        claims = self._verify(token, self._keys.refresh, REFRESH_TYP, TokenType.REFRESH, ())
        return RefreshClaims(
            subject=claims["sub"],
            session_id=claims["sid"],
            jti=claims["jti"],
            issued_at=_timestamp(claims["iat"]),
            expires_at=_timestamp(claims["exp"]),
        )

    def jwks(self) -> dict[str, Any]:
        """The current and every retired access public key: old tokens verify anywhere."""
        return {"keys": [key.public_jwk() for key in self._keys.access.verification_keys]}

    def _expired(self, token: str, key: VerificationKey) -> TokenExpiredError | TokenInvalidError:
        """Classify an expired token: PyJWT checks ``exp`` before ``iss`` and ``aud``."""
        try:
            claims = jwt.decode(
                token,
                key.public_key,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                options={"verify_exp": False},
            )
        except jwt.PyJWTError:
            return TokenInvalidError("token rejected")
        # An `exp` of true or "1" reads as 1970 to PyJWT: no expiry, a malformed token.
        malformed = _time_claims_error(claims)
        if malformed is not None:
            return malformed
        session_id = claims.get("sid")
        return TokenExpiredError(
            "token expired", session_id if isinstance(session_id, str) else None
        )

    @staticmethod
    def _sign(claims: dict[str, Any], key: SigningKey, typ: str) -> str:
        return jwt.encode(
            claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": typ}
        )

    def _verify(
        self,
        token: str,
        keys: KeySet,
        typ: str,
        token_type: TokenType,
        extra_required: tuple[str, ...],
    ) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenInvalidError("malformed token") from exc
        if header.get("alg") != ALGORITHM or header.get("typ") != typ:
            raise TokenInvalidError("unexpected token header")
        key = keys.find(header.get("kid"))
        if key is None:
            raise TokenInvalidError("unknown signing key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.public_key,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                options={
                    "require": [
                        "iss",
                        "aud",
                        "sub",
                        "sid",
                        "jti",
                        "type",
                        "iat",
                        "exp",
                        *extra_required,
                    ],
                },
                leeway=timedelta(seconds=0),
            )
        except jwt.ExpiredSignatureError as exc:
            raise self._expired(token, key) from exc
        except jwt.PyJWTError as exc:
            raise TokenInvalidError("token rejected") from exc
        malformed = _time_claims_error(claims)
        if malformed is not None:
            raise malformed
        if claims.get("type") != token_type.value:
            raise TokenInvalidError("wrong token type")
        for name in ("sub", "sid", "jti"):
            if not isinstance(claims.get(name), str) or not claims[name]:
                raise TokenInvalidError(f"{name} must be a non-empty string")
        return claims
