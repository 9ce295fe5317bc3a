"""A rule's goal: what results per rule count as the outcome, with a default per topic."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from signals.events import EVENT_TYPES
from signals.events import GOAL_EVENT_TYPES
from triggers.loader import load_rules
from triggers.rule import Rule, rule_json_schema

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("topic", "goal", "events", "within"),
    [
        ("marketing", None, ["order.placed"], dt.timedelta(days=7)),  # marketing default: the next order soon
        ("service", None, ["order.placed"], dt.timedelta(days=30)),  # service default: retention over a month
        ("marketing", {"events": ["product.usage"], "within": "36h"}, ["product.usage"], dt.timedelta(hours=36)),
        ("service", {"events": ["checkout.completed", "order.placed"], "within": 3600},  # seconds, two types
         ["checkout.completed", "order.placed"], dt.timedelta(hours=1)),
    ],
)
def test_effective_goal_is_the_rules_own_or_its_topics_default(make_rule, topic, goal, events, within):
    rule = make_rule(topic=topic, goal=goal)
    assert (rule.effective_goal.events, rule.effective_goal.within) == (events, within)


@pytest.mark.parametrize(
    ("goal", "schema_refuses"),
    [
        ({"events": [], "within": "7d"}, True),  # no event type
        ({"events": ["order.placd"], "within": "7d"}, True),  # misspelt type
        ({"events": ["checkout.activity"], "within": "7d"}, True),  # a heartbeat is not kept, so cannot be a goal
        ({"events": ["order.placed"]}, True),  # window missing
        ({"events": ["order.placed"], "within": "7d", "value": 3}, True),  # unknown key
        ({"events": ["order.placed", "order.placed"], "within": "7d"}, False),  # repeats: only the model sees them
        ({"events": ["order.placed"], "within": "0s"}, False),  # empty window: only the model sees it
    ],
)
def test_bad_goals_are_refused(make_rule, goal, schema_refuses):
    with pytest.raises(ValidationError):
        make_rule(goal=goal)
    document = {"schema_version": 1, "rules": [make_rule().canonical() | {"goal": goal}]}
    if schema_refuses:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(document, rule_json_schema())
    else:
        jsonschema.validate(document, rule_json_schema())


def test_goal_types_are_event_types_without_the_noisy_or_self_made_ones():
    assert set(GOAL_EVENT_TYPES) < set(EVENT_TYPES)
    assert {"customer.profile", "checkout.activity", "message.sent"}.isdisjoint(GOAL_EVENT_TYPES)
    assert {"order.placed", "checkout.completed", "product.usage"} <= set(GOAL_EVENT_TYPES)


def test_goal_round_trips_through_the_canonical_form(make_rule):
    rule = make_rule(goal={"events": ["order.placed"], "within": "48h"})
    assert rule.canonical()["goal"] == {"events": ["order.placed"], "within": "2d"}
    assert Rule.model_validate(rule.canonical()) == rule


def test_example_rules_name_their_goals():
    goals = {rule.id: rule.goal.model_dump(mode="json") for rule in load_rules(ROOT / "rules")}
    assert goals["shipping-delay-notice"] == {"events": ["order.placed"], "within": "30d"}
    assert goals["checkout-idle-nudge"] == {"events": ["order.placed", "checkout.completed"], "within": "2d"}
    assert goals["usage-drop-winback"] == {"events": ["product.usage"], "within": "7d"}
