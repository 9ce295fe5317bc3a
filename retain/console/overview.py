"""The overview's numbers: signals, decisions and messages per day, suppressions, reaction rates.

``daily_series`` is pure (fills days without rows with 0); ``overview`` reads the tables. Events
and dead-letters are not stored in the database (they live on Kafka); their counts come from the
running service's counters (``app.state.counters``) when it provides them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from sqlalchemy import func, select
from sqlmodel import Session

from outreach.outbox.records import SENT, DeliveryEventRecord, OutboxRecord
from outreach.reputation import COMPLAINT_KINDS, OPT_OUT_KINDS
from signals.records import SignalRecord
from triggers.records import DecisionRecord

SUPPRESSING_OUTCOMES = ("suppressed", "expired", "superseded")


def day_labels(now: dt.datetime, days: int) -> list[str]:
    """ISO dates of the ``days`` days ending with ``now``'s (UTC), oldest first."""
    today = now.astimezone(dt.timezone.utc).date()
    return [(today - dt.timedelta(days=offset)).isoformat() for offset in range(days - 1, -1, -1)]


def daily_series(labels: list[str], counts: Mapping[str, int]) -> list[int]:
    """One count per label, 0 where no row was counted."""
    return [int(counts.get(day, 0)) for day in labels]


def _per_day(session: Session, column: Any, since: dt.datetime, *where: Any) -> dict[str, int]:
    day = func.date(column)
    query = select(day, func.count()).where(column >= since, *where).group_by(day)
    return {str(d): n for d, n in session.execute(query)}


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when nothing was sent."""
    return part / whole if whole else None


def overview(*, session: Session, now: dt.datetime, days: int = 14,
             counters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Everything the overview page shows, as JSON-able data."""
    labels = day_labels(now, days)
    since = dt.datetime.fromisoformat(labels[0]).replace(tzinfo=dt.timezone.utc)
    series = {
        "signals": daily_series(labels, _per_day(session, SignalRecord.detected_at, since)),
        "decisions": daily_series(labels, _per_day(session, DecisionRecord.decided_at, since)),
        "messages sent": daily_series(labels, _per_day(session, OutboxRecord.sent_at, since, OutboxRecord.state == SENT)),
    }
    suppressions = dict(session.execute(
        select(DecisionRecord.reason, func.count())
        .where(DecisionRecord.decided_at >= since, DecisionRecord.outcome.in_(SUPPRESSING_OUTCOMES))
        .group_by(DecisionRecord.reason)).all())
    outcomes = dict(session.execute(
        select(DecisionRecord.outcome, func.count()).where(DecisionRecord.decided_at >= since)
        .group_by(DecisionRecord.outcome)).all())
    reactions = dict(session.execute(
        select(DeliveryEventRecord.kind, func.count()).where(DeliveryEventRecord.occurred_at >= since)
        .group_by(DeliveryEventRecord.kind)).all())
    sent = sum(series["messages sent"])
    opt_outs = sum(reactions.get(kind, 0) for kind in OPT_OUT_KINDS)
    complaints = sum(reactions.get(kind, 0) for kind in COMPLAINT_KINDS)
    counters = dict(counters or {})
    return {
        "days": labels, "series": series, "suppressions": suppressions, "outcomes": outcomes,
        "sent": sent, "opt_outs": opt_outs, "complaints": complaints,
        "opt_out_rate": rate(opt_outs, sent), "complaint_rate": rate(complaints, sent),
        "events": counters.get("events"), "deadletter": counters.get("deadletter"),
    }
