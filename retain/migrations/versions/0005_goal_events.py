"""goal events: the customer events results per rule measure outcomes with

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the goal events table and its (customer, type, time) index."""
    op.create_table('goal_events',
    sa.Column('event_id', sa.String(length=128), nullable=False),
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    op.create_index('ix_goal_events_customer_type_time', 'goal_events', ['customer_id', 'type', 'occurred_at'],
                    unique=False)


def downgrade() -> None:
    """Drop it again."""
    op.drop_index('ix_goal_events_customer_type_time', table_name='goal_events')
    op.drop_table('goal_events')
