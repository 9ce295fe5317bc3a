"""ingest credentials: one hashed, scoped, revocable credential per event producer

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the ingest credentials table."""
    op.create_table('ingest_credentials',
    sa.Column('credential_id', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=64), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('credential_id'),
    sa.UniqueConstraint('secret_hash')
    )
    op.create_index(op.f('ix_ingest_credentials_name'), 'ingest_credentials', ['name'], unique=False)


def downgrade() -> None:
    """Drop it again."""
    op.drop_index(op.f('ix_ingest_credentials_name'), table_name='ingest_credentials')
    op.drop_table('ingest_credentials')
