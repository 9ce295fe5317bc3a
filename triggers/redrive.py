"""Signals that were stored but never decided: found in SQL so they can be decided again.

In the single-box mode the ``signals`` topic lives in the embedded broker's memory. The
projection stores every signal (``signals`` table) and the decision stage stores at least one
decision per signal (``no_rule_matched`` when nothing applies), so a stored signal without any
decision was still on the topic when the service died. The runtime publishes these again at
start; decisions are stored idempotently per (signal, rule), so a signal decided meanwhile
changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from signals.records import SignalRecord
from signals.service import signal_from_record
from signals.signal import Signal
from triggers.records import DecisionRecord


def undecided_signals(*, session: Session, limit: int = 10_000) -> list[Signal]:
    """Stored signals without any stored decision, oldest first."""
    decided = select(DecisionRecord.decision_id).where(DecisionRecord.signal_id == SignalRecord.signal_id).exists()
    query = select(SignalRecord).where(~decided).order_by(SignalRecord.recorded_at).limit(limit)
    return [signal_from_record(row) for row in session.scalars(query)]
