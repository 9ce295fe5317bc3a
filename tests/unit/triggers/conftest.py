"""Builders shared by the trigger tests: rules, signals, customers and sends as plain data."""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

import pytest

from signals.signal import Signal
from triggers.policy import PastSend
from triggers.rule import Rule

UTC = dt.timezone.utc
# A Monday at 15:00 UTC: 10:00 in New York, 07:00 in Los Angeles (standard time).
NOON_ISH = dt.datetime(2026, 1, 12, 15, 0, tzinfo=UTC)


def build_rule(**overrides: Any) -> Rule:
    """A valid marketing rule with no holdout, overridable field by field."""
    data: dict[str, Any] = {
        "id": "winback",
        "version": 1,
        "signals": ["usage_drop"],
        "topic": "marketing",
        "priority": 10,
        "cooldown": "7d",
        "relevance": "3d",
        "holdout_pct": 0,
        "action": {"channels": ["email", "sms"], "brief": "Check in."},
    }
    data.update(overrides)
    return Rule.model_validate(data)


def build_signal(**overrides: Any) -> Signal:
    """A usage-drop signal for customer c1 detected at ``NOON_ISH``."""
    data: dict[str, Any] = {
        "kind": "usage_drop",
        "customer_id": "c1",
        "episode_key": "usage_drop:c1:2026-01-05",
        "detected_at": NOON_ISH,
        "reason": "drop",
        "attributes": {"drop_pct": 60.0},
    }
    data.update(overrides)
    return Signal.model_validate(data)


def build_customer(**overrides: Any) -> dict[str, Any]:
    """A New York customer with e-mail and a New York mobile number."""
    data: dict[str, Any] = {
        "email": "someone@example.com",
        "phone": "+12125550143",
        "time_zone": "America/New_York",
        "country": "US",
        "region": "US-NY",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def build_send(hours_ago: float, now: dt.datetime = NOON_ISH, **overrides: Any) -> PastSend:
    """A past send ``hours_ago`` before ``now`` (another rule, another episode by default)."""
    data: dict[str, Any] = {
        "sent_at": now - dt.timedelta(hours=hours_ago),
        "channel": "email",
        "rule_id": "other-rule",
        "topic": "marketing",
        "episode_key": "other-episode",
    }
    data.update(overrides)
    return PastSend(**data)


@pytest.fixture
def make_rule() -> Callable[..., Rule]:
    return build_rule


@pytest.fixture
def make_signal() -> Callable[..., Signal]:
    return build_signal


@pytest.fixture
def make_customer() -> Callable[..., dict[str, Any]]:
    return build_customer


@pytest.fixture
def make_send() -> Callable[..., PastSend]:
    return build_send
