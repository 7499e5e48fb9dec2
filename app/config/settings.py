"""Application settings, read from the environment and `.env`.

The original project's variable names (``ACCESSTOKENPRIVATEKEY``, ``MONGO_HOST`` ...)
are accepted as aliases so an existing `.env` keeps working unchanged.
"""

import ipaddress
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self
from urllib.parse import quote_plus

from limits import parse as parse_limit
from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pymongo.errors import ConfigurationError as ConfigurationErrorPyMongo
from pymongo.errors import InvalidURI
from pymongo.uri_parser import parse_uri
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PLACEHOLDER_SECRETS = frozenset({"changethis", "changeme", "password", "secret"})


MONGO_SCHEMES = ("mongodb://", "mongodb+srv://")
# Plain driver names map to the async drivers the app runs on.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def normalise_database_url(value: str) -> str:
    """Check a DATABASE_URL and name the async driver for SQL ones."""
    value = value.strip()
    if value.startswith(MONGO_SCHEMES):
        try:
            parse_uri(value)
        except (InvalidURI, ConfigurationErrorPyMongo, ValueError) as exc:
            raise ValueError(f"not a valid MongoDB URL ({exc})") from None
        return value
    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(
            "must be a URL such as sqlite+aiosqlite:///./data/app.db, "
            "postgresql+asyncpg://user:pass@host/db or mongodb://host:27017/db"
        ) from None
    driver = _ASYNC_DRIVERS.get(url.drivername)
    if driver is None:
        raise ValueError(
            f"unsupported database {url.drivername!r}: use sqlite, postgresql or mongodb"
        )
    if driver.startswith("postgresql") and not url.database:
        raise ValueError("a PostgreSQL URL must name a database")
    return url.set(drivername=driver).render_as_string(hide_password=False)


class ConfigurationError(RuntimeError):
    """Raised when the settings cannot start the application; the message names the setting."""


class Environment(StrEnum):
    """Deployment environment; `production` turns on the strict start-up checks."""

    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def _alias(*names: str) -> Any:
    return AliasChoices(*names)


class EmailBackend(StrEnum):
    """Where emails go: a real SMTP server, the log (development) or .eml files."""

    SMTP = "smtp"
    CONSOLE = "console"
    FILE = "file"


class LogFormat(StrEnum):
    """How log records are written: one JSON object per line, or text for people."""

    JSON = "json"
    TEXT = "text"


