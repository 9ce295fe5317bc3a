"""The trigger rule: which signal it reacts to, when, what to say, and how often.

A rule file is YAML validated against ``schemas/rule.schema.json`` (generated from ``RuleFile``;
regenerate with ``retain rules schema --write schemas/rule.schema.json``)::

    # yaml-language-server: $schema=../schemas/rule.schema.json
    schema_version: 1
    rules:
      - id: shipping-delay-notice
        version: 2
        signals: [shipping_delay]
        when:
          all:
            - {field: signal.slip_hours, op: ">=", value: 24}
            - {field: risk.bucket, op: in, value: [high, medium]}
        topic: service            # service: needs no opt-in, honours opt-out; marketing: needs consent
        priority: 100             # the highest priority wins when several rules match at once
        cooldown: 72h             # no second message from this rule to this customer within 72 h
        relevance: 48h            # the signal stays worth acting on for 48 h after detection
        holdout_pct: 5            # 5 % of customers (deterministic slice) are recorded, never messaged
        goal:                     # what counts as success when results compare sent vs holdout
          events: [order.placed]  # any of these event types...
          within: 30d             # ...within 30 days of the send (or of the holdout decision)
        bypass_caps: true         # service only: skip the marketing frequency caps
        action:
          channels: [email, sms]  # preference order
          brief: Tell the customer the parcel is late and when it should arrive.
          tone: apologetic, plain
          offers: []              # the drafter may mention these offers and nothing else
          requires_approval: false
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from signals.events import GOAL_EVENT_TYPES
from signals.signal import SignalKind
from triggers.conditions import UPLIFT_FIELD, Condition, fields_of
from triggers.durations import Duration

RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
MAX_RULE_VERSION = 2_147_483_647  # stored in SQL INTEGER columns (rule_versions, decisions)
SCHEMA_ID = "urn:retain:schemas:rule:1"

Channel = Literal["email", "sms"]
Topic = Literal["service", "marketing"]

# A goal may name any event type the projection keeps for measurement (see signals.goal_events).
GoalEvent = Literal[GOAL_EVENT_TYPES]  # type: ignore[valid-type]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Offer(_Strict):
    """An offer the drafter may mention; anything not listed must not appear in the message."""

    code: str = Field(min_length=1, max_length=64)
    description: str = Field(min_length=1, max_length=500)


class Action(_Strict):
    """What to send: channels in preference order and the drafter's brief."""

    channels: list[Channel] = Field(min_length=1, description="preference order; the first allowed one is used")
    brief: str = Field(min_length=1, max_length=2000, description="what the message should achieve")
    tone: str = Field(default="friendly, plain", max_length=200)
    offers: list[Offer] = Field(default_factory=list)
    requires_approval: bool = False

    @model_validator(mode="after")
    def _channels_unique(self) -> "Action":
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels must not repeat")
        return self


class Goal(_Strict):
    """The outcome a rule aims for: any of ``events`` within ``within`` of the send (or holdout decision)."""

    events: list[GoalEvent] = Field(min_length=1, description="event types that count as reaching the goal")
    within: Duration = Field(description="how long after the send (or the holdout decision) the goal may happen")

    @model_validator(mode="after")
    def _valid(self) -> "Goal":
        if len(set(self.events)) != len(self.events):
            raise ValueError("goal events must not repeat")
        if self.within <= dt.timedelta(0):
            raise ValueError("goal within must be longer than 0s")
        return self


# A rule without a goal is measured by the next order: soon after a marketing nudge, within a
# month after a service notice (retention, not an immediate sale, is what a notice protects).
DEFAULT_GOALS: dict[str, Goal] = {
    "marketing": Goal(events=["order.placed"], within="7d"),
    "service": Goal(events=["order.placed"], within="30d"),
}


class Rule(_Strict):
    """One trigger rule (see the module docstring for an annotated example)."""

    id: str = Field(pattern=RULE_ID_PATTERN, description="stable id, lower case; unique across all files")
    version: int = Field(ge=1, le=MAX_RULE_VERSION, description="bump on every change; stored on each decision")
    description: str = ""
    enabled: bool = True
    signals: list[SignalKind] = Field(min_length=1, description="signal kinds this rule reacts to")
    when: Condition | None = Field(default=None, description="conditions; absent = always")
    topic: Topic
    priority: int = Field(default=0, ge=-1000, le=1000)
    cooldown: Duration = Field(default="1d", validate_default=True)
    relevance: Duration = Field(default="1d", validate_default=True, description="how long the signal stays relevant")
    holdout_pct: float = Field(default=0.0, ge=0, le=100)
    bypass_caps: bool = Field(default=False, description="service rules only: skip marketing frequency caps")
    goal: Goal | None = Field(default=None, description="what results measure; absent = the topic's default")
    action: Action

    @model_validator(mode="after")
    def _bypass_only_for_service(self) -> "Rule":
        if self.bypass_caps and self.topic != "service":
            raise ValueError("bypass_caps is only allowed for topic service")
        if self.relevance <= dt.timedelta(0):
            raise ValueError("relevance must be longer than 0s")
        if self.holdout_pct <= 0 and UPLIFT_FIELD in fields_of(self.when):
            # Targeting by uplift without a holdout would stop measuring the effect the model learns from.
            raise ValueError(f"a rule whose conditions use {UPLIFT_FIELD} must keep a holdout: set holdout_pct "
                             "above 0 (e.g. 5) so its effect stays measurable and the uplift model keeps learning")
        return self

    @property
    def effective_goal(self) -> Goal:
        """The rule's goal, or the default goal of its topic when it names none."""
        return self.goal or DEFAULT_GOALS[self.topic]

    def canonical(self) -> dict[str, Any]:
        """JSON-able content of the rule, stable across spellings (for fingerprints and diffs)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=False)


class RuleFile(_Strict):
    """One YAML rule file: a format version and a list of rules."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="retain trigger rules")

    schema_version: Literal[1] = 1
    rules: list[Rule] = Field(default_factory=list)


def rule_json_schema() -> dict[str, Any]:
    """The published JSON Schema of a rule file (what ``schemas/rule.schema.json`` holds)."""
    schema = RuleFile.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def rule_json_schema_text() -> str:
    """The schema as the exact text written to ``schemas/rule.schema.json``."""
    return json.dumps(rule_json_schema(), indent=2, sort_keys=True) + "\n"
