"""conversations: customers' replies, their triage, and the answers people sent

Revision ID: 0012
Revises: 0013
Create Date: 2026-12-14 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the conversations and conversation_entries tables."""
    op.create_table('conversations',
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.Column('customer_id', sa.String(length=128), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('contact_hash', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('intent', sa.String(length=32), nullable=False),
    sa.Column('sentiment', sa.String(length=16), nullable=False),
    sa.Column('frustrated', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=32), nullable=True),
    sa.Column('rule_id', sa.String(length=64), nullable=True),
    sa.Column('assignee', sa.String(length=64), nullable=True),
    sa.Column('replies', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_inbound_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('waiting_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalation_reason', sa.String(length=32), nullable=True),
    sa.Column('first_answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_answered_by', sa.String(length=64), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handed_off_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('conversation_id')
    )
    op.create_index('ix_conversations_customer_id', 'conversations', ['customer_id'], unique=False)
    op.create_index('ix_conversations_contact_hash', 'conversations', ['contact_hash'], unique=False)
    op.create_index('ix_conversations_rule_id', 'conversations', ['rule_id'], unique=False)
    op.create_index('ix_conversations_status_priority', 'conversations', ['status', 'priority'], unique=False)
    op.create_table('conversation_entries',
    sa.Column('entry_id', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.String(length=32), nullable=False),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('dedup_key', sa.String(length=200), nullable=False),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('triage', sa.JSON(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('outbox_message_id', sa.String(length=32), nullable=True),
    sa.Column('author', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('entry_id'),
    sa.UniqueConstraint('dedup_key')
    )
    op.create_index('ix_conversation_entries_conversation_id', 'conversation_entries', ['conversation_id'],
                    unique=False)
    op.create_index('ix_conversation_entries_outbox_message_id', 'conversation_entries', ['outbox_message_id'],
                    unique=False)


def downgrade() -> None:
    """Drop them again."""
    op.drop_index('ix_conversation_entries_outbox_message_id', table_name='conversation_entries')
    op.drop_index('ix_conversation_entries_conversation_id', table_name='conversation_entries')
    op.drop_table('conversation_entries')
    op.drop_index('ix_conversations_status_priority', table_name='conversations')
    op.drop_index('ix_conversations_rule_id', table_name='conversations')
    op.drop_index('ix_conversations_contact_hash', table_name='conversations')
    op.drop_index('ix_conversations_customer_id', table_name='conversations')
    op.drop_table('conversations')
