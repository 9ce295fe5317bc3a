"""login throttling, single-use login tokens, known devices, rule proposals awaiting a second person

Revision ID: 0007
Revises: 0011
Create Date: 2026-12-04 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the login throttle, login token, known device and rule proposal tables."""
    op.create_table('console_login_throttle',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_index(op.f('ix_console_login_throttle_updated_at'), 'console_login_throttle', ['updated_at'],
                    unique=False)
    op.create_table('console_login_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_index(op.f('ix_console_login_tokens_expires_at'), 'console_login_tokens', ['expires_at'], unique=False)
    op.create_table('console_known_devices',
    sa.Column('device_hash', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('device_hash')
    )
    op.create_index(op.f('ix_console_known_devices_username'), 'console_known_devices', ['username'], unique=False)
    op.create_index(op.f('ix_console_known_devices_last_login_at'), 'console_known_devices', ['last_login_at'],
                    unique=False)
    op.create_table('rule_proposals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('base_hash', sa.String(length=64), nullable=True),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('diff', sa.Text(), nullable=False),
    sa.Column('backtest', sa.JSON(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('proposed_by', sa.String(length=64), nullable=False),
    sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('note', sa.String(length=400), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_rule_proposals_rule_id'), 'rule_proposals', ['rule_id'], unique=False)
    op.create_index(op.f('ix_rule_proposals_state'), 'rule_proposals', ['state'], unique=False)


def downgrade() -> None:
    """Drop them again."""
    op.drop_index(op.f('ix_rule_proposals_state'), table_name='rule_proposals')
    op.drop_index(op.f('ix_rule_proposals_rule_id'), table_name='rule_proposals')
    op.drop_table('rule_proposals')
    op.drop_index(op.f('ix_console_known_devices_last_login_at'), table_name='console_known_devices')
    op.drop_index(op.f('ix_console_known_devices_username'), table_name='console_known_devices')
    op.drop_table('console_known_devices')
    op.drop_index(op.f('ix_console_login_tokens_expires_at'), table_name='console_login_tokens')
    op.drop_table('console_login_tokens')
    op.drop_index(op.f('ix_console_login_throttle_updated_at'), table_name='console_login_throttle')
    op.drop_table('console_login_throttle')
