"""Which rule changes wait for a second person: one table, one case per field and direction."""

from __future__ import annotations

import doctest
from typing import Any

import pytest

import triggers.rule_review
from triggers.rule import Rule
from triggers.rule_review import conditions_narrow, review_change

A = {"field": "signal.cart_value", "op": ">=", "value": 20}
B = {"field": "risk.bucket", "op": "in", "value": ["high"]}
C = {"field": "customer.country", "op": "==", "value": "DE"}
SORRY = {"code": "SORRY10", "description": "10 % off"}
MONTH = {"code": "MONTH", "description": "a month free"}

BASE: dict[str, Any] = {
    "id": "r", "version": 3, "description": "old words", "enabled": True, "signals": ["checkout_idle", "usage_drop"],
    "when": {"all": [A, B]}, "topic": "service", "priority": 10, "cooldown": "7d", "relevance": "24h",
    "holdout_pct": 10, "bypass_caps": False, "goal": {"events": ["order.placed"], "within": "2d"},
    "action": {"channels": ["sms", "email"], "brief": "Remind them.", "tone": "light", "offers": [SORRY, MONTH],
               "requires_approval": True},
}


def rule(**changes: Any) -> Rule:
    data = {**BASE, "action": dict(BASE["action"])}
    for key, value in changes.items():
        if key.startswith("action_"):
            data["action"][key.removeprefix("action_")] = value
        else:
            data[key] = value
    return Rule.model_validate(data)


# (what changes, review needed?, the reason or note it gives)
CASES = [
    ({"description": "new words"}, False, "changes the description"),
    ({"version": 9}, False, None),
    ({"goal": {"events": ["order.placed"], "within": "30d"}}, False, "changes the goal (measurement only)"),
    ({"enabled": False}, False, "disables the rule"),
    ({"signals": ["checkout_idle"]}, False, "reacts to fewer signals"),
    ({"signals": ["checkout_idle", "usage_drop", "shipping_delay"]}, True, "reacts to more signals: shipping_delay"),
    ({"signals": ["checkout_idle", "shipping_delay"]}, True, "reacts to more signals: shipping_delay"),
    ({"when": {"all": [A, B, C]}}, False, "adds a condition"),
    ({"when": {"all": [B, A]}}, False, "adds a condition"),  # reordered: the same requirements
    ({"when": {"all": [A]}}, True, "widens or replaces its conditions"),
    ({"when": None}, True, "widens or replaces its conditions"),
    ({"when": {"any": [A, B]}}, True, "widens or replaces its conditions"),
    ({"when": {"all": [A, {**B, "value": ["high", "medium"]}]}}, True, "widens or replaces its conditions"),
    ({"topic": "marketing"}, True, "changes the topic service -> marketing"),
    ({"priority": 11}, True, "changes the priority 10 -> 11"),
    ({"priority": 9}, True, "changes the priority 10 -> 9"),
    ({"cooldown": "14d"}, False, "a longer cooldown"),
    ({"cooldown": "1d"}, True, "contacts more often: cooldown 7d -> 1d"),
    ({"relevance": "12h"}, False, "a shorter relevance"),
    ({"relevance": "2d"}, True, "acts on older signals: relevance 1d -> 2d"),
    ({"holdout_pct": 20}, False, "a larger holdout"),
    ({"holdout_pct": 0}, True, "holds out fewer customers: 10 % -> 0 %"),
    ({"bypass_caps": True}, True, "bypasses the frequency caps"),
    ({"action_channels": ["email"]}, False, "fewer channels"),
    ({"action_channels": ["email", "sms"]}, True, "channels sms, email -> email, sms"),  # preference swapped
    ({"action_brief": "Remind them kindly."}, True, "changes the message brief"),
    ({"action_tone": "urgent"}, True, "changes the message tone"),
    ({"action_offers": [SORRY]}, False, "fewer offers"),
    ({"action_offers": [SORRY, MONTH, {"code": "FREE", "description": "free"}]}, True, "offers something new: FREE"),
    ({"action_offers": [{**SORRY, "description": "50 % off"}, MONTH]}, True, "offers something new: SORRY10"),
    ({"action_requires_approval": False}, True, "turns human approval of its drafts off"),
]


@pytest.mark.parametrize(("changes", "needed", "says"), CASES, ids=[str(c[0]) for c in CASES])
def test_review_of_one_change(changes, needed, says):
    review = review_change(rule(), rule(**changes))
    assert review.needed is needed
    assert (review.reasons if needed else review.notes) == ((says,) if says else ())


def test_turning_approval_on_and_enabling_from_off():
    off = rule(enabled=False, action_requires_approval=False)
    assert review_change(off, rule()).reasons == ("enables the rule",)
    assert review_change(off, off.model_copy(update={"action": rule().action})).notes == (
        "turns human approval of its drafts on",)


def test_a_new_rule_always_needs_review_and_no_change_needs_none():
    assert review_change(None, rule(enabled=False)).reasons == ("a new rule",)
    assert review_change(rule(), rule()) == review_change(rule(), rule()).__class__()


def test_every_reason_of_a_mixed_change_is_listed():
    review = review_change(rule(), rule(description="x", cooldown="1d", action_tone="urgent", enabled=False))
    assert review.reasons == ("contacts more often: cooldown 7d -> 1d", "changes the message tone")
    assert review.notes == ("disables the rule", "changes the description")


@pytest.mark.parametrize(("old", "new", "narrow"), [
    (None, {"all": [A]}, True), (None, None, True), ({"all": []}, A, True),  # from "always" anything narrows
    (A, {"all": [A, B]}, True), ({"all": [A, B]}, A, False), (A, None, False), (A, {"not": A}, False),
])
def test_conditions_narrow(old, new, narrow):
    as_condition = lambda c: rule(when=c).when  # noqa: E731
    assert conditions_narrow(as_condition(old), as_condition(new)) is narrow


def test_docstring_examples():
    result = doctest.testmod(triggers.rule_review)
    assert result.attempted > 0 and result.failed == 0
