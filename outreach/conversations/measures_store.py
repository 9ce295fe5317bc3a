"""Reading the conversations the reply measures are computed from (the caller owns the session)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlmodel import Session

from outreach.conversations.measures import ReplyMeasures, reply_measures
from outreach.conversations.records import ConversationRecord


def measures_since(*, session: Session, since: dt.datetime | None = None) -> list[ReplyMeasures]:
    """Per rule: conversations opened since ``since`` (all without it), answered, waiting, time to first answer."""
    query = select(ConversationRecord.rule_id, ConversationRecord.opened_at, ConversationRecord.first_answered_at,
                   ConversationRecord.waiting_since, ConversationRecord.escalated_at)
    if since is not None:
        query = query.where(ConversationRecord.opened_at >= since)
    return reply_measures((rule_id, opened, answered, waiting is not None, escalated is not None)
                          for rule_id, opened, answered, waiting, escalated in session.execute(query))
