"""rule pause evidence: the guard's statistics at the pause, and when ops were notified

Revision ID: 0013
Revises: 0008
Create Date: 2026-12-04 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``evidence`` (older pauses get an empty list) and ``notified_at`` (older pauses count as told)."""
    with op.batch_alter_table("rule_pauses") as batch:
        batch.add_column(sa.Column("evidence", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch.add_column(sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True))
    # Pauses from before this revision were announced in the log; do not post them now.
    op.execute(sa.text("UPDATE rule_pauses SET notified_at = paused_at"))
    with op.batch_alter_table("rule_pauses") as batch:
        batch.alter_column("evidence", server_default=None)


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("rule_pauses") as batch:
        batch.drop_column("notified_at")
        batch.drop_column("evidence")
