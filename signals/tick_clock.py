"""How far a wall-clock tick may fire a partition's deadlines: event time while records flow, now once quiet.

A tick on a caught-up partition used to fire every deadline up to wall-clock now. That is right for
live traffic, whose events happen about now, but not for history arriving through the live path (a
backfill posted through the API, a producer catching up after an outage): "caught up" only means
the worker has read what was posted so far, and the event that closes an episode (an order's
shipment) may be in the next request. The replay, which sees the whole history, then disagrees
(found by tests/chaos, kafka scenario: a ship-by deadline days in the past fired between two
requests of a 14-day feed). The usual answer in stream processing is a watermark with idleness:
while records keep arriving on a partition its clock is the newest ``occurred_at`` folded there
(never past now); once none has arrived for ``idle_after`` the producer is taken to be done, or the
traffic to be live, and the clock is now. For live traffic the newest event is about now, so
deadlines fire on time on a busy partition and at most ``idle_after`` late on a quiet one.

>>> import datetime as dt
>>> t = dt.datetime(2026, 12, 1, 12, tzinfo=dt.timezone.utc)
>>> clock = PartitionClock()
>>> clock.folded(t - dt.timedelta(days=10), at=t)   # a backfill: events ten days old
>>> clock.until(t + dt.timedelta(seconds=2), idle_after=dt.timedelta(seconds=10)) == t - dt.timedelta(days=10)
True
>>> clock.until(t + dt.timedelta(seconds=10), idle_after=dt.timedelta(seconds=10)) == t + dt.timedelta(seconds=10)
True
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass
class PartitionClock:
    """One events partition: the newest event time folded and when (wall clock) a record last came."""

    newest_event: dt.datetime | None = None
    last_input: dt.datetime | None = None

    def folded(self, newest_event: dt.datetime | None, *, at: dt.datetime) -> None:
        """Records were folded at wall-clock ``at``; ``newest_event`` is their newest ``occurred_at`` (if any)."""
        self.last_input = at
        if newest_event is not None and (self.newest_event is None or newest_event > self.newest_event):
            self.newest_event = newest_event

    def assigned(self, at: dt.datetime) -> None:
        """The partition was (re)assigned at ``at``: its backlog may still be arriving, so it is not idle yet."""
        self.last_input = at

    def until(self, now: dt.datetime, *, idle_after: dt.timedelta) -> dt.datetime | None:
        """Fire deadlines up to this (None: none yet, a partition just assigned with no event time)."""
        if self.last_input is None or now - self.last_input >= idle_after:
            return now
        if self.newest_event is None:
            return None
        return min(now, self.newest_event)
