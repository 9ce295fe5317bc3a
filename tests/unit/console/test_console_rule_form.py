"""The rule builder's form <-> rule mapping: both round trips over generated valid rules, and the edits."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retain.console.rule_editing import rule_yaml, validate_rule_text
from retain.console.rule_fields import GOAL_EVENTS, parse_value, render_value, retyped, value_kind, widget_for
from retain.console.rule_form import content_of, error_path, fields_of, posted
from retain.console.rule_form_edits import apply_edit
from signals.signal import SIGNAL_KINDS
from triggers.durations import format_duration
from triggers.loader import load_rules
from triggers.rule import Rule

ROOT = Path(__file__).resolve().parents[3]
RULES = list(load_rules(ROOT / "rules"))

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=30)
scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                   st.floats(allow_nan=False, allow_infinity=False, width=32), text)
value = st.one_of(scalar, st.lists(scalar, max_size=4), st.lists(st.sampled_from(["low", "medium", "high"]), max_size=3))
field = st.one_of(st.sampled_from(["signal.slip_hours", "signal.reason", "risk.bucket", "risk.probability",
                                   "customer.country", "customer.consent.sms_marketing"]),
                  st.from_regex(r"\A(signal|customer|risk)(\.[a-z_][a-z0-9_]{0,6}){1,3}\Z"))
ops = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not_in", "exists", "missing"])


@st.composite
def comparison(draw):
    op = draw(ops)
    if op in ("in", "not_in"):
        val = draw(st.lists(scalar, max_size=4) | st.lists(st.sampled_from(["low", "medium", "high"]), max_size=3))
    elif op in ("<", "<=", ">", ">="):
        val = draw(st.integers(-1000, 1000) | st.floats(allow_nan=False, allow_infinity=False))
    else:
        val = draw(value)
    return {"field": draw(field), "op": op, "value": val}


conditions = st.recursive(comparison(), lambda children: st.one_of(
    st.builds(lambda xs: {"all": xs}, st.lists(children, max_size=3)),
    st.builds(lambda xs: {"any": xs}, st.lists(children, min_size=1, max_size=3)),
    st.builds(lambda x: {"not": x}, children)), max_leaves=6)
duration = st.integers(1, 90 * 86400).map(lambda s: format_duration(dt.timedelta(seconds=s)))


@st.composite
def valid_rule(draw) -> dict:
    topic = draw(st.sampled_from(["service", "marketing"]))
    content = {
        "id": draw(st.from_regex(r"\A[a-z0-9][a-z0-9_.-]{0,20}\Z")), "version": draw(st.integers(1, 2**31 - 1)),
        "description": draw(text), "enabled": draw(st.booleans()),
        "signals": draw(st.lists(st.sampled_from(SIGNAL_KINDS), min_size=1, max_size=3, unique=True)),
        "when": draw(st.none() | conditions), "topic": topic, "priority": draw(st.integers(-1000, 1000)),
        "cooldown": draw(duration), "relevance": draw(duration),
        "holdout_pct": draw(st.floats(0, 100) | st.integers(0, 100)),
        "bypass_caps": draw(st.booleans()) if topic == "service" else False,
        "goal": draw(st.none() | st.fixed_dictionaries({
            "events": st.lists(st.sampled_from(GOAL_EVENTS), min_size=1, max_size=3, unique=True), "within": duration})),
        "action": {"channels": draw(st.lists(st.sampled_from(["email", "sms"]), min_size=1, max_size=2, unique=True)),
                   "brief": draw(text.filter(bool)), "tone": draw(text),
                   "offers": draw(st.lists(st.fixed_dictionaries({"code": text.filter(bool), "description": text.filter(bool)}),
                                           max_size=2)),
                   "requires_approval": draw(st.booleans())},
    }
    return Rule.model_validate(content).canonical()


def as_browser_posts(pairs):
    """What a browser sends: line breaks as CRLF (the form reads them back as LF)."""
    return [(name, value.replace("\n", "\r\n")) for name, value in pairs]


BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@BOUNDED
@given(valid_rule())
def test_yaml_to_form_to_yaml_is_the_identity(content):
    text = rule_yaml(content)
    rule, errors = validate_rule_text(text)
    assert errors == []
    back, problems = content_of(as_browser_posts(fields_of(rule.canonical())))
    assert problems == []
    assert rule_yaml(back) == text


@BOUNDED
@given(valid_rule())
def test_form_to_yaml_to_form_is_the_identity(content):
    form = posted(fields_of(content))
    back, problems = content_of(form)
    rule, errors = validate_rule_text(rule_yaml(back))
    assert problems == [] and errors == []
    assert posted(fields_of(rule.canonical())) == form


def test_the_shipped_rules_survive_the_form():
    for rule in RULES:
        content, problems = content_of(fields_of(rule.canonical()))
        assert problems == [] and Rule.model_validate(content) == rule


@pytest.mark.parametrize(("path", "op", "val", "kind", "widget"), [
    ("risk.bucket", "in", ["high", "medium"], "list", "checks"),  # known choices: tick boxes, in the rule's order
    ("risk.bucket", "in", ["high", "high"], "list", "lines"),  # a repeat cannot be two ticks
    ("signal.carrier", "in", ["DHL", "UPS"], "list", "lines"),  # free text: one per line
    ("signal.reason", "==", "not_shipped", "text", "select"),
    ("signal.reason", "==", "something_new", "text", "text"),  # not among the choices: typed
    ("signal.slip_hours", ">=", 24, "number", "number"),
    ("signal.slip_hours", ">=", 24.0, "number", "number"),
    ("customer.consent.sms_marketing", "==", False, "bool", "bool"),
    ("signal.x", "exists", None, "none", "none"),
    ("signal.x", "==", "two\nlines", "json", "json"),  # a line break does not fit a text box
    ("signal.x", "in", [1, "a"], "json", "json"),
    ("signal.x", "in", [" padded"], "json", "json"),  # one-per-line would strip it
])
def test_each_value_gets_the_picker_that_holds_it_exactly(path, op, val, kind, widget):
    assert (value_kind(path, op, val), widget_for(path, op, val)) == (kind, widget)
    shown = render_value(kind, val)
    parsed, problem = parse_value(kind, shown if isinstance(shown, list) else [shown])
    assert problem is None and parsed == val and type(parsed) is type(val)


@pytest.mark.parametrize(("kind", "posted_values", "problem"), [
    ("number", ["24 hours"], "write a number"),
    ("bool", ["maybe"], "true or false"),
    ("json", ["[unclosed"], "not valid JSON"),
])
def test_a_value_that_does_not_read_as_its_kind_is_a_problem_at_that_field(kind, posted_values, problem):
    fields = [("r.when.type", "compare"), ("r.when.field", "signal.x"), ("r.when.op", "=="),
              ("r.when.value_kind", kind), *(("r.when.value", v) for v in posted_values)]
    _, problems = content_of(fields)
    assert problems == [{"path": "r.when.value", "message": pytest.approx(problems[0]["message"])}]
    assert problem in problems[0]["message"]


def test_validator_fields_map_to_form_fields():
    assert error_path("action.offers[0].code") == "r.action.offers.0.code"
    assert error_path("when.all[1].any[0].op") == "r.when.all.1.any.0.op"
    assert error_path("(rule)") == "r"


def test_a_group_keeps_its_children_when_switched_between_all_and_any():
    fields = [("r.when.type", "any"), ("r.when.all.0.type", "compare"), ("r.when.all.0.field", "risk.bucket"),
              ("r.when.all.0.op", "=="), ("r.when.all.0.value_kind", "text"), ("r.when.all.0.value", "high")]
    content, _ = content_of(fields)
    assert content["when"] == {"any": [{"field": "risk.bucket", "op": "==", "value": "high"}]}


def test_hostile_nesting_is_bounded():
    path, fields = "r.when", []
    for _ in range(200):
        fields.append((f"{path}.type", "not"))
        path += ".not"
    _, problems = content_of(fields)
    assert any("nest deeper" in p["message"] for p in problems)


NUDGE = next(r for r in RULES if r.id == "checkout-idle-nudge").canonical()
CMP = {"field": "risk.bucket", "op": "in", "value": ["high"]}


@pytest.mark.parametrize(("edit", "check"), [
    ("add:r.when", lambda c: len(c["when"]["all"]) == 3),
    ("group:r.when", lambda c: c["when"]["all"][2] == {"all": [CMP]}),
    ("remove:r.when.all.0", lambda c: c["when"]["all"] == [NUDGE["when"]["all"][1]]),
    ("remove:r.when", lambda c: c["when"] is None),
    ("negate:r.when.all.1", lambda c: c["when"]["all"][1] == {"not": NUDGE["when"]["all"][1]}),
    ("offer-add", lambda c: c["action"]["offers"] == [{"code": "", "description": ""}]),
    ("channel-up:1", lambda c: c["action"]["channels"] == ["email", "sms"]),
    ("channel-up:0", lambda c: c["action"]["channels"] == ["sms", "email"]),  # already first
    ("remove:r.when.all.9", lambda c: c == NUDGE),  # names nothing: nothing changes
    ("add:r.nowhere", lambda c: c == NUDGE),
    ("negate:r.id", lambda c: c == NUDGE),  # condition edits act on conditions only
    ("remove:r.action", lambda c: c == NUDGE),
    ("bogus", lambda c: c == NUDGE),
])
def test_structural_edits(edit, check):
    assert check(apply_edit(NUDGE, edit))


def test_negating_then_unwrapping_and_removing_a_lone_not():
    negated = apply_edit(NUDGE, "negate:r.when.all.0")
    assert apply_edit(negated, "unwrap:r.when.all.0") == NUDGE
    assert apply_edit(negated, "remove:r.when.all.0.not")["when"]["all"] == [NUDGE["when"]["all"][1]]


def test_adding_to_a_lone_comparison_makes_a_group():
    content = {**NUDGE, "when": CMP}
    assert apply_edit(content, "add:r.when")["when"] == {"all": [CMP, CMP]}


@pytest.mark.parametrize(("field", "op", "before", "after"), [
    ("risk.bucket", "in", "high", ["high"]),
    ("risk.bucket", "==", ["medium", "high"], "medium"),
    ("signal.slip_hours", ">=", "24", 24),
    ("signal.slip_hours", ">=", "soon", 0),
    ("signal.x", "exists", 5, None),
    ("customer.has_email", "==", None, True),
])
def test_a_changed_operator_carries_the_value_over(field, op, before, after):
    assert retyped(field, op, before) == after
