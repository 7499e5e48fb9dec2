"""The concrete email commands."""

from datetime import datetime
from typing import Any

from app.commands.base import EmailBranding, EmailCommand, UserEmailCommand
from app.interfaces.template_renderer import TemplateRenderer
from app.models.email import EmailKind, RenderedEmail
from app.models.user import User


class VerificationCodeCommand(UserEmailCommand):
    """The code that proves a new account owns its email address."""

    kind = EmailKind.VERIFICATION_CODE

    def __init__(self, user: User, code: str, ttl_minutes: int) -> None:
        super().__init__(user)
        self.code = code
        self.ttl_minutes = ttl_minutes

    def subject(self, branding: EmailBranding) -> str:
        return f"Verify your email for {branding.project_name}"

    def context(self, branding: EmailBranding) -> dict[str, Any]:
        return {
            "code": self.code,
            "ttl_minutes": self.ttl_minutes,
            "verify_url": branding.link("/verify-email"),
        }


class PasswordResetCodeCommand(UserEmailCommand):
    """The code that lets a user who forgot the password choose a new one."""

    kind = EmailKind.PASSWORD_RESET_CODE

    def __init__(self, user: User, code: str, ttl_minutes: int) -> None:
        super().__init__(user)
        self.code = code
        self.ttl_minutes = ttl_minutes

    def subject(self, branding: EmailBranding) -> str:
        return f"Reset your {branding.project_name} password"

    def context(self, branding: EmailBranding) -> dict[str, Any]:
        return {
            "code": self.code,
            "ttl_minutes": self.ttl_minutes,
            "reset_url": branding.link("/reset-password"),
        }


class PasswordChangedCommand(UserEmailCommand):
    """Tells the owner that the password changed, in case it was not them."""

    kind = EmailKind.PASSWORD_CHANGED

    def __init__(self, user: User, changed_at: datetime) -> None:
        super().__init__(user)
        self.changed_at = changed_at

    def subject(self, branding: EmailBranding) -> str:
        return f"Your {branding.project_name} password was changed"

    def context(self, branding: EmailBranding) -> dict[str, Any]:
        return {
            "changed_at": self.changed_at.strftime("%Y-%m-%d %H:%M"),
            "reset_url": branding.link("/forgot-password"),
        }


class WelcomeCommand(UserEmailCommand):
    """Sent once the email address is verified."""

    kind = EmailKind.WELCOME

    def subject(self, branding: EmailBranding) -> str:
        return f"Welcome to {branding.project_name}"

    def context(self, branding: EmailBranding) -> dict[str, Any]:
        return {"login_url": branding.link("/login")}


class BulkVerificationCommand(EmailCommand):
    """An admin's re-send of verification codes: one message per (user, code)."""

    def __init__(self, items: list[tuple[User, str]], ttl_minutes: int) -> None:
        self.items = items
        self.ttl_minutes = ttl_minutes

    def render(self, renderer: TemplateRenderer, branding: EmailBranding) -> list[RenderedEmail]:
        return [
            email
            for user, code in self.items
            for email in VerificationCodeCommand(user, code, self.ttl_minutes).render(
                renderer, branding
            )
        ]


class AccountUnlockCommand(UserEmailCommand):
    """The link that lets the owner past a login budget that someone else spent."""

    kind = EmailKind.ACCOUNT_UNLOCK

    def __init__(self, user: User, token: str, ttl_minutes: int) -> None:
        super().__init__(user)
        self.token = token
        self.ttl_minutes = ttl_minutes

    def subject(self, branding: EmailBranding) -> str:
        return f"Unlock your {branding.project_name} account"

    def context(self, branding: EmailBranding) -> dict[str, Any]:
        return {
            "token": self.token,
            "ttl_minutes": self.ttl_minutes,
            "unlock_url": branding.link(f"/unlock?token={self.token}"),
        }
