"""One message per (customer, rule, episode), and a per-rule cooldown between messages.

Windows are half-open, ``(now - cooldown, now]``: a send exactly ``cooldown`` ago no longer
blocks. Scheduled sends (``sent_at`` in the future) always block.
"""

from __future__ import annotations

import datetime as dt

from triggers.policy.contact_history import ContactHistory
from triggers.policy.reasons import ReasonCode
from triggers.rule import Rule


def episode_verdict(rule: Rule, episode_key: str, history: ContactHistory) -> ReasonCode | None:
    """ALREADY_SENT_FOR_EPISODE when this rule already sent (or scheduled) for this episode."""
    for send in history.sends:
        if send.rule_id == rule.id and send.episode_key == episode_key:
            return ReasonCode.ALREADY_SENT_FOR_EPISODE
    return None


def cooldown_verdict(rule: Rule, history: ContactHistory, now: dt.datetime) -> ReasonCode | None:
    """COOLDOWN when this rule sent to the customer within its cooldown before ``now``."""
    if rule.cooldown <= dt.timedelta(0):
        return None
    if any(send.rule_id == rule.id for send in history.since(now - rule.cooldown)):
        return ReasonCode.COOLDOWN
    return None
