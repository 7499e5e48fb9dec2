"""A Decorator over a TokenCodec that remembers verified access tokens for a while."""

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from app.interfaces.token_codec import AccessClaims, RefreshClaims, TokenCodec

DEFAULT_MAX_ENTRIES = 4_096


class CachedTokenCodec(TokenCodec):
    """Verifies each access token's RS256 signature once, not on every request.

    A client sends the same access token with every request for its whole lifetime,
    and verifying it costs about 100 µs of CPU on the event loop, a fifth of an
    authenticated request. The cache is keyed by the exact token string, so a hit
    needs the very bytes that verified before: nothing forged or altered can match.
    A hit still checks ``exp`` against the clock (``nbf`` held when the token was
    first verified, and time only moves on); an expired token is dropped and handed
    to the wrapped codec, which raises as it always does (the refresh middleware
    relies on its ``TokenExpiredError``).

    Only the signature check is cached. Whether the session and the user are still
    valid is decided by the database on every request, so revocation stays immediate.
    Retired keys are only removed by a restart, which empties the cache too.
    The map is bounded (least recently used first out), so a flood of distinct valid
    tokens costs at most ``max_entries`` entries of memory (about 1 KB each).
    """

    def __init__(
        self,
        inner: TokenCodec,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        now: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._inner = inner
        self._max_entries = max_entries
        self._now = now
        self._verified: OrderedDict[str, tuple[AccessClaims, float]] = OrderedDict()

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
        return self._inner.encode_access(
            subject=subject,
            session_id=session_id,
            role=role,
            permissions=permissions,
            now=now,
            ttl_seconds=ttl_seconds,
        )

    def encode_refresh(
        self, *, subject: str, session_id: str, jti: str, now: datetime, expires_at: datetime
    ) -> str:
        return self._inner.encode_refresh(
            subject=subject, session_id=session_id, jti=jti, now=now, expires_at=expires_at
        )

    def decode_access(self, token: str) -> AccessClaims:
        entry = self._verified.get(token)
        if entry is not None:
            claims, expires = entry
            # PyJWT's own test with zero leeway: expired once exp <= now.
            if self._now() < expires:
                self._verified.move_to_end(token)
                return claims
            del self._verified[token]
        claims = self._inner.decode_access(token)
        self._remember(token, claims)
        return claims

    def decode_refresh(self, token: str) -> RefreshClaims:
        # Refresh tokens are presented once each (they rotate): nothing to reuse.
        return self._inner.decode_refresh(token)

    def jwks(self) -> dict[str, Any]:
        return self._inner.jwks()

    def _remember(self, token: str, claims: AccessClaims) -> None:
        self._verified[token] = (claims, claims.expires_at.timestamp())
        if len(self._verified) > self._max_entries:
            self._verified.popitem(last=False)
