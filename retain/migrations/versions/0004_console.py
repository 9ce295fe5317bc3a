"""console: users, API tokens, sessions, console audit log

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the console tables."""
    op.create_table('console_users',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('username')
    )
    op.create_table('console_api_tokens',
    sa.Column('token_id', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('token_id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index(op.f('ix_console_api_tokens_username'), 'console_api_tokens', ['username'], unique=False)
    op.create_table('console_sessions',
    sa.Column('session_hash', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('session_hash')
    )
    op.create_index(op.f('ix_console_sessions_username'), 'console_sessions', ['username'], unique=False)
    op.create_table('console_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_console_audit_at'), 'console_audit', ['at'], unique=False)


def downgrade() -> None:
    """Drop them again."""
    op.drop_index(op.f('ix_console_audit_at'), table_name='console_audit')
    op.drop_table('console_audit')
    op.drop_index(op.f('ix_console_sessions_username'), table_name='console_sessions')
    op.drop_table('console_sessions')
    op.drop_index(op.f('ix_console_api_tokens_username'), table_name='console_api_tokens')
    op.drop_table('console_api_tokens')
    op.drop_table('console_users')
