"""The contact policy: the fixed order of checks between a matched rule and a message.

Input is plain data (the signal, the rules it matched, customer facts, contact history, a
consent view, ``now`` and a ``PolicyConfig``); output is one ``Verdict`` per matched rule. The
first step that stops a rule gives its outcome and reason code; later steps do not run.

Per matched rule, in this order (outcome / reason code):

1. relevance       ``expired`` / ``relevance_passed``: ``now`` is at or after
                   ``signal.detected_at + rule.relevance``.
2. episode         ``suppressed`` / ``already_sent_for_episode``: this rule already sent (or
                   scheduled) a message for this episode; one message per (customer, rule, episode).
3. cooldown        ``suppressed`` / ``cooldown``: this rule messaged the customer within
                   ``rule.cooldown`` (window ``(now - cooldown, now]``).
4. consent         ``suppressed`` / ``no_contact_point`` | ``opted_out`` | ``no_opt_in``: no
                   channel in the rule's preference order is allowed; the first allowed channel
                   is chosen otherwise (the reason is the first preferred channel's).
5. caps            ``suppressed`` / ``frequency_cap`` | ``regional_cap``: one more message on the
                   chosen channel would exceed a rolling cap, or a region's same-subject limit
                   (skipped for service rules with ``bypass_caps``).

Among the rules that pass 1-5 (the eligible ones):

6. conflicts       ``superseded`` / ``superseded``: only the highest priority rule (tie: lowest
                   rule id) speaks for a signal; the others are recorded as superseded. Rules
                   stopped by 1-5 do not block lower-priority ones, so a missing marketing opt-in
                   never silences a service notice.
7. holdout         ``holdout`` / ``holdout``: the customer is in the winner's deterministic holdout
                   slice; recorded, never messaged (and no lower-priority rule speaks instead,
                   so the holdout group measures "no message at all").
8. quiet hours     ``defer`` / ``quiet_hours`` with ``defer_until`` = the next allowed moment in
                   the recipient's local time; ``expired`` / ``expired_in_quiet_hours`` when
                   that moment is at or after the end of relevance; ``suppressed`` /
                   ``no_send_window`` when no moment is allowed within ``defer_horizon``.
9. engage          ``engage`` / ``eligible``.

When no rule matched at all, ``decide`` stores one ``suppressed`` / ``no_rule_matched`` record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from signals.signal import Signal
from triggers.policy.config import DailyWindow, FrequencyCap, PolicyConfig, RegionalRule
from triggers.policy.conflicts import rank, resolve_conflicts
from triggers.policy.consent import ConsentStanding, ConsentStatus, ConsentView, InMemoryConsent, choose_channel
from triggers.policy.contact_history import ContactHistory, PastSend
from triggers.policy.cooldown import cooldown_verdict, episode_verdict
from triggers.policy.frequency_caps import cap_verdict
from triggers.policy.holdout import holdout_position, in_holdout
from triggers.policy.quiet_hours import earliest_send
from triggers.policy.reasons import Outcome, ReasonCode
from triggers.policy.regions import recipient_regions
from triggers.rule import Channel, Rule

__all__ = [
    "ConsentStanding", "ConsentStatus", "ConsentView", "ContactHistory", "DailyWindow", "FrequencyCap", "InMemoryConsent",
    "Outcome", "PastSend", "PolicyConfig", "ReasonCode", "RegionalRule", "Verdict", "apply_policy",
    "holdout_position", "in_holdout",
]


@dataclass(frozen=True)
class Verdict:
    """The policy's answer for one matched rule."""

    rule: Rule
    outcome: Outcome
    reason: ReasonCode
    expires_at: dt.datetime
    channel: Channel | None = None
    defer_until: dt.datetime | None = None
    detail: str = ""


def _eligibility(
    rule: Rule, signal: Signal, customer: Mapping[str, Any], regions: set[str], history: ContactHistory,
    consent: ConsentView, now: dt.datetime, config: PolicyConfig, expires_at: dt.datetime,
) -> Verdict | Channel:
    # Steps 1-5: a Verdict when the rule is stopped, else the channel it would use.
    if now >= expires_at:
        return Verdict(rule, Outcome.EXPIRED, ReasonCode.RELEVANCE_PASSED, expires_at)
    reason = episode_verdict(rule, signal.episode_key, history) or cooldown_verdict(rule, history, now)
    if reason is not None:
        return Verdict(rule, Outcome.SUPPRESSED, reason, expires_at)
    channel, reason, detail = choose_channel(rule, signal.customer_id, customer, consent, config)
    if channel is None:
        return Verdict(rule, Outcome.SUPPRESSED, reason or ReasonCode.NO_CONTACT_POINT, expires_at, detail=detail)
    reason, detail = cap_verdict(rule, channel, history, now, config, regions)
    if reason is not None:
        return Verdict(rule, Outcome.SUPPRESSED, reason, expires_at, channel=channel, detail=detail)
    return channel


def _timing(
    rule: Rule, channel: Channel, customer: Mapping[str, Any], regions: set[str], now: dt.datetime,
    config: PolicyConfig, expires_at: dt.datetime,
) -> Verdict:
    # Steps 8-9 for the winning rule once it is past the holdout.
    at, detail = earliest_send(channel, customer, regions, now, config)
    if at is None:
        return Verdict(rule, Outcome.SUPPRESSED, ReasonCode.NO_SEND_WINDOW, expires_at, channel, detail=detail)
    if at >= expires_at:
        return Verdict(rule, Outcome.EXPIRED, ReasonCode.EXPIRED_IN_QUIET_HOURS, expires_at, channel, at, detail)
    if at > now:
        return Verdict(rule, Outcome.DEFER, ReasonCode.QUIET_HOURS, expires_at, channel, at, detail)
    return Verdict(rule, Outcome.ENGAGE, ReasonCode.ELIGIBLE, expires_at, channel)


def apply_policy(
    *, signal: Signal, rules: Iterable[Rule], customer: Mapping[str, Any], history: ContactHistory,
    consent: ConsentView, now: dt.datetime, config: PolicyConfig,
) -> list[Verdict]:
    """Run the ordered policy over the rules a signal matched; one verdict per rule, in rank order."""
    regions = recipient_regions(customer)
    ranked = rank(rules)
    verdicts: dict[str, Verdict] = {}
    eligible: dict[str, Channel] = {}
    for rule in ranked:
        expires_at = signal.detected_at + rule.relevance
        result = _eligibility(rule, signal, customer, regions, history, consent, now, config, expires_at)
        if isinstance(result, Verdict):
            verdicts[rule.id] = result
        else:
            eligible[rule.id] = result
    winner, others = resolve_conflicts(r for r in ranked if r.id in eligible)
    for rule in others:
        verdicts[rule.id] = Verdict(
            rule, Outcome.SUPERSEDED, ReasonCode.SUPERSEDED, signal.detected_at + rule.relevance,
            eligible[rule.id], detail=f"by {winner.id}" if winner else "",
        )
    if winner is not None:
        expires_at = signal.detected_at + winner.relevance
        channel = eligible[winner.id]
        if in_holdout(signal.customer_id, winner):
            verdicts[winner.id] = Verdict(winner, Outcome.HOLDOUT, ReasonCode.HOLDOUT, expires_at, channel)
        else:
            verdicts[winner.id] = _timing(winner, channel, customer, regions, now, config, expires_at)
    return [verdicts[rule.id] for rule in ranked]
