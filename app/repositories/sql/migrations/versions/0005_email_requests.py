"""Queue email requests, so that asking for one costs the same with or without an account.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "email_requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("requested_at", Timestamp, nullable=False),
        sa.Column("lease_until", Timestamp, nullable=True),
    )
    op.create_index("ix_email_requests_requested_at", "email_requests", ["requested_at"])


def downgrade() -> None:
    op.drop_index("ix_email_requests_requested_at", table_name="email_requests")
    op.drop_table("email_requests")
