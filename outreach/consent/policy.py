"""The send-time consent verdict and the suppression reasons; the rule itself is ``triggers.policy.consent``.

A global suppression of the contact point refuses every topic on that channel; the consent
store's rows and the upstream flags decide the rest exactly as they do at decision time.
"""

from __future__ import annotations

from collections.abc import Mapping

from triggers.policy.consent import ConsentStanding, ConsentStatus, consent_refusal, topics_to_check, upstream_states

SUPPRESSION_REASONS = frozenset({"hard_bounce", "spam_complaint", "carrier_opt_out", "sms_stop", "erased", "manual"})
# Suppressions the person can lift themselves (START after STOP); the others are permanent.
REVERSIBLE_SUPPRESSIONS = frozenset({"sms_stop"})


def send_verdict(
    *,
    channel: str,
    topic: str,
    states: Mapping[str, ConsentStatus | str],
    suppression: str | None,
    has_address: bool,
    marketing_email_requires_opt_in: bool = False,
) -> str | None:
    """None when a message may go out now, else the reason code the outbox records.

    >>> send_verdict(channel="sms", topic="marketing", states={}, suppression=None, has_address=True)
    'no_opt_in'
    >>> send_verdict(channel="email", topic="service", states={}, suppression="hard_bounce", has_address=True)
    'suppressed:hard_bounce'
    """
    refusal = consent_refusal(
        channel=channel, topic=topic, standing=ConsentStanding(states, suppression), has_contact_point=has_address,
        marketing_email_requires_opt_in=marketing_email_requires_opt_in,
    )
    return refusal.code if refusal is not None else None


def deciding_states(stored: Mapping[str, ConsentStatus], flags: Mapping[str, bool], channel: str,
                    topic: str) -> dict[str, ConsentStatus]:
    """The rows that decide ``topic`` on ``channel``: the store's ``stored`` rows, upstream ``flags`` where it is silent.

    >>> deciding_states({"*": ConsentStatus.OPTED_OUT, "other": ConsentStatus.OPTED_IN},
    ...                 {"email_service": True}, "email", "service")
    {'service': <ConsentStatus.OPTED_IN: 'opted_in'>, '*': <ConsentStatus.OPTED_OUT: 'opted_out'>}
    """
    relevant = topics_to_check(topic)
    upstream = upstream_states(flags, channel, topic)
    return {**upstream, **{t: status for t, status in stored.items() if t in relevant}}
