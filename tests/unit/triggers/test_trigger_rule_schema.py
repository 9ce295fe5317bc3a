"""The rule model, its published JSON Schema, durations and the condition language."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from triggers.conditions import Condition, evaluate
from triggers.durations import format_duration, parse_duration
from triggers.loader import load_rules, rule_files
from triggers.rule import Rule, rule_json_schema, rule_json_schema_text

ROOT = Path(__file__).resolve().parents[3]
CONDITION = TypeAdapter(Condition)


def test_published_schema_is_up_to_date():
    published = (ROOT / "schemas" / "rule.schema.json").read_text(encoding="utf-8")
    assert published == rule_json_schema_text(), "regenerate: retain rules schema --write schemas/rule.schema.json"


def test_example_rules_load_and_validate_against_the_published_schema():
    schema = json.loads((ROOT / "schemas" / "rule.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    for path in rule_files(ROOT / "rules"):
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)
    ruleset = load_rules(ROOT / "rules")
    kinds = {kind for rule in ruleset for kind in rule.signals}
    assert kinds == {"shipping_delay", "usage_drop", "checkout_idle"}


@pytest.mark.parametrize(
    "document",
    [
        {"schema_version": 1, "rules": [{"id": "x", "version": 1}]},  # missing signals, topic, action
        {"schema_version": 2, "rules": []},  # unknown format version
        {"rules": [], "surprise": True},  # unknown top-level key
    ],
)
def test_published_schema_rejects_what_the_model_rejects(document):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, rule_json_schema())


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("72h", 259200),
        ("7d", 604800),
        ("1w", 604800),
        ("1d12h", 129600),  # combined units add up
        (3600, 3600),  # bare integers are seconds
        ("0s", 0),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["3x", "h", "-5", "", "1.5h", True, -1])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration_round_trips_to_a_canonical_spelling():
    assert format_duration(parse_duration("72h")) == "3d"
    assert parse_duration(format_duration(dt.timedelta(days=1, minutes=5))) == dt.timedelta(days=1, minutes=5)


def test_bypass_caps_is_only_for_service_rules(make_rule):
    make_rule(topic="service", bypass_caps=True)
    with pytest.raises(ValidationError, match="bypass_caps"):
        make_rule(topic="marketing", bypass_caps=True)


def test_channels_must_not_repeat(make_rule):
    with pytest.raises(ValidationError, match="repeat"):
        make_rule(action={"channels": ["sms", "sms"], "brief": "x"})


CONTEXT = {
    "signal": {"slip_hours": 30, "reason": "eta_slip", "carrier": None, "flag": True},
    "customer": {"country": "US", "tier": "gold", "nested": {"level": 3}},
    "risk": {"probability": 0.42, "bucket": "medium"},
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "signal.slip_hours", "op": ">=", "value": 24}, True),
        ({"field": "signal.slip_hours", "op": ">=", "value": 30}, True),  # boundary is inclusive
        ({"field": "signal.slip_hours", "op": ">", "value": 30}, False),
        ({"field": "signal.slip_hours", "op": "<", "value": 31}, True),
        ({"field": "signal.slip_hours", "op": "<=", "value": 29.9}, False),
        ({"field": "risk.bucket", "op": "in", "value": ["high", "medium"]}, True),
        ({"field": "risk.bucket", "op": "not_in", "value": ["high", "medium"]}, False),
        ({"field": "customer.country", "op": "==", "value": "US"}, True),
        ({"field": "customer.country", "op": "!=", "value": "US"}, False),
        ({"field": "customer.nested.level", "op": "==", "value": 3}, True),  # dotted paths go deep
        ({"field": "signal.reason", "op": ">", "value": 1}, False),  # text vs number: false, no error
        ({"field": "signal.flag", "op": ">", "value": 0}, False),  # booleans are not numbers
        ({"field": "signal.nothing", "op": "==", "value": None}, False),  # missing is never equal
        ({"field": "signal.nothing", "op": "missing"}, True),
        ({"field": "signal.carrier", "op": "missing"}, True),  # null counts as missing
        ({"field": "signal.carrier", "op": "exists"}, False),
        ({"field": "signal.slip_hours", "op": "exists"}, True),
        ({"all": []}, True),  # empty all is vacuously true
        ({"all": [{"field": "risk.probability", "op": ">", "value": 0.4},
                  {"field": "customer.tier", "op": "==", "value": "gold"}]}, True),
        ({"all": [{"field": "risk.probability", "op": ">", "value": 0.5},
                  {"field": "customer.tier", "op": "==", "value": "gold"}]}, False),
        ({"any": [{"field": "risk.probability", "op": ">", "value": 0.5},
                  {"field": "customer.tier", "op": "==", "value": "gold"}]}, True),
        ({"not": {"field": "customer.country", "op": "==", "value": "US"}}, False),
        ({"not": {"any": [{"field": "signal.reason", "op": "==", "value": "exception"}]}}, True),
    ],
)
def test_conditions_evaluate(condition, expected):
    assert evaluate(CONDITION.validate_python(condition), CONTEXT) is expected


@pytest.mark.parametrize(
    "condition",
    [
        {"field": "__import__('os').system", "op": "==", "value": 1},  # not a dotted path: no code
        {"field": "os.environ", "op": "exists"},  # only signal/customer/risk roots
        {"field": "signal.x", "op": "~=", "value": 1},  # unknown operator
        {"field": "signal.x", "op": "in", "value": "abc"},  # in needs a list
        {"field": "signal.x", "op": ">", "value": "10"},  # ordering needs a number
        {"any": []},  # any of nothing is a mistake
        {"all": [{"field": "signal.x", "op": "==", "value": 1}], "extra": 1},
        "signal.x > 3",  # expressions as strings are not evaluated
    ],
)
def test_conditions_reject_unsafe_or_malformed_input(condition):
    with pytest.raises(ValidationError):
        CONDITION.validate_python(condition)


def test_rule_without_conditions_always_matches():
    assert evaluate(None, CONTEXT) is True


def test_rule_round_trips_through_its_canonical_form(make_rule):
    rule = make_rule(when={"all": [{"field": "signal.drop_pct", "op": ">=", "value": 50}]}, cooldown="72h")
    assert Rule.model_validate(rule.canonical()) == rule
