"""User DTOs: separate create, update and read models."""

from pydantic import BaseModel, ConfigDict, Field

from app.models.role import Role
from app.models.user import User
from app.schemas.base import Email, FullName, InputModel, Password, Timestamp


class UserRead(BaseModel):
    """v1 representation of a user."""

    id: str
    email: str
    full_name: str | None
    role: Role
    permissions: list[str]
    is_active: bool
    is_verified: bool
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def from_user(cls, user: User) -> "UserRead":
        return cls(
            id=user.id,
            email=user.email,
            full_name=user.full_name,
            role=user.role,
            permissions=sorted(p.value for p in user.permissions),
            is_active=user.is_active,
            is_verified=user.is_verified,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


class UserProfileUpdate(InputModel):
    full_name: FullName | None


class PasswordChange(InputModel):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: Password


class AdminUserCreate(InputModel):
    email: Email
    password: Password
    full_name: FullName | None = None
    role: Role = Role.USER
    is_verified: bool = False


class AdminUserUpdate(InputModel):
    full_name: FullName | None = None
    role: Role | None = None
    is_active: bool | None = None
    is_verified: bool | None = None


class UserList(BaseModel):
    items: list[UserRead]
    total: int
    limit: int
    offset: int


class UserStatusV2(BaseModel):
    active: bool
    email_verified: bool


class UserAccessV2(BaseModel):
    role: Role
    permissions: list[str]


class UserReadV2(BaseModel):
    """v2 representation: related fields grouped, plus a link to the resource.

    Differences from v1: ``full_name`` becomes ``display_name``; ``is_active`` and
    ``is_verified`` move under ``status``; ``role`` and ``permissions`` under
    ``access``; ``links.self`` points at the v2 resource.
    """

    model_config = ConfigDict(title="UserV2")

    id: str
    email: str
    display_name: str | None
    status: UserStatusV2
    access: UserAccessV2
    created_at: Timestamp
    updated_at: Timestamp
    links: dict[str, str]

    @classmethod
    def from_user(cls, user: User, self_link: str) -> "UserReadV2":
        return cls(
            id=user.id,
            email=user.email,
            display_name=user.full_name,
            status=UserStatusV2(active=user.is_active, email_verified=user.is_verified),
            access=UserAccessV2(
                role=user.role, permissions=sorted(p.value for p in user.permissions)
            ),
            created_at=user.created_at,
            updated_at=user.updated_at,
            links={"self": self_link},
        )


class UserListV2(BaseModel):
    items: list[UserReadV2]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page."
    )
