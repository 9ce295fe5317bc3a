"""decision uplift: the served uplift model's estimate (probability points) and the features on decisions

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
    """Add ``decisions.uplift`` (NULL without an uplift model) and ``decisions.features`` (at the decision)."""
    op.add_column("decisions", sa.Column("uplift", sa.Float(), nullable=True))
    op.add_column("decisions", sa.Column("features", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Drop both columns."""
    op.drop_column("decisions", "features")
    op.drop_column("decisions", "uplift")
