"""outreach: consent store, contact points, suppressions, outbox, delivery events, rule pauses

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 22:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the consent and delivery tables."""
    op.create_table('consent_changes',
    sa.Column('change_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('contact_hash', sa.String(length=64), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('change_id')
    )
    op.create_index(op.f('ix_consent_changes_customer_id'), 'consent_changes', ['customer_id'], unique=False)
    op.create_table('consent_states',
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', 'channel', 'topic')
    )
    op.create_table('contact_points',
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=254), nullable=True),
    sa.Column('contact_hash', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('customer_id', 'channel')
    )
    op.create_index(op.f('ix_contact_points_contact_hash'), 'contact_points', ['contact_hash'], unique=False)
    op.create_table('delivery_events',
    sa.Column('event_key', sa.String(length=200), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('message_id', sa.String(length=32), nullable=True),
    sa.Column('rule_id', sa.String(length=64), nullable=True),
    sa.Column('customer_id', sa.String(length=128), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_key')
    )
    op.create_index(op.f('ix_delivery_events_message_id'), 'delivery_events', ['message_id'], unique=False)
    op.create_index(op.f('ix_delivery_events_rule_id'), 'delivery_events', ['rule_id'], unique=False)
    op.create_table('erasures',
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('customer_id')
    )
    op.create_table('outbox',
    sa.Column('message_id', sa.String(length=32), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('decision_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=128), nullable=False),
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.Column('episode_key', sa.String(length=512), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('requires_approval', sa.Boolean(), nullable=False),
    sa.Column('decision', sa.JSON(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recipient_hash', sa.String(length=64), nullable=True),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('rendered', sa.JSON(), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=True),
    sa.Column('provider_message_id', sa.String(length=128), nullable=True),
    sa.Column('provider_status', sa.String(length=32), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('message_id'),
    sa.UniqueConstraint('idempotency_key')
    )
    op.create_index(op.f('ix_outbox_customer_id'), 'outbox', ['customer_id'], unique=False)
    op.create_index(op.f('ix_outbox_provider_message_id'), 'outbox', ['provider_message_id'], unique=False)
    op.create_index(op.f('ix_outbox_rule_id'), 'outbox', ['rule_id'], unique=False)
    op.create_index('ix_outbox_state_next_attempt', 'outbox', ['state', 'next_attempt_at'], unique=False)
    op.create_table('rule_pauses',
    sa.Column('rule_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('sends', sa.Integer(), nullable=False),
    sa.Column('complaint_rate', sa.Float(), nullable=False),
    sa.Column('opt_out_rate', sa.Float(), nullable=False),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('rule_id')
    )
    op.create_table('suppressions',
    sa.Column('contact_hash', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('contact_hash', 'channel')
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_table('suppressions')
    op.drop_table('rule_pauses')
    op.drop_index('ix_outbox_state_next_attempt', table_name='outbox')
    op.drop_index(op.f('ix_outbox_rule_id'), table_name='outbox')
    op.drop_index(op.f('ix_outbox_provider_message_id'), table_name='outbox')
    op.drop_index(op.f('ix_outbox_customer_id'), table_name='outbox')
    op.drop_table('outbox')
    op.drop_table('erasures')
    op.drop_index(op.f('ix_delivery_events_rule_id'), table_name='delivery_events')
    op.drop_index(op.f('ix_delivery_events_message_id'), table_name='delivery_events')
    op.drop_table('delivery_events')
    op.drop_index(op.f('ix_contact_points_contact_hash'), table_name='contact_points')
    op.drop_table('contact_points')
    op.drop_table('consent_states')
    op.drop_index(op.f('ix_consent_changes_customer_id'), table_name='consent_changes')
    op.drop_table('consent_changes')
