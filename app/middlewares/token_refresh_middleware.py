"""Decode the bearer token once per request, and refresh an expired one from ``x-refresh``.

This is the original project's automatic refresh: a client whose access token has
expired sends its refresh token in ``x-refresh``; the request is served as that user
and the new pair comes back in ``x-access-token`` and ``x-refresh-token``.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.interfaces.token_codec import (
    AccessClaims,
    TokenCodec,
    TokenExpiredError,
    TokenInvalidError,
)
from app.models.auth import TokenPair
from app.models.errors import InvalidTokenError
from app.services.auth_service import AuthService

STATE_KEY = "auth"


@dataclass(frozen=True, slots=True)
class RequestAuth:
    """What the middleware learned from the Authorization header."""

    token: str
    claims: AccessClaims | None


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


class TokenRefreshMiddleware:
    """Pure ASGI middleware: no BaseHTTPMiddleware, so streaming and context stay intact."""

    def __init__(
        self,
        app: ASGIApp,
        codec: TokenCodec,
        auth_service: AuthService,
        skip_paths: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.codec = codec
        self.auth_service = auth_service
        self.skip_paths = frozenset(skip_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope["headers"])
        if token is None:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        try:
            state[STATE_KEY] = RequestAuth(token, self.codec.decode_access(token))
        except TokenInvalidError:
            state[STATE_KEY] = RequestAuth(token, None)
        except TokenExpiredError as expired:
            state[STATE_KEY] = RequestAuth(token, None)
            pair = await self._refresh(scope, expired.session_id)
            if pair is not None:
                state[STATE_KEY] = RequestAuth(
                    pair.access_token, self.codec.decode_access(pair.access_token)
                )
                scope["headers"] = [
                    (name, value) for name, value in scope["headers"] if name != b"authorization"
                ] + [(b"authorization", f"Bearer {pair.access_token}".encode())]
                send = self._sender_with_tokens(send, pair)
        await self.app(scope, receive, send)

    async def _refresh(self, scope: Scope, session_id: str | None) -> TokenPair | None:
        if scope["path"] in self.skip_paths or session_id is None:
            return None
        refresh_token = dict(scope["headers"]).get(b"x-refresh")
        if not refresh_token:
            return None
        try:
            return await self.auth_service.refresh(
                refresh_token.decode("latin-1").strip(), expected_session_id=session_id
            )
        except InvalidTokenError:
            return None

    @staticmethod
    def _sender_with_tokens(send: Send, pair: TokenPair) -> Send:
        async def send_with_tokens(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["x-access-token"] = pair.access_token
                headers["x-refresh-token"] = pair.refresh_token
                headers["Cache-Control"] = "no-store"
            await send(message)

        return send_with_tokens