class LogLevel(StrEnum):
    """The lowest level that is logged."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Settings(BaseSettings):
    """Every setting of the application, with its default.

    Field names map to upper-case environment variables; ``validation_alias`` adds
    the original project's spellings where they differ.
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
        # `KEY=` in a .env means "not set", not an empty string that fails to parse.
        env_ignore_empty=True,
    )

    project_name: str = "oop-fastapi-backend"
    environment: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///./data/app.db"
    data_dir: Path = Path("./data")

    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=1_209_600, ge=60, le=31_536_000)
    # However often it is refreshed, a session ends this long after its login.
    session_max_lifetime_seconds: int = Field(default=2_592_000, ge=1, le=31_536_000)
    refresh_reuse_grace_seconds: int = Field(default=10, ge=0, le=300)
    jwt_issuer: str = Field(default="oop-fastapi-backend", min_length=1)
    jwt_audience: str = Field(default="oop-fastapi-backend", min_length=1)

    access_token_private_key: str | None = Field(
        default=None, validation_alias=_alias("ACCESS_TOKEN_PRIVATE_KEY", "ACCESSTOKENPRIVATEKEY")
    )
    access_token_public_key: str | None = Field(
        default=None, validation_alias=_alias("ACCESS_TOKEN_PUBLIC_KEY", "ACCESSTOKENPUBLICKEY")
    )
    refresh_token_private_key: str | None = Field(
        default=None,
        validation_alias=_alias("REFRESH_TOKEN_PRIVATE_KEY", "REFRESHTOKENPRIVATEKEY"),
    )
    refresh_token_public_key: str | None = Field(
        default=None, validation_alias=_alias("REFRESH_TOKEN_PUBLIC_KEY", "REFRESHTOKENPUBLICKEY")
    )

    # Retired public keys still accepted by `kid` after a rotation (comma-separated
    # PEM, base64 of PEM, or paths); new tokens are always signed with the current key.
    access_token_previous_public_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    refresh_token_previous_public_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)

    auth_require_verified_email: bool = True
    # Consecutive wrong passwords from one client before that client is locked out of
    # the account; the lock starts at LOGIN_LOCKOUT_SECONDS and doubles with each
    # further lockout, up to the maximum. Other clients are not affected.
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_lockout_seconds: int = Field(default=60, ge=1, le=86_400)
    login_lockout_max_seconds: int = Field(default=3_600, ge=1, le=604_800)
    # Wrong passwords one account takes in any hour, from all clients together; past
    # it, only clients that proved the mailbox (an emailed unlock token, a reset) may
    # try, for LOGIN_UNLOCK_SECONDS.
    login_account_guesses_per_hour: int = Field(default=100, ge=2, le=100)
    login_unlock_seconds: int = Field(default=86_400, ge=60, le=2_592_000)

    # Rate limits in the `limits` notation ("5/minute", "100/hour"); storage is
    # memory:// for one process, redis://… or mongodb://… to share across processes.
    rate_limit_enabled: bool = True
    rate_limit_storage_url: str = "memory://"
    rate_limit_login_per_ip: str = "30/minute"
    rate_limit_login_per_account: str = "10/minute"
    rate_limit_register_per_ip: str = "20/hour"
    rate_limit_email_per_address: str = "5/hour"
    rate_limit_email_per_ip: str = "30/hour"
    rate_limit_code_per_address: str = "10/15minutes"
    # Proxies whose X-Forwarded-For and -Proto are believed (IPs or CIDR networks); the
    # client IP is otherwise the socket's peer. The app alone reads these headers.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Host headers accepted (TrustedHostMiddleware); empty accepts any.
    trusted_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Keys the hashes of one-time codes. Unset in development: generated once under
    # DATA_DIR; production refuses to start without a real one.
    secret_key: str | None = Field(default=None, min_length=32)
    otp_ttl_seconds: int = Field(default=600, ge=60, le=86_400)
    otp_max_attempts: int = Field(default=5, ge=1, le=20)
    # Wrong codes one address takes in any hour for one purpose, across every code sent.
    otp_guesses_per_hour: int = Field(default=10, ge=2, le=100)
    otp_resend_cooldown_seconds: int = Field(default=60, ge=0, le=3_600)
    first_superuser_email: str | None = None
    first_superuser_password: str | None = Field(default=None, min_length=8, max_length=128)
    password_hash_concurrency: int | None = Field(default=None, ge=1, le=64)
    # argon2id cost. The defaults are the OWASP minimum, which production enforces;
    # raise them where logins may take longer.
    argon2_memory_kib: int = Field(default=19_456, ge=8, le=4_194_304)
    argon2_time_cost: int = Field(default=2, ge=1, le=50)
    # New passwords must reach this zxcvbn score, 0 to 4; 3 means over about 10^8 guesses.
    password_min_score: int = Field(default=3, ge=0, le=4)
    # The Pwned Passwords range API that refuses breached passwords; empty = no check.
    # Production: https://api.pwnedpasswords.com. Unanswered, it lets passwords through.
    password_breach_check_url: str = ""
    password_breach_check_timeout_seconds: float = Field(default=2.0, gt=0, le=30)

    backend_cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65_535)
    # Worker processes of `python -m app serve`; they share the database, so use a
    # shared RATE_LIMIT_STORAGE_URL (redis://…) when this is above 1.
    workers: int = Field(default=1, ge=1, le=64)

    # Unset: JSON lines in production, text elsewhere.
    log_format: LogFormat | None = None
    log_level: LogLevel = LogLevel.INFO
    # Serve Prometheus metrics on GET /metrics.
    metrics_enabled: bool = False

    # The original project's MongoDB variables; the storage backend reads them.
    mongo_user: str | None = None
    mongo_pass: str | None = None
    mongo_host: str | None = None
    mongo_port: int | None = Field(default=None, ge=1, le=65_535)
    db_name: str = "app"

    email_backend: EmailBackend = EmailBackend.CONSOLE
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65_535)
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_validate_certs: bool = True
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    email_file_dir: Path | None = None
    emails_from_email: str = "noreply@example.com"
    emails_from_name: str | None = None
    # Links in emails point here (the page where a user types a code).
    frontend_url: str = "http://localhost:3000"

    email_worker_enabled: bool = True
    outbox_poll_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    outbox_batch_size: int = Field(default=20, ge=1, le=500)
    outbox_max_attempts: int = Field(default=8, ge=1, le=50)
    outbox_lease_seconds: int = Field(default=60, ge=5, le=3_600)
    outbox_backoff_base_seconds: float = Field(default=2.0, gt=0, le=3_600)
    outbox_backoff_max_seconds: float = Field(default=3_600.0, gt=0, le=86_400)

    @field_validator("backend_cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else text.split(",")
        if isinstance(value, list):
            # Browsers send Origin without a trailing slash; keep the forms comparable.
            return [
                origin.strip().rstrip("/") if isinstance(origin, str) else origin
                for origin in value
                if not isinstance(origin, str) or origin.strip()
            ]
        return value

    @field_validator(
        "access_token_previous_public_keys",
        "refresh_token_previous_public_keys",
        "trusted_proxies",
        "trusted_hosts",
        mode="before",
    )
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator(
        "rate_limit_login_per_ip",
        "rate_limit_login_per_account",
        "rate_limit_register_per_ip",
        "rate_limit_email_per_address",
        "rate_limit_email_per_ip",
        "rate_limit_code_per_address",
    )
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        try:
            parse_limit(value)
        except ValueError:
            raise ValueError('must look like "5/minute" or "100/hour"') from None
        return value

    @field_validator("rate_limit_email_per_address")
    @classmethod
    def _check_email_limit_period(cls, value: str) -> str:
        # Whenever this limit refuses the owner an unlock email, an earlier one must still
        # hold a live token, and unlock tokens live an hour (account_unlock_service.py).
        if parse_limit(value).get_expiry() > 3_600:
            raise ValueError("must count over an hour or less, the lifetime of unlock tokens")
        return value

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _check_rate_limit_storage(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://", *MONGO_SCHEMES)):
            raise ValueError("must start with memory://, redis://, rediss:// or mongodb://")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("password_breach_check_url")
    @classmethod
    def _check_breach_check_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("https://", "http://")):
            raise ValueError(
                "must be empty (no check) or an http(s) URL such as https://api.pwnedpasswords.com"
            )
        return value

    @model_validator(mode="after")
    def _check_key_pairs(self) -> Self:
        pairs = (
            ("ACCESS_TOKEN", self.access_token_private_key, self.access_token_public_key),
            ("REFRESH_TOKEN", self.refresh_token_private_key, self.refresh_token_public_key),
        )
        for name, private, public in pairs:
            if bool(private) != bool(public):
                raise ValueError(f"{name}_PRIVATE_KEY and {name}_PUBLIC_KEY must be set together")
        return self

    @property
    def mongo_url(self) -> str | None:
        """The MongoDB URL when MongoDB is the store: DATABASE_URL or the MONGO_* variables."""
        if self.database_url.startswith(MONGO_SCHEMES):
            return self.database_url
        if self.mongo_host:
            credentials = ""
            if self.mongo_user:
                credentials = quote_plus(self.mongo_user)
                if self.mongo_pass:
                    credentials += ":" + quote_plus(self.mongo_pass)
                credentials += "@"
            port = f":{self.mongo_port}" if self.mongo_port else ""
            return f"mongodb://{credentials}{self.mongo_host}{port}/{self.db_name}"
        return None

    @property
    def mongo_database(self) -> str:
        url = self.mongo_url
        database = parse_uri(url).get("database") if url else None
        return database or self.db_name

    @property
    def resolved_email_file_dir(self) -> Path:
        return self.email_file_dir or self.data_dir / "emails"

    @property
    def resolved_log_format(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return LogFormat.JSON if self.is_production else LogFormat.TEXT

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def has_configured_keys(self) -> bool:
        return bool(self.access_token_private_key and self.refresh_token_private_key)

    def production_problems(self) -> list[str]:
        """What forbids starting in production; empty when the settings are safe."""
        problems: list[str] = []
        if not self.has_configured_keys:
            problems.append(
                "ACCESS_TOKEN_PRIVATE_KEY/PUBLIC_KEY and REFRESH_TOKEN_PRIVATE_KEY/PUBLIC_KEY "
                "must be set in production (no generated development keys)"
            )
        if (
            self.first_superuser_password
            and self.first_superuser_password.lower() in PLACEHOLDER_SECRETS
        ):
            problems.append("FIRST_SUPERUSER_PASSWORD is a placeholder value; set a real secret")
        if not self.secret_key or self.secret_key.lower() in PLACEHOLDER_SECRETS:
            problems.append("SECRET_KEY must be set to a random value of 32+ characters")
        if self.argon2_memory_kib < 19_456 or self.argon2_time_cost < 2:
            problems.append(
                "ARGON2_MEMORY_KIB and ARGON2_TIME_COST must be at least the OWASP minimum "
                "(19456 KiB, 2 iterations) in production"
            )
        if self.email_backend is EmailBackend.CONSOLE:
            problems.append(
                "EMAIL_BACKEND=console writes one-time codes to the log; use smtp in production"
            )
        if "*" in self.backend_cors_origins:
            problems.append(
                "BACKEND_CORS_ORIGINS='*' is refused in production: browsers send "
                "credentials to the API, so list the allowed origins"
            )
        return problems


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning validation errors into one message that names each setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or "settings"
            lines.append(f"{name.upper()}: {error['msg']}")
        raise ConfigurationError("Invalid settings: " + "; ".join(lines)) from None
