"""/api/v1/auth: register, login, refresh, logout."""

from typing import Annotated

from fastapi import Depends, Header, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from app.controllers.auth_controller import AuthController
from app.interfaces.rate_limiter import RateLimit, RateLimiter
from app.interfaces.route import BaseRoutes
from app.models.auth import ClientInfo, Principal
from app.models.errors import InvalidCredentialsError, NotAuthenticatedError
from app.models.user import normalise_email
from app.routes.dependencies import AuthDependencies, client_info, client_key
from app.routes.responses import problems
from app.schemas.auth import RefreshRequest, RegisterRequest, TokenResponse
from app.schemas.base import PASSWORD_MAX_LENGTH
from app.schemas.user import UserRead

MAX_USERNAME_LENGTH = 320


def _no_store(response: Response) -> None:
    # Token responses must never be cached by the browser or a proxy (RFC 6749 §5.1).
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


class AuthRoutes(BaseRoutes):
    """Authentication endpoints."""

    prefix = "/auth"
    tags = ("auth",)

    def __init__(
        self, controller: AuthController, auth: AuthDependencies, limiter: RateLimiter
    ) -> None:
        self._controller = controller
        self._auth = auth
        self._limiter = limiter
        super().__init__()

    def register(self) -> None:
        controller, limiter = self._controller, self._limiter
        principal = self._auth.principal

        @self.router.post(
            "/register",
            status_code=status.HTTP_201_CREATED,
            responses=problems(409, 422, 429),
            summary="Create an account",
        )
        async def register(body: RegisterRequest) -> UserRead:
            await limiter.hit(RateLimit.REGISTER_PER_IP, client_key())
            return await controller.register(body)

        @self.router.post(
            "/login",
            responses=problems(401, 403, 422, 429),
            summary="Log in (OAuth2 password flow)",
        )
        async def login(
            form: Annotated[OAuth2PasswordRequestForm, Depends()],
            client: Annotated[ClientInfo, Depends(client_info)],
            response: Response,
        ) -> TokenResponse:
            await limiter.hit(RateLimit.LOGIN_PER_IP, client_key())
            # `username` is deliberately not an `Email`: the password grant answers bad
            # credentials with one error (RFC 6749 §5.2), and an address that no account
            # can have, over-long for instance, is simply unknown.
            # Before the per-account count: no account has such a name, and a limiter
            # key of up to a megabyte (the body limit) must not reach Redis.
            if len(form.username) > MAX_USERNAME_LENGTH or len(form.password) > PASSWORD_MAX_LENGTH:
                raise InvalidCredentialsError()
            # Per account and client: counted per account alone, anyone could spend the
            # owner's allowance (the account-wide bound is LoginThrottle's guess budget).
            await limiter.hit(
                RateLimit.LOGIN_PER_ACCOUNT, f"{normalise_email(form.username)}|{client_key()}"
            )
            _no_store(response)
            return await controller.login(form.username, form.password, client)

        @self.router.post(
            "/refresh", responses=problems(401, 422), summary="Rotate the refresh token"
        )
        async def refresh(
            response: Response,
            body: RefreshRequest | None = None,
            x_refresh: Annotated[str | None, Header(alias="x-refresh", max_length=4096)] = None,
        ) -> TokenResponse:
            token = (body.refresh_token if body else None) or x_refresh
            if not token:
                raise NotAuthenticatedError("Send the refresh token in the body or x-refresh.")
            _no_store(response)
            return await controller.refresh(token)

        @self.router.post(
            "/logout",
            status_code=status.HTTP_204_NO_CONTENT,
            responses=problems(401),
            summary="End the current session",
        )
        async def logout(caller: Annotated[Principal, Depends(principal)]) -> None:
            await controller.logout(caller)

        @self.router.post(
            "/logout-all",
            status_code=status.HTTP_204_NO_CONTENT,
            responses=problems(401),
            summary="End every session of the current user",
        )
        async def logout_all(caller: Annotated[Principal, Depends(principal)]) -> None:
            await controller.logout_all(caller)
