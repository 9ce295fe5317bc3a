"""customer contacts: the keyed hash of each customer's e-mail address and phone number, for the console's search

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``customer_contacts`` (hashes only; the addresses stay on ``customers``)."""
    op.create_table(
        "customer_contacts",
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("contact_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "channel"),
    )
    op.create_index(op.f("ix_customer_contacts_contact_hash"), "customer_contacts", ["contact_hash"], unique=False)


def downgrade() -> None:
    """Drop it again."""
    op.drop_index(op.f("ix_customer_contacts_contact_hash"), table_name="customer_contacts")
    op.drop_table("customer_contacts")
