"""FastAPI dependencies that resolve the authenticated caller and check permissions."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.controllers.auth_controller import AuthController
from app.interfaces.token_codec import (
    AccessClaims,
    TokenCodec,
    TokenExpiredError,
    TokenInvalidError,
)
from app.middlewares.access_log_middleware import USER_ID_STATE_KEY
from app.middlewares.client_ip_middleware import current_client
from app.middlewares.token_refresh_middleware import STATE_KEY, RequestAuth
from app.models.auth import ClientInfo, Principal
from app.models.errors import InvalidTokenError, NotAuthenticatedError, PermissionDeniedError
from app.models.role import Permission

LOGIN_PATH = "/api/v1/auth/login"

# auto_error=False: a missing token must become our problem response, not FastAPI's.
oauth2_scheme = OAuth2PasswordBearer(tokenUrl=LOGIN_PATH, auto_error=False)


class AuthDependencies:
    """Builds the ``Depends`` callables the routes use to require a caller."""

    def __init__(self, controller: AuthController, codec: TokenCodec) -> None:
        self._controller = controller
        self._codec = codec

    async def principal(
        self, request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
    ) -> Principal:
        if not token:
            raise NotAuthenticatedError()
        auth = request.scope.get("state", {}).get(STATE_KEY)
        if isinstance(auth, RequestAuth) and auth.token == token:
            claims = auth.claims
        else:
            claims = self._decode(token)
        if claims is None:
            raise InvalidTokenError()
        principal = await self._controller.authenticate(claims)
        # For the access log, which reads it once the response is sent.
        request.scope.setdefault("state", {})[USER_ID_STATE_KEY] = principal.user.id
        return principal

    def require(self, permission: Permission) -> Callable[..., Awaitable[Principal]]:
        # Calls principal() itself instead of depending on it: every level of Depends
        # costs FastAPI a resolution pass on each request, on every protected route.
        async def dependency(
            request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
        ) -> Principal:
            principal = await self.principal(request, token)
            if not principal.user.has_permission(permission):
                raise PermissionDeniedError()
            return principal

        return dependency

    def _decode(self, token: str) -> AccessClaims | None:
        try:
            return self._codec.decode_access(token)
        except (TokenExpiredError, TokenInvalidError):
            return None


def client_key() -> str:
    """The client as rate limits count it (proxy-aware): an IPv4 address or an IPv6 /64."""
    return current_client().network


def client_info() -> ClientInfo:
    """IP and user agent as ClientIpMiddleware recorded them (proxy-aware, bounded)."""
    return current_client()
