"""Auth DTOs."""

from typing import Literal

from pydantic import BaseModel, Field

from app.schemas.base import Email, FullName, InputModel, Password


class RegisterRequest(InputModel):
    email: Email
    password: Password
    full_name: FullName | None = None


class RefreshRequest(InputModel):
    refresh_token: str | None = Field(default=None, min_length=1, max_length=4096)


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Lifetime of the access token in seconds.")
