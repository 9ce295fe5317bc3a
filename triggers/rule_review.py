"""Which rule changes need a second person (four-eyes), decided once for the console and the reloader. Pure.

A change needs another person's approval when it can make the rule reach more customers, reach
them more often, on more channels, with a different message or with less human oversight:

- a new rule; enabling a rule;
- reacting to more signal kinds; conditions that are not the old ones with more added;
- a topic change (consent and caps follow the topic); a priority change (which rule wins);
- a shorter cooldown, a longer relevance, a smaller holdout, ``bypass_caps`` turned on;
- more or reordered channels; another brief or tone; a new or changed offer;
- ``requires_approval`` turned off.

Everything else applies at once, because it can only narrow what the rule does or does not touch
contact at all: the description, the goal (measurement only), the version number, disabling,
fewer signal kinds, conditions with one more requirement, a longer cooldown, a shorter relevance,
a larger holdout, ``bypass_caps`` off, fewer channels in the same order, fewer offers, and
``requires_approval`` on. Disabling in particular must never wait: it is the emergency brake.

>>> from triggers.rule import Rule
>>> old = Rule(id="r", version=1, signals=["usage_drop"], topic="marketing",
...            action={"channels": ["email"], "brief": "Check in."})
>>> review_change(old, old.model_copy(update={"description": "Say hello"})).needed
False
>>> review_change(old, old.model_copy(update={"enabled": False})).notes
('disables the rule',)
>>> review_change(old, Rule.model_validate({**old.canonical(), "cooldown": "1h"})).reasons
('contacts more often: cooldown 1d -> 1h',)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from triggers.conditions import AllOf, Condition
from triggers.durations import format_duration
from triggers.rule import Rule


@dataclass(frozen=True)
class Review:
    """Why a change needs a second person (``reasons``) and what else changed (``notes``)."""

    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def needed(self) -> bool:
        """True when a different approver must approve the change before it takes effect."""
        return bool(self.reasons)


def _requirements(condition: Condition | None) -> list[Condition]:
    if condition is None:
        return []
    return list(condition.all_) if isinstance(condition, AllOf) else [condition]


def conditions_narrow(old: Condition | None, new: Condition | None) -> bool:
    """True when ``new`` keeps every requirement of ``old`` (and may add more): it matches no one new."""
    if old == new:
        return True
    if new is None:
        return False
    new_requirements = _requirements(new)
    return all(requirement in new_requirements for requirement in _requirements(old))


def _subsequence(new: list[Any], old: list[Any]) -> bool:
    remaining = iter(old)
    return all(item in remaining for item in new)  # ``in`` on an iterator consumes it: order is kept


def review_change(old: Rule | None, new: Rule) -> Review:
    """The review a change from ``old`` (None: a new rule) to ``new`` needs."""
    if old is None:
        return Review(reasons=("a new rule",))
    reasons: list[str] = []
    notes: list[str] = []

    def check(changed: bool, widens: bool, reason: str, note: str) -> None:
        if changed:
            (reasons if widens else notes).append(reason if widens else note)

    check(old.enabled != new.enabled, new.enabled, "enables the rule", "disables the rule")
    added = sorted(set(new.signals) - set(old.signals))
    check(set(old.signals) != set(new.signals), bool(added), f"reacts to more signals: {', '.join(added)}",
          "reacts to fewer signals")
    check(old.when != new.when, not conditions_narrow(old.when, new.when), "widens or replaces its conditions",
          "adds a condition")
    check(old.topic != new.topic, True, f"changes the topic {old.topic} -> {new.topic}", "")
    check(old.priority != new.priority, True, f"changes the priority {old.priority} -> {new.priority}", "")
    check(old.cooldown != new.cooldown, new.cooldown < old.cooldown,
          f"contacts more often: cooldown {format_duration(old.cooldown)} -> {format_duration(new.cooldown)}", "a longer cooldown")
    check(old.relevance != new.relevance, new.relevance > old.relevance,
          f"acts on older signals: relevance {format_duration(old.relevance)} -> {format_duration(new.relevance)}", "a shorter relevance")
    check(old.holdout_pct != new.holdout_pct, new.holdout_pct < old.holdout_pct,
          f"holds out fewer customers: {old.holdout_pct:g} % -> {new.holdout_pct:g} %", "a larger holdout")
    check(old.bypass_caps != new.bypass_caps, new.bypass_caps, "bypasses the frequency caps",
          "respects the frequency caps")
    check(old.goal != new.goal, False, "", "changes the goal (measurement only)")
    check(old.description != new.description, False, "", "changes the description")
    before, after = old.action, new.action
    check(before.channels != after.channels, not _subsequence(after.channels, before.channels),
          f"channels {', '.join(before.channels)} -> {', '.join(after.channels)}", "fewer channels")
    check(before.brief != after.brief, True, "changes the message brief", "")
    check(before.tone != after.tone, True, "changes the message tone", "")
    check(before.offers != after.offers, not all(o in before.offers for o in after.offers),
          "offers something new: " + ", ".join(o.code for o in after.offers if o not in before.offers),
          "fewer offers")
    check(before.requires_approval != after.requires_approval, not after.requires_approval,
          "turns human approval of its drafts off", "turns human approval of its drafts on")
    return Review(reasons=tuple(reasons), notes=tuple(notes))
