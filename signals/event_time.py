"""Which event times retain accepts: none more than a configured skew after the receiver's clock.

An event cannot have happened in the future. A little skew between upstream clocks and ours is
normal; an event days or millennia ahead (issue 10: ``9999-12-31T23:59:59Z``) is a producer's bug,
and folding it would move that customer's event time to the end of time. One rule, two callers:
the HTTP API refuses such an event with 422 naming ``occurred_at`` (``retain.api.ingest``), the
stream worker dead-letters one written straight to Kafka (``signals.stream_batch``). Both pass
their wall clock in; the setting is ``max_future_skew_seconds`` (default 24 h).

>>> import datetime as dt
>>> now = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
>>> future_time_problem(now + dt.timedelta(hours=1), now=now, max_future=dt.timedelta(hours=24)) is None
True
>>> future_time_problem(now + dt.timedelta(days=3), now=now, max_future=dt.timedelta(hours=24))
'occurred_at is 3.0 days in the future (more than 24 h after the receiver clock, 2026-12-01T00:00:00+00:00)'
"""

from __future__ import annotations

import datetime as dt

PROBLEM_TYPE = "future_event_time"


def future_time_problem(occurred_at: dt.datetime, *, now: dt.datetime, max_future: dt.timedelta) -> str | None:
    """Why ``occurred_at`` is refused (more than ``max_future`` after ``now``), or ``None`` when it is fine."""
    ahead = occurred_at - now  # aware datetimes: a timedelta, never an overflow
    if ahead <= max_future:
        return None
    return (f"occurred_at is {ahead.total_seconds() / 86400:.1f} days in the future (more than "
            f"{max_future.total_seconds() / 3600:g} h after the receiver clock, {now.isoformat()})")
