"""The conversations inbox: the queue, one conversation's context and thread, and what a person does with it.

The queue puts waiting conversations first, then the highest priority, then the longest wait
(``triage.queue_key``). A conversation's page shows the context packet (customer facts, the signal
and the decision with its reasons and risk drivers, the message answered, the thread, the recent
timeline), each answer's delivery state from the outbox, the escalation pause it set, and a
suggested answer. Writes go through ``outreach.conversations`` and are audited by the caller.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from infra.settings import Settings
from outreach.conversations.answers import latest_reply, suggest
from outreach.conversations.measures import duration_text
from outreach.conversations.context import conversation_packet, conversation_summary
from outreach.conversations.records import OPEN, STATUSES, ConversationRecord
from outreach.conversations.service import inbox
from outreach.conversations.triage import queue_key
from outreach.outbox.records import OutboxRecord
from triggers.policy import PolicyConfig
from triggers.policy.escalation import Escalation, pause_end


def waited(since: dt.datetime | None, now: dt.datetime) -> str:
    """How long a reply has waited, as ``3d 4h`` / ``2h 5m`` / ``7m`` (empty when nothing waits)."""
    return duration_text((now - since).total_seconds()) if since is not None else ""


def queue(*, session: Session, now: dt.datetime, status: str = OPEN) -> list[dict[str, Any]]:
    """The inbox queue for ``status`` (``open`` by default), in answering order."""
    rows = inbox(session=session, statuses=(status,) if status in STATUSES else (OPEN,))
    rows.sort(key=lambda c: queue_key(c.priority, c.waiting_since, c.opened_at))
    return [{**conversation_summary(c), "customer_id": c.customer_id, "waited": waited(c.waiting_since, now),
             "last_inbound_at": c.last_inbound_at.isoformat()} for c in rows]


def answer_states(session: Session, thread: list[dict[str, Any]]) -> dict[str, str]:
    """The outbox state of each answer in a thread (queued answers are sent by the sender, consent re-checked)."""
    ids = [e["outbox_message_id"] for e in thread if e.get("outbox_message_id")]
    if not ids:
        return {}
    rows = session.execute(select(OutboxRecord.message_id, OutboxRecord.state, OutboxRecord.last_error)
                           .where(OutboxRecord.message_id.in_(ids))).all()
    return {message_id: state + (f" ({error})" if error and state != "sent" else "") for message_id, state, error in rows}


def detail(*, session: Session, conversation_id: str, now: dt.datetime, settings: Settings,
           with_suggestion: bool = True) -> dict[str, Any] | None:
    """Everything the conversation page shows; None when there is no such conversation."""
    conversation = session.get(ConversationRecord, conversation_id)
    if conversation is None:
        return None
    packet = conversation_packet(session=session, conversation=conversation,
                                 reply_text=latest_reply(session, conversation)[0], now=now)
    states = answer_states(session, packet["thread"])
    for entry in packet["thread"]:
        entry["state"] = states.get(entry.get("outbox_message_id") or "", None)
    pause = None
    if conversation.escalated_at is not None:
        until = pause_end(Escalation(conversation.escalated_at, conversation.escalation_reason or ""),
                          PolicyConfig.from_settings(settings.policy).escalation_pause)
        pause = {"reason": conversation.escalation_reason, "until": until.isoformat(), "active": now < until}
    suggestion = None
    if with_suggestion and conversation.customer_id is not None and conversation.status == OPEN:
        suggestion = suggest(session=session, conversation=conversation, settings=settings.conversations)
    return {"packet": packet, "conversation": packet["conversation"], "pause": pause, "suggestion": suggestion,
            "waited": waited(conversation.waiting_since, now), "answerable": conversation.customer_id is not None}

