"""decision uplift: the served uplift model's estimate (probability points) on every decision

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``decisions.uplift`` (NULL on decisions made without an uplift model)."""
    op.add_column("decisions", sa.Column("uplift", sa.Float(), nullable=True))


def downgrade() -> None:
    """Drop ``decisions.uplift``."""
    op.drop_column("decisions", "uplift")
