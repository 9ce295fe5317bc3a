"""Projects the streams into SQL: customer profiles and goal events from ``events``, signals from ``signals``,
quarantined customers from ``quarantine``.

A thin ``store`` for ``infra.topic_consumer.TopicConsumer``: one consumer group, each batch
written in one transaction, offsets committed after it. Every write is idempotent (profiles keep
the newest by event time, signals and goal events are unique on their id), so a batch read again
after a crash or a database outage changes nothing. While the database is down or locked the
loop pauses and reports ``degraded``; it resumes where it stopped. Records that are not valid
events or signals are skipped here: the stage that consumes them for real dead-letters them
with the reason. Dead-letter records are counted, for the console and the demo summary.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine

from infra.database import session_scope
from infra.health import Reporter
from infra.party_locks import lock_parties
from infra.stream_app import DEADLETTER, EVENTS, QUARANTINE, SIGNALS
from infra.topic_consumer import Poison, TopicConsumer
from signals.events import parse_event
from signals.goal_events import record_goal_event
from signals.quarantine_store import record_quarantine_notice
from signals.service import (
    ContactHasher,
    carries_consent,
    index_contacts,
    profile_addresses,
    profile_values,
    record_signal,
    upsert_customer_profile,
)
from signals.signal import Signal

log = logging.getLogger(__name__)

STAGE = "signals.projection"


class Projection:
    """Consume events, signals and deadletter; store profiles and signals; count what was stored."""

    def __init__(self, engine: Engine, bootstrap: str, *, group_id: str = "retain-projection",
                 contact_hasher: ContactHasher | None = None) -> None:
        self.engine = engine
        # The keyed hash of contact points, so the console finds people by e-mail or phone (None: not indexed).
        self.contact_hasher = contact_hasher
        self.events = 0
        self.signals: Counter[str] = Counter()
        self.deadletter = 0
        self.deadletter_reasons: Counter[str] = Counter()
        self.consumer = TopicConsumer(topics=[EVENTS, SIGNALS, DEADLETTER, QUARANTINE], bootstrap=bootstrap,
                                      group_id=group_id, store=self.store, stage=STAGE, max_records=2000)

    @property
    def group_id(self) -> str:
        """The consumer group whose committed offsets say what is stored (the single-box checkpoints read it)."""
        return self.consumer.group_id

    async def run(self, reporter: Reporter) -> None:
        """Consume until cancelled (run it under ``infra.supervisor.Supervisor``)."""
        await self.consumer.run(reporter)

    def summary(self) -> dict[str, Any]:
        """Counts since start: events, signals by kind, deadletter."""
        return {"events": self.events, "signals": dict(sorted(self.signals.items())),
                "deadletter": self.deadletter, "deadletter_reasons": dict(self.deadletter_reasons)}

    def store(self, records: list[Any]) -> list[Poison]:
        """Store one batch in one transaction (blocking: the consumer runs it in a thread)."""
        events, signals, reasons = 0, Counter[str](), Counter[str]()
        parsed = {id(record): _event(record.value) for record in records if record.topic == EVENTS}
        with session_scope(self.engine) as session:
            # Upstream consent flags are opt-outs too: ordered against the sender's decisions like
            # the consent store's (``outreach.consent.locks``), all locks first, in key order.
            lock_parties(session, shared=False, customer_ids=[
                event.customer_id for event in parsed.values() if event is not None and carries_consent(event)])
            for record in records:
                if record.topic == EVENTS:
                    events += 1
                    self._store_parsed(session, parsed[id(record)])
                elif record.topic == SIGNALS:
                    signal = _signal(record.value)
                    if signal is not None:
                        record_signal(session=session, signal=signal)
                        signals[signal.kind] += 1
                elif record.topic == QUARANTINE:
                    record_quarantine_notice(session=session, notice=json.loads(record.value))
                elif record.topic == DEADLETTER:
                    reasons[_deadletter_reason(record.value)] += 1
            session.commit()
        # Counted after the commit, so a batch read again after an outage is counted once.
        self.events += events
        self.signals.update(signals)
        self.deadletter += sum(reasons.values())
        self.deadletter_reasons.update(reasons)
        return []

    def _store_event(self, session: Any, raw: bytes) -> None:
        self._store_parsed(session, _event(raw))

    def _store_parsed(self, session: Any, event: Any) -> None:
        if event is None:
            return  # the stream worker sends it to deadletter with the reason; nothing to project
        if event.type == "customer.profile":
            applied = upsert_customer_profile(session=session, event=event)
            if applied and self.contact_hasher is not None:
                index_contacts(session=session, customer_id=event.customer_id, hasher=self.contact_hasher,
                               addresses=profile_addresses(profile_values(event)), now=event.occurred_at)
        else:
            # Kept for results per rule: did the customer reach a rule's goal after the message?
            record_goal_event(session=session, event=event)


def _event(raw: bytes | None) -> Any:
    try:
        return parse_event(raw if raw is not None else b"")
    except (ValidationError, ValueError):
        return None


def _signal(raw: bytes | None) -> Signal | None:
    try:
        return Signal.from_dict(json.loads(raw or b""))
    except (ValidationError, ValueError, TypeError):
        return None  # the decision stage dead-letters it with the reason


def _deadletter_reason(raw: bytes | None) -> str:
    try:
        reason = json.loads(raw or b"").get("reason", "")
    except (ValueError, AttributeError):
        reason = "unreadable dead-letter record"
    return str(reason).split(":")[0][:60]
