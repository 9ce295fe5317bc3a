"""Consent per (customer, channel, topic) and the choice of channel it allows.

Rules: an opt-out always wins. ``service`` messages need no opt-in (they honour opt-out);
``marketing`` SMS needs a prior opt-in; ``marketing`` e-mail needs one only when
``PolicyConfig.marketing_email_requires_opt_in`` is set (opt-out based by default, as CAN-SPAM
allows). A channel without a contact point (no e-mail address, no valid phone) is not allowed.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Mapping, Protocol

from triggers.policy.config import PolicyConfig
from triggers.policy.reasons import ReasonCode
from triggers.policy.regions import is_valid_phone
from triggers.rule import Channel, Rule, Topic

ANY_TOPIC = "*"


class ConsentStatus(str, Enum):
    """What the customer said about a channel and topic."""

    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"
    UNKNOWN = "unknown"


class ConsentView(Protocol):
    """Read-only consent lookup; the outreach consent store implements it."""

    def status(self, customer_id: str, channel: Channel, topic: Topic) -> ConsentStatus:
        """The customer's consent for this channel and topic."""
        ...


class InMemoryConsent:
    """A ``ConsentView`` over a dict; topic ``"*"`` holds a channel-wide choice.

    >>> consent = InMemoryConsent({("c1", "sms", "*"): "opted_out"})
    >>> consent.status("c1", "sms", "service").value
    'opted_out'
    """

    def __init__(self, entries: Mapping[tuple[str, str, str], ConsentStatus | str] | None = None):
        self._entries = {key: ConsentStatus(value) for key, value in (entries or {}).items()}

    def set(self, customer_id: str, channel: Channel, topic: str, status: ConsentStatus | str) -> None:
        """Record a choice (topic ``"*"`` for the whole channel)."""
        self._entries[(customer_id, channel, topic)] = ConsentStatus(status)

    def status(self, customer_id: str, channel: Channel, topic: Topic) -> ConsentStatus:
        """Opt-out of the topic or of the whole channel wins; then any opt-in; else unknown."""
        found = {
            self._entries.get((customer_id, channel, topic)),
            self._entries.get((customer_id, channel, ANY_TOPIC)),
        }
        if ConsentStatus.OPTED_OUT in found:
            return ConsentStatus.OPTED_OUT
        if ConsentStatus.OPTED_IN in found:
            return ConsentStatus.OPTED_IN
        return ConsentStatus.UNKNOWN


def has_contact_point(customer: Mapping[str, Any], channel: Channel) -> bool:
    """True when the customer facts hold an address for the channel."""
    if channel == "email":
        return bool(customer.get("email") or customer.get("has_email"))
    phone = customer.get("phone")
    return isinstance(phone, str) and bool(phone) and is_valid_phone(phone)


def channel_verdict(
    customer_id: str, customer: Mapping[str, Any], channel: Channel, topic: Topic,
    consent: ConsentView, config: PolicyConfig,
) -> ReasonCode | None:
    """None when the channel may carry this topic to this customer, else the reason it may not."""
    if not has_contact_point(customer, channel):
        return ReasonCode.NO_CONTACT_POINT
    status = consent.status(customer_id, channel, topic)
    if status == ConsentStatus.OPTED_OUT:
        return ReasonCode.OPTED_OUT
    needs_opt_in = topic == "marketing" and (channel == "sms" or config.marketing_email_requires_opt_in)
    if needs_opt_in and status != ConsentStatus.OPTED_IN:
        return ReasonCode.NO_OPT_IN
    return None


def choose_channel(
    rule: Rule, customer_id: str, customer: Mapping[str, Any], consent: ConsentView, config: PolicyConfig,
) -> tuple[Channel | None, ReasonCode | None, str]:
    """The first allowed channel in the rule's preference order, or None with the reason.

    When no channel is allowed the reason is the first preferred channel's; ``detail`` lists all.
    """
    refusals: list[tuple[Channel, ReasonCode]] = []
    for channel in rule.action.channels:
        reason = channel_verdict(customer_id, customer, channel, rule.topic, consent, config)
        if reason is None:
            return channel, None, ""
        refusals.append((channel, reason))
    detail = "; ".join(f"{channel}: {reason.value}" for channel, reason in refusals)
    return None, refusals[0][1], detail
