"""The customer's answers shown under each message on their timeline, from every source that keeps them.

The seam: ``REPLY_SOURCES`` lists functions ``(session=, customer_id=) -> [Reply]``. Today one
source exists: provider events that are the customer answering (an SMS reply, STOP or START, an
e-mail unsubscribe or spam report), recorded by the webhooks in ``delivery_events``; their text
is not stored (an SMS reply goes to support), so ``text`` is None. When ``outreach.conversations``
keeps each reply with its text, add its source here and the timeline shows it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable

from sqlalchemy import select
from sqlmodel import Session

from outreach.outbox.records import DeliveryEventRecord

# Provider event kinds that are the customer speaking, not a delivery status.
REPLY_KINDS = {"sms_reply": "replied by SMS", "sms_opt_out": "texted STOP", "sms_opt_in": "texted START",
               "unsubscribe": "unsubscribed", "group_unsubscribe": "unsubscribed from this kind of e-mail",
               "spamreport": "reported it as spam"}


@dataclass(frozen=True)
class Reply:
    """One answer from the customer; ``message_id`` is the message it answers when known."""

    occurred_at: dt.datetime
    kind: str
    label: str
    source: str
    message_id: str | None = None
    text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {**asdict(self), "occurred_at": self.occurred_at.isoformat()}


ReplySource = Callable[..., Iterable[Reply]]


def provider_event_replies(*, session: Session, customer_id: str, limit: int = 200) -> list[Reply]:
    """Replies as the provider webhooks recorded them (no text is kept for these)."""
    rows = session.scalars(select(DeliveryEventRecord).where(DeliveryEventRecord.customer_id == customer_id,
                                                             DeliveryEventRecord.kind.in_(list(REPLY_KINDS)))
                           .order_by(DeliveryEventRecord.occurred_at).limit(limit))
    return [Reply(occurred_at=r.occurred_at, kind=r.kind, label=REPLY_KINDS[r.kind], source=r.provider,
                  message_id=r.message_id) for r in rows]


REPLY_SOURCES: tuple[ReplySource, ...] = (provider_event_replies,)


def replies_by_message(*, session: Session, customer_id: str,
                       sources: Iterable[ReplySource] = REPLY_SOURCES) -> dict[str | None, list[dict[str, Any]]]:
    """Every source's replies, oldest first, grouped by the message they answer (None: not tied to one)."""
    replies = sorted((r for source in sources for r in source(session=session, customer_id=customer_id)),
                     key=lambda r: r.occurred_at)
    grouped: dict[str | None, list[dict[str, Any]]] = {}
    for reply in replies:
        grouped.setdefault(reply.message_id, []).append(reply.to_dict())
    return grouped
