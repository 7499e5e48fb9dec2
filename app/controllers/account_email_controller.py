"""Email verification and password reset."""

from app.schemas.email import (
    EmailAddressRequest,
    ResetPasswordRequest,
    UnlockRequest,
    VerifyEmailRequest,
)
from app.schemas.user import UserRead
from app.services.account_unlock_service import AccountUnlockService
from app.services.email_verification_service import EmailVerificationService
from app.services.password_reset_service import PasswordResetService


class AccountEmailController:
    """The endpoints that work by one-time codes sent to the account's address."""

    def __init__(
        self,
        verification: EmailVerificationService,
        reset: PasswordResetService,
        unlock: AccountUnlockService,
    ) -> None:
        self._verification = verification
        self._reset = reset
        self._unlock = unlock

    async def verify_email(self, body: VerifyEmailRequest) -> UserRead:
        return UserRead.from_user(await self._verification.verify(body.email, body.code))

    async def resend_verification(self, body: EmailAddressRequest) -> None:
        await self._verification.resend(body.email)

    async def forgot_password(self, body: EmailAddressRequest) -> None:
        await self._reset.forgot(body.email)

    async def reset_password(self, body: ResetPasswordRequest) -> None:
        await self._reset.reset(body.email, body.code, body.new_password)

    async def request_unlock(self, body: EmailAddressRequest) -> None:
        await self._unlock.request(body.email)

    async def unlock(self, body: UnlockRequest) -> None:
        await self._unlock.unlock(body.email, body.token)

    async def send_verification_to_all(self) -> int:
        return await self._verification.send_to_all_unverified()
