"""The messages page: outbox rows and their delivery history, filterable by rule, channel and state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from outreach.outbox.records import OutboxRecord


def message_entry(row: OutboxRecord) -> dict[str, Any]:
    """One outbox row as JSON, without any contact detail (the outbox stores only a hash of it)."""
    return {"message_id": row.message_id, "customer_id": row.customer_id, "rule_id": row.rule_id,
            "channel": row.channel, "topic": row.topic, "state": row.state, "subject": row.subject,
            "provider_status": row.provider_status, "attempts": row.attempts, "last_error": row.last_error,
            "created_at": row.created_at.isoformat(), "sent_at": row.sent_at.isoformat() if row.sent_at else None}


def list_messages(*, session: Session, rule_id: str | None = None, channel: str | None = None,
                  state: str | None = None, limit: int = 200) -> list[OutboxRecord]:
    """Outbox rows, newest first, filtered by rule, channel and state."""
    query = select(OutboxRecord).order_by(OutboxRecord.created_at.desc()).limit(limit)
    for column, value in ((OutboxRecord.rule_id, rule_id), (OutboxRecord.channel, channel),
                          (OutboxRecord.state, state)):
        if value:
            query = query.where(column == value)
    return list(session.scalars(query))
