"""decisions, rule versions and rule audit

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 22:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the decision log, the rule versions and the rule audit log."""
    op.create_table(
        "decisions",
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("signal_id", sa.String(length=64), nullable=False),
        sa.Column("signal_kind", sa.String(length=32), nullable=False),
        sa.Column("episode_key", sa.String(length=512), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=True),
        sa.Column("rule_version", sa.Integer(), nullable=True),
        sa.Column("ruleset_fingerprint", sa.String(length=32), nullable=True),
        sa.Column("topic", sa.String(length=16), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=True),
        sa.Column("defer_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("requires_approval", sa.Boolean(), nullable=False),
        sa.Column("risk", sa.Float(), nullable=True),
        sa.Column("risk_bucket", sa.String(length=16), nullable=True),
        sa.Column("drivers", sa.JSON(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deferred_from", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("decision_id"),
    )
    op.create_index("ix_decisions_customer_id", "decisions", ["customer_id"], unique=False)
    op.create_index("ix_decisions_signal_id", "decisions", ["signal_id"], unique=False)
    op.create_table(
        "rule_versions",
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=512), nullable=True),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rule_id", "content_hash"),
    )
    op.create_table(
        "rule_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("old_fingerprint", sa.String(length=32), nullable=True),
        sa.Column("new_fingerprint", sa.String(length=32), nullable=True),
        sa.Column("diff", sa.JSON(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    """Drop the three tables."""
    op.drop_table("rule_audit")
    op.drop_table("rule_versions")
    op.drop_index("ix_decisions_signal_id", table_name="decisions")
    op.drop_index("ix_decisions_customer_id", table_name="decisions")
    op.drop_table("decisions")
