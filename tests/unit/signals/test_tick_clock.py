"""``PartitionClock``: how far a tick may fire a partition's deadlines (table-driven)."""

from __future__ import annotations

import datetime as dt
import doctest

import pytest

import signals.tick_clock
from signals.tick_clock import PartitionClock

NOW = dt.datetime(2026, 12, 4, 12, tzinfo=dt.timezone.utc)
IDLE = dt.timedelta(seconds=10)
S = dt.timedelta(seconds=1)


@pytest.mark.parametrize(("newest_event", "last_input", "expected"), [
    (None, None, NOW),  # nothing folded since start: wall clock (a restart with stored states)
    (NOW - dt.timedelta(days=3), NOW - 2 * S, NOW - dt.timedelta(days=3)),  # a backfill still arriving
    (NOW - dt.timedelta(days=3), NOW - IDLE, NOW),  # quiet for idle_after: the producer is done
    (NOW - 3 * S, NOW - S, NOW - 3 * S),  # live traffic: about now
    (NOW + dt.timedelta(hours=1), NOW - S, NOW),  # an event from the (allowed) future: never past now
    (None, NOW - S, None),  # just assigned, no event time yet: wait for records or quiet
])
def test_until(newest_event, last_input, expected):
    assert PartitionClock(newest_event, last_input).until(NOW, idle_after=IDLE) == expected


def test_the_newest_event_only_moves_forward_and_every_fold_counts_as_input():
    clock = PartitionClock()
    clock.folded(NOW - dt.timedelta(days=1), at=NOW - 5 * S)
    clock.folded(NOW - dt.timedelta(days=2), at=NOW - 4 * S)  # an older event: late, not a step back
    clock.folded(None, at=NOW - 3 * S)  # only bad records: still input
    assert clock == PartitionClock(NOW - dt.timedelta(days=1), NOW - 3 * S)


def test_an_assignment_is_input():
    clock = PartitionClock(NOW - dt.timedelta(days=1), NOW - dt.timedelta(minutes=5))
    clock.assigned(NOW - S)
    assert clock.until(NOW, idle_after=IDLE) == NOW - dt.timedelta(days=1)


def test_docstring_examples():
    result = doctest.testmod(signals.tick_clock)
    assert result.attempted > 0 and result.failed == 0
