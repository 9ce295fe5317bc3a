"""decision snapshot: engage/defer decisions carry the signal and customer facts drafting reads

Revision ID: 0011
Revises: 0006
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable ``snapshot`` column (older decisions keep None; drafting reads their signal row)."""
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("snapshot", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop it again."""
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("snapshot")
