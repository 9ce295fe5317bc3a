"""Consent defaults and the send-time verdict, pure: the same rules as the decision-time policy.

Topics: ``service``, ``marketing``, or a named subscription group ``marketing:<group>`` (which
inherits the ``marketing`` defaults). ``*`` holds a channel-wide choice. An opt-out of the group,
its base topic or the whole channel wins; service needs no opt-in; marketing SMS needs a recorded
prior opt-in; marketing e-mail needs one only when configured. A global suppression of the
contact point refuses every topic on that channel.
"""

from __future__ import annotations

from collections.abc import Mapping

from triggers.policy.consent import ANY_TOPIC, ConsentStatus

OPTED_IN, OPTED_OUT, UNKNOWN = ConsentStatus.OPTED_IN, ConsentStatus.OPTED_OUT, ConsentStatus.UNKNOWN

SUPPRESSION_REASONS = frozenset({"hard_bounce", "spam_complaint", "carrier_opt_out", "sms_stop", "erased", "manual"})
# Suppressions the person can lift themselves (START after STOP); the others are permanent.
REVERSIBLE_SUPPRESSIONS = frozenset({"sms_stop"})


def base_topic(topic: str) -> str:
    """``marketing`` for ``marketing:newsletter``; the topic itself otherwise."""
    return topic.split(":", 1)[0]


def topics_to_check(topic: str) -> tuple[str, ...]:
    """The state rows that decide ``topic``: the group, its base topic, the whole channel."""
    ordered = dict.fromkeys((topic, base_topic(topic), ANY_TOPIC))
    return tuple(ordered)


def effective_status(topic: str, states: Mapping[str, ConsentStatus | str]) -> ConsentStatus:
    """Opt-out anywhere up the chain wins; then the most specific opt-in; else unknown."""
    found = [ConsentStatus(states[t]) for t in topics_to_check(topic) if t in states]
    if OPTED_OUT in found:
        return OPTED_OUT
    if OPTED_IN in found:
        return OPTED_IN
    return UNKNOWN


def needs_opt_in(channel: str, topic: str, *, marketing_email_requires_opt_in: bool = False) -> bool:
    """True when silence is not enough: marketing SMS always, marketing e-mail when configured."""
    if base_topic(topic) != "marketing":
        return False
    return channel == "sms" or marketing_email_requires_opt_in


def send_verdict(
    *,
    channel: str,
    topic: str,
    states: Mapping[str, ConsentStatus | str],
    suppression: str | None,
    has_address: bool,
    marketing_email_requires_opt_in: bool = False,
) -> str | None:
    """None when a message may go out now, else the reason it may not.

    >>> send_verdict(channel="sms", topic="marketing", states={}, suppression=None, has_address=True)
    'no_opt_in'
    """
    if not has_address:
        return "no_contact_point"
    if suppression is not None:
        return f"suppressed:{suppression}"
    status = effective_status(topic, states)
    if status == OPTED_OUT:
        return "opted_out"
    if status != OPTED_IN and needs_opt_in(channel, topic, marketing_email_requires_opt_in=marketing_email_requires_opt_in):
        return "no_opt_in"
    return None
