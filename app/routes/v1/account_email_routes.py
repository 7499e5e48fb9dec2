"""/api/v1/auth: email verification and password reset by one-time code."""

from fastapi import status

from app.controllers.account_email_controller import AccountEmailController
from app.interfaces.rate_limiter import RateLimit, RateLimiter
from app.interfaces.route import BaseRoutes
from app.routes.dependencies import client_key
from app.routes.responses import problems
from app.schemas.email import (
    AcceptedResponse,
    EmailAddressRequest,
    ResetPasswordRequest,
    UnlockRequest,
    VerifyEmailRequest,
)
from app.schemas.user import UserRead


class AccountEmailRoutes(BaseRoutes):
    """Endpoints a signed-out user reaches through a code sent by email.

    Requests naming an address answer the same whether or not an account has it.
    """

    prefix = "/auth"
    tags = ("auth",)

    def __init__(self, controller: AccountEmailController, limiter: RateLimiter) -> None:
        self._controller = controller
        self._limiter = limiter
        super().__init__()

    def register(self) -> None:
        controller, limiter = self._controller, self._limiter

        async def limit_email(purpose: str, email: str) -> None:
            await limiter.hit(RateLimit.EMAIL_PER_ADDRESS, f"{purpose}:{email}")
            await limiter.hit(RateLimit.EMAIL_PER_IP, client_key())

        @self.router.post(
            "/verify-email", responses=problems(400, 422, 429), summary="Verify an email address"
        )
        async def verify_email(body: VerifyEmailRequest) -> UserRead:
            await limiter.hit(RateLimit.CODE_PER_ADDRESS, body.email)
            return await controller.verify_email(body)

        @self.router.post(
            "/resend-verification",
            status_code=status.HTTP_202_ACCEPTED,
            responses=problems(422, 429),
            summary="Send a new verification code",
        )
        async def resend_verification(body: EmailAddressRequest) -> AcceptedResponse:
            await limit_email("verify", body.email)
            await controller.resend_verification(body)
            return AcceptedResponse()

        @self.router.post(
            "/forgot-password",
            status_code=status.HTTP_202_ACCEPTED,
            responses=problems(422, 429),
            summary="Send a password reset code",
        )
        async def forgot_password(body: EmailAddressRequest) -> AcceptedResponse:
            await limit_email("reset", body.email)
            await controller.forgot_password(body)
            return AcceptedResponse()

        @self.router.post(
            "/reset-password",
            status_code=status.HTTP_204_NO_CONTENT,
            responses=problems(400, 422, 429),
            summary="Choose a new password with a reset code; every session ends",
        )
        async def reset_password(body: ResetPasswordRequest) -> None:
            await limiter.hit(RateLimit.CODE_PER_ADDRESS, body.email)
            await controller.reset_password(body)

        @self.router.post(
            "/request-unlock",
            status_code=status.HTTP_202_ACCEPTED,
            responses=problems(422, 429),
            summary="Email an unlock link, for logins refused with unlock_required",
        )
        async def request_unlock(body: EmailAddressRequest) -> AcceptedResponse:
            await limit_email("unlock", body.email)
            await controller.request_unlock(body)
            return AcceptedResponse()

        @self.router.post(
            "/unlock",
            status_code=status.HTTP_204_NO_CONTENT,
            responses=problems(400, 422, 429),
            summary="Redeem an unlock token: this client may log in again",
        )
        async def unlock(body: UnlockRequest) -> None:
            # Per client only: a per-address limit would let anyone spend the owner's.
            await limiter.hit(RateLimit.LOGIN_PER_IP, client_key())
            await controller.unlock(body)
