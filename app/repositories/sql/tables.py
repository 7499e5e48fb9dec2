"""The SQL schema, in SQLAlchemy Core. No table type leaves the SQL repositories."""

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend; SQLite would otherwise drop the zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("hashed_password", String(255), nullable=False),
    Column("full_name", String(200), nullable=True),
    Column("role", String(32), nullable=False),
    Column("permissions", JSON, nullable=False),
    Column("is_active", Boolean, nullable=False),
    Column("is_verified", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("refresh_jti", String(36), nullable=False),
    Column("previous_refresh_jti", String(36), nullable=True),
    Column("rotated_at", UtcDateTime, nullable=True),
    Column("user_agent", String(512), nullable=True),
    Column("ip_address", String(64), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    Index("ix_sessions_user_id", "user_id"),
)

one_time_codes = Table(
    "one_time_codes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("code_hash", String(128), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    UniqueConstraint("user_id", "purpose", name="uq_one_time_codes_user_purpose"),
)

cooldowns = Table(
    "cooldowns",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("last_at", UtcDateTime, nullable=False),
)

outbox_messages = Table(
    "outbox_messages",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("last_error", String(1000), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
)

# One row per account and client: the key hashes both, account_key the address alone.
login_lockouts = Table(
    "login_lockouts",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("account_key", String(128), nullable=False, index=True),
    Column("failures", Integer, nullable=False),
    Column("lockouts", Integer, nullable=False),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("unlocked_until", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

email_requests = Table(
    "email_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("purpose", String(32), nullable=False),
    Column("email", String(320), nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("lease_until", UtcDateTime, nullable=True),
    Index("ix_email_requests_requested_at", "requested_at"),
)

guess_counters = Table(
    "guess_counters",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("window_start", UtcDateTime, nullable=False),
    Column("count", Integer, nullable=False),
)

# Append-only. No foreign keys: an event outlives the users it mentions.
audit_events = Table(
    "audit_events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("event", String(40), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("actor_id", String(36), nullable=True),
    Column("subject_id", String(36), nullable=True),
    Column("subject_email", String(320), nullable=True),
    Column("ip_address", String(64), nullable=True),
    Column("user_agent", String(512), nullable=True),
    Column("details", JSON, nullable=False),
    Index("ix_audit_events_subject_id", "subject_id"),
    Index("ix_audit_events_actor_id", "actor_id"),
    Index("ix_audit_events_event", "event"),
)
