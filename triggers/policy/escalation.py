"""Stop and escalate: after a complaint, a frustrated reply or a cancellation request, no automated message.

The customer is talking to a person now; a nudge or a marketing message in the middle of that
conversation is exactly what outreach "that knows when to stop" must never send. The conversation
store (in outreach, which triggers may not import) answers through the ``EscalationView`` port with
the customer's latest escalated reply; the pause lasts ``PolicyConfig.escalation_pause`` from it,
half-open like every policy window: ``[escalated_at, escalated_at + pause)``. An escalation after
``now`` is not seen, so a replayed signal decides as it did the first time.

>>> import datetime as dt
>>> at = dt.datetime(2026, 1, 12, 15, tzinfo=dt.timezone.utc)
>>> view = InMemoryEscalations({"c1": [Escalation(at, "complaint", "conv-1")]})
>>> escalation_verdict("c1", view, at + dt.timedelta(hours=1), dt.timedelta(hours=72))[0].value
'conversation_escalated'
>>> escalation_verdict("c1", view, at + dt.timedelta(days=4), dt.timedelta(hours=72)) is None
True
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping, Protocol, Sequence

from triggers.policy.reasons import ReasonCode


@dataclass(frozen=True)
class Escalation:
    """A reply that escalated: when it arrived, why (its intent or ``frustrated``), and its conversation."""

    escalated_at: dt.datetime
    reason: str
    conversation_id: str = ""


class EscalationView(Protocol):
    """Read-only lookup of a customer's latest escalated reply; the conversation store implements it."""

    def latest_escalation(self, customer_id: str, now: dt.datetime) -> Escalation | None:
        """The customer's latest escalation at or before ``now``, or None."""
        ...


class InMemoryEscalations:
    """An ``EscalationView`` over a dict of customer id -> escalations (tests, backtests)."""

    def __init__(self, entries: Mapping[str, Sequence[Escalation]] | None = None):
        self._entries = {customer: list(items) for customer, items in (entries or {}).items()}

    def add(self, customer_id: str, escalation: Escalation) -> None:
        """Record one escalation of a customer."""
        self._entries.setdefault(customer_id, []).append(escalation)

    def latest_escalation(self, customer_id: str, now: dt.datetime) -> Escalation | None:
        """The latest escalation at or before ``now``."""
        seen = [e for e in self._entries.get(customer_id, []) if e.escalated_at <= now]
        return max(seen, key=lambda e: e.escalated_at, default=None)


def pause_end(escalation: Escalation, pause: dt.timedelta) -> dt.datetime:
    """When automated outreach may speak again after ``escalation``."""
    return escalation.escalated_at + pause


def escalation_verdict(
    customer_id: str, escalations: EscalationView | None, now: dt.datetime, pause: dt.timedelta,
) -> tuple[ReasonCode, str] | None:
    """``CONVERSATION_ESCALATED`` with a detail naming the reply and the pause's end, or None.

    The one rule for decision time (the policy and quiet-hours releases, ``PolicyConfig.escalation_pause``)
    and send time (the outbox sender, for messages queued before the reply came in).
    """
    if escalations is None:
        return None
    escalation = escalations.latest_escalation(customer_id, now)
    if escalation is None or escalation.escalated_at > now or now >= pause_end(escalation, pause):
        return None
    detail = (f"{escalation.reason} reply in conversation {escalation.conversation_id or '?'}: automated outreach "
              f"paused until {pause_end(escalation, pause).isoformat()}")
    return ReasonCode.CONVERSATION_ESCALATED, detail
