"""Contract for rate limits."""

from abc import ABC, abstractmethod
from enum import StrEnum


class RateLimit(StrEnum):
    """The limits the API enforces; each has its own setting."""

    LOGIN_PER_IP = "login_per_ip"
    LOGIN_PER_ACCOUNT = "login_per_account"
    REGISTER_PER_IP = "register_per_ip"
    EMAIL_PER_ADDRESS = "email_per_address"
    EMAIL_PER_IP = "email_per_ip"
    CODE_PER_ADDRESS = "code_per_address"


class RateLimiter(ABC):
    """Counts hits per limit and key; raises TooManyRequestsError past the limit."""

    @abstractmethod
    async def hit(self, limit: RateLimit, key: str) -> None: ...
