"""Which goal an exposure is measured by: its rule version's, as live at the decision, else the topic default."""

from __future__ import annotations

import datetime as dt

import pytest

from retain.console.outcomes import goal_of
from triggers.rule import DEFAULT_GOALS, Goal

T = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
D = dt.timedelta(days=1)
ORDER = Goal(events=["order.placed"], within="2d")
USAGE = Goal(events=["product.usage"], within="7d")
CHECKOUT = Goal(events=["checkout.completed"], within="1d")
GOALS = {
    ("r", 1): [(T, ORDER)],
    ("r", 2): [(T + 10 * D, USAGE), (T + 20 * D, CHECKOUT)],  # version 2 saved twice without a bump
}


@pytest.mark.parametrize(("version", "decided_at", "topic", "expected"), [
    (1, T + 30 * D, "marketing", ORDER),  # an old version's decision keeps its goal after newer versions
    (2, T + 15 * D, "marketing", USAGE),  # the content of version 2 live at the decision
    (2, T + 25 * D, "marketing", CHECKOUT),  # ... and after it was re-saved
    (2, T, "marketing", USAGE),  # decided before the version was first seen (clock skew): its first content
    (3, T + 30 * D, "service", DEFAULT_GOALS["service"]),  # version not stored: the topic's default
    (None, T, "marketing", DEFAULT_GOALS["marketing"]),  # a decision naming no version: the topic's default
    (None, T, None, DEFAULT_GOALS["marketing"]),  # no topic either: the marketing default
])
def test_goal_of(version, decided_at, topic, expected):
    assert goal_of(GOALS, "r", version, decided_at, topic) == expected
