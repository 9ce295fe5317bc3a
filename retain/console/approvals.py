"""The approval queue: drafts waiting for a human, and approve / edit-and-approve / reject.

Each transition is conditional on the row still awaiting approval, so two reviewers clicking at
once cannot both act; the loser gets False. An edit keeps the original text and the reviewer's
name beside the message (``rendered``), so an audit can see what a human changed. The caller commits.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from outreach.outbox.records import AWAITING_APPROVAL, DRAFTED, SUPPRESSED, OutboxRecord


def queue(*, session: Session, limit: int = 100) -> list[OutboxRecord]:
    """Drafts awaiting approval, oldest first."""
    query = (select(OutboxRecord).where(OutboxRecord.state == AWAITING_APPROVAL)
             .order_by(OutboxRecord.created_at).limit(limit))
    return list(session.scalars(query))


def draft_view(row: OutboxRecord) -> dict[str, Any]:
    """What a reviewer sees: the text, the signal, the risk drivers and the guardrail results."""
    decision = row.decision or {}
    rendered = row.rendered or {}
    return {
        "message_id": row.message_id, "customer_id": row.customer_id, "rule_id": row.rule_id,
        "channel": row.channel, "topic": row.topic, "state": row.state, "subject": row.subject, "body": row.body,
        "signal_kind": decision.get("signal_kind"), "episode_key": row.episode_key,
        "risk": decision.get("risk"), "risk_bucket": decision.get("risk_bucket"),
        "drivers": decision.get("drivers") or [], "reason": decision.get("reason"),
        "guardrails": rendered.get("guardrails") or rendered.get("guardrail_results") or [],
        "created_at": row.created_at.isoformat(),
    }


def _set(session: Session, message_id: str, now: dt.datetime, **values: Any) -> bool:
    result = session.execute(
        update(OutboxRecord)
        .where(OutboxRecord.message_id == message_id, OutboxRecord.state == AWAITING_APPROVAL)
        .values(updated_at=now, **values))
    return result.rowcount == 1


def approve(*, session: Session, message_id: str, now: dt.datetime, reviewer: str,
            subject: str | None = None, body: str | None = None) -> bool:
    """Approve (optionally with edited subject/body): it goes on to send. False if not awaiting approval."""
    row = session.get(OutboxRecord, message_id)
    if row is None or row.state != AWAITING_APPROVAL:
        return False
    values: dict[str, Any] = {}
    rendered = dict(row.rendered or {})
    if (subject is not None and subject != row.subject) or (body is not None and body != row.body):
        rendered["edited_by"] = reviewer
        rendered["original"] = {"subject": row.subject, "body": row.body}
        values.update(subject=subject if subject is not None else row.subject,
                      body=body if body is not None else row.body)
    rendered["approved_by"] = reviewer
    return _set(session, message_id, now, state=DRAFTED, requires_approval=False, next_attempt_at=now,
                rendered=rendered, **values)


def reject(*, session: Session, message_id: str, now: dt.datetime, reviewer: str, reason: str) -> bool:
    """Reject a draft: it is never sent. False if it was not awaiting approval."""
    row = session.get(OutboxRecord, message_id)
    if row is None or row.state != AWAITING_APPROVAL:
        return False
    rendered = {**(row.rendered or {}), "rejected_by": reviewer, "rejection_reason": reason}
    return _set(session, message_id, now, state=SUPPRESSED, rendered=rendered,
                last_error=f"rejected by reviewer: {reason}"[:500])


def queue_row(*, session: Session, message_id: str) -> OutboxRecord | None:
    """The outbox row when it is awaiting approval, else None."""
    row = session.get(OutboxRecord, message_id)
    return row if row is not None and row.state == AWAITING_APPROVAL else None
