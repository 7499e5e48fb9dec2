"""Lock accounts per client, and count wrong guesses per account in windows.

The old rows were keyed by the address alone; their state is short-lived, so they
are dropped rather than converted.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.drop_table("login_lockouts")
    op.create_table(
        "login_lockouts",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("account_key", sa.String(128), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("locked_until", Timestamp, nullable=True),
        sa.Column("unlocked_until", Timestamp, nullable=True),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_index("ix_login_lockouts_account_key", "login_lockouts", ["account_key"])
    op.create_table(
        "guess_counters",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("window_start", Timestamp, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("guess_counters")
    op.drop_index("ix_login_lockouts_account_key", table_name="login_lockouts")
    op.drop_table("login_lockouts")
    op.create_table(
        "login_lockouts",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("locked_until", Timestamp, nullable=True),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
