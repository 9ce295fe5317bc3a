"""Frequency caps over rolling windows, per channel and across channels, plus regional caps.

Boundary: a window of length W at ``now`` is ``(now - W, now]`` plus any scheduled sends after
``now``; a send exactly W ago has left the window. With the default "1 SMS per 24 h", an SMS at
09:00 yesterday blocks until 08:59:59.999 today and allows another at 09:00 sharp.

Service rules with ``bypass_caps`` skip both the configured caps and the regional "same
subject" cap (those laws address telephone solicitation, not service notices). Every send,
service or marketing, counts toward the caps of later messages.
"""

from __future__ import annotations

import datetime as dt

from triggers.policy.config import PolicyConfig
from triggers.policy.contact_history import ContactHistory
from triggers.policy.reasons import ReasonCode
from triggers.rule import Channel, Rule

SAME_SUBJECT_WINDOW = dt.timedelta(hours=24)


def cap_verdict(
    rule: Rule, channel: Channel, history: ContactHistory, now: dt.datetime, config: PolicyConfig,
    regions: set[str],
) -> tuple[ReasonCode | None, str]:
    """None when one more message on ``channel`` stays within every cap, else reason and detail."""
    if rule.bypass_caps and rule.topic == "service":
        return None, ""
    for cap in config.caps:
        if cap.channel not in (None, channel):
            continue
        sent = [s for s in history.since(now - cap.window) if cap.channel is None or s.channel == cap.channel]
        if len(sent) >= cap.max_messages:
            scope = cap.channel or "all channels"
            return ReasonCode.FREQUENCY_CAP, f"{len(sent)} of {cap.max_messages} on {scope} within {cap.window}"
    if channel == "sms":
        # "Same subject" is read as "same rule": one rule is one campaign about one thing.
        for region in sorted(regions):
            regional = config.regions.get(region)
            if regional is None or regional.max_same_subject_per_24h is None:
                continue
            same = [s for s in history.since(now - SAME_SUBJECT_WINDOW) if s.rule_id == rule.id]
            if len(same) >= regional.max_same_subject_per_24h:
                return ReasonCode.REGIONAL_CAP, f"{region}: {len(same)} messages on this subject within 24h"
    return None, ""
