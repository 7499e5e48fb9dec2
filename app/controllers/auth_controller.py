"""Auth endpoints' controller."""

from app.interfaces.token_codec import AccessClaims
from app.models.auth import ClientInfo, Principal, TokenPair
from app.schemas.auth import RegisterRequest, TokenResponse
from app.schemas.user import UserRead
from app.services.auth_service import AuthService


class AuthController:
    """Registration, login, refresh, logout, and resolving the caller of a request."""

    def __init__(self, auth_service: AuthService) -> None:
        self._auth = auth_service

    async def register(self, request: RegisterRequest) -> UserRead:
        user = await self._auth.register(request.email, request.password, request.full_name)
        return UserRead.from_user(user)

    async def login(self, email: str, password: str, client: ClientInfo) -> TokenResponse:
        return self._tokens(await self._auth.login(email, password, client))

    async def refresh(self, refresh_token: str) -> TokenResponse:
        return self._tokens(await self._auth.refresh(refresh_token))

    async def logout(self, principal: Principal) -> None:
        await self._auth.logout(principal)

    async def logout_all(self, principal: Principal) -> None:
        await self._auth.logout_all(principal)

    async def authenticate(self, claims: AccessClaims) -> Principal:
        return await self._auth.authenticate(claims)

    @staticmethod
    def _tokens(pair: TokenPair) -> TokenResponse:
        return TokenResponse(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
        )
