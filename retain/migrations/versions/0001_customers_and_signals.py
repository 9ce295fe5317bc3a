"""customers and signals

Revision ID: 0001
Revises:
Create Date: 2026-11-22 21:48:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the customer projection and the signal log."""
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("region", sa.String(length=8), nullable=True),
        sa.Column("plan", sa.String(length=64), nullable=True),
        sa.Column("signed_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_marketing_consent", sa.Boolean(), nullable=True),
        sa.Column("sms_marketing_consent", sa.Boolean(), nullable=True),
        sa.Column("email_service_consent", sa.Boolean(), nullable=True),
        sa.Column("sms_service_consent", sa.Boolean(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_table(
        "signals",
        sa.Column("signal_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("episode_key", sa.String(length=512), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("signal_id"),
    )
    op.create_index("ix_signals_customer_id", "signals", ["customer_id"], unique=False)
    op.create_index("ix_signals_episode_key", "signals", ["episode_key"], unique=True)


def downgrade() -> None:
    """Drop both tables."""
    op.drop_index("ix_signals_episode_key", table_name="signals")
    op.drop_index("ix_signals_customer_id", table_name="signals")
    op.drop_table("signals")
    op.drop_table("customers")
