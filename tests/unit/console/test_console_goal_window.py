"""Whether an exposure reached its goal: a goal event after it and inside the window."""

from __future__ import annotations

import datetime as dt

import pytest

from retain.console.outcomes import reached_goal

AT = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.timezone.utc)
H = dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("offsets_hours", "expected"),
    [
        ([], False),  # no goal event at all
        ([-1], False),  # before the send: does not count
        ([0], False),  # at the very moment of the send: not caused by it
        ([1], True),  # inside the window
        ([48], True),  # exactly at the end of the window still counts
        ([49], False),  # just after the window
        ([-5, 49], False),  # one before, one after: neither counts
        ([-5, 10, 49], True),  # one inside among others
    ],
)
def test_reached_goal(offsets_hours, expected):
    times = sorted(AT + h * H for h in offsets_hours)
    assert reached_goal(AT, 48 * H, times) is expected
