"""The consent rule, written once: decision time and send time both ask ``consent_refusal``.

Topics: ``service``, ``marketing``, or a named subscription group ``marketing:<group>`` (which
inherits everything of ``marketing``). A state row for topic ``*`` holds a channel-wide choice.
In this order, a message is refused when:

1. the channel has no contact point (no e-mail address, no valid phone)  ``no_contact_point``
2. the contact point is suppressed (bounce, complaint, STOP, erasure)    ``opted_out`` at decision
   time, ``suppressed:<why>`` in the outbox
3. an opt-out of the group, its base topic or the whole channel          ``opted_out``
4. marketing (or a marketing group) without a prior opt-in, on SMS       ``no_opt_in``
   always, on e-mail when ``marketing_email_requires_opt_in`` (opt-out based by default, as
   CAN-SPAM allows); ``service`` needs no opt-in.

Each side brings its own facts: the decision reads the upstream flags carried in the signal's
customer facts (``triggers.signal_context.UpstreamConsent``), the sender reads the consent store
and the suppression list (``outreach.consent.service``). Both hand them over as a
``ConsentStanding`` through the ``ConsentView`` port.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping, Protocol

from triggers.policy.config import PolicyConfig
from triggers.policy.reasons import ReasonCode
from triggers.policy.regions import is_valid_phone
from triggers.rule import Channel, Rule

ANY_TOPIC = "*"
# The topics upstream systems report consent for (flags ``email_marketing``, ``sms_service``, ...).
UPSTREAM_TOPICS = ("marketing", "service")


class ConsentStatus(str, Enum):
    """What the customer said about a channel and topic."""

    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"
    UNKNOWN = "unknown"


def base_topic(topic: str) -> str:
    """``marketing`` for ``marketing:newsletter``; the topic itself otherwise."""
    return topic.split(":", 1)[0]


def topics_to_check(topic: str) -> tuple[str, ...]:
    """The state rows that decide ``topic``: the group, its base topic, the whole channel."""
    return tuple(dict.fromkeys((topic, base_topic(topic), ANY_TOPIC)))


def effective_status(topic: str, states: Mapping[str, ConsentStatus | str]) -> ConsentStatus:
    """Opt-out anywhere up the chain wins; then any opt-in; else unknown."""
    found = [ConsentStatus(states[t]) for t in topics_to_check(topic) if t in states]
    if ConsentStatus.OPTED_OUT in found:
        return ConsentStatus.OPTED_OUT
    if ConsentStatus.OPTED_IN in found:
        return ConsentStatus.OPTED_IN
    return ConsentStatus.UNKNOWN


def needs_opt_in(channel: str, topic: str, *, marketing_email_requires_opt_in: bool = False) -> bool:
    """True when silence is not enough: marketing SMS always, marketing e-mail when configured."""
    if base_topic(topic) != "marketing":
        return False
    return channel == "sms" or marketing_email_requires_opt_in


@dataclass(frozen=True)
class ConsentStanding:
    """What one source knows about a customer's consent on one channel: state rows by topic, a suppression."""

    states: Mapping[str, ConsentStatus | str] = field(default_factory=dict)
    suppression: str | None = None  # why the contact point is suppressed (``hard_bounce``, ``sms_stop``, ...)


@dataclass(frozen=True)
class ConsentRefusal:
    """Why a message may not go out: the decision's reason code, and the suppression behind it if any."""

    reason: ReasonCode
    suppression: str | None = None

    @property
    def code(self) -> str:
        """The reason as the outbox records it: ``suppressed:<why>`` for a suppressed contact point."""
        return f"suppressed:{self.suppression}" if self.suppression else self.reason.value


def consent_refusal(
    *, channel: str, topic: str, standing: ConsentStanding, has_contact_point: bool,
    marketing_email_requires_opt_in: bool = False,
) -> ConsentRefusal | None:
    """None when a message on ``channel`` about ``topic`` may go out, else why not (see the module docstring).

    >>> consent_refusal(channel="sms", topic="marketing:news", standing=ConsentStanding(), has_contact_point=True)
    ConsentRefusal(reason=<ReasonCode.NO_OPT_IN: 'no_opt_in'>, suppression=None)
    """
    if not has_contact_point:
        return ConsentRefusal(ReasonCode.NO_CONTACT_POINT)
    if standing.suppression is not None:
        return ConsentRefusal(ReasonCode.OPTED_OUT, standing.suppression)
    status = effective_status(topic, standing.states)
    if status == ConsentStatus.OPTED_OUT:
        return ConsentRefusal(ReasonCode.OPTED_OUT)
    needed = needs_opt_in(channel, topic, marketing_email_requires_opt_in=marketing_email_requires_opt_in)
    if needed and status != ConsentStatus.OPTED_IN:
        return ConsentRefusal(ReasonCode.NO_OPT_IN)
    return None


class ConsentView(Protocol):
    """Read-only consent lookup: what a source knows about one customer, channel and topic."""

    def standing(self, customer_id: str, channel: str, topic: str) -> ConsentStanding:
        """The state rows that decide ``topic`` on ``channel`` (``topics_to_check``) and any suppression."""
        ...


class ConsentSource(ABC):
    """A ``ConsentView`` that also answers with one effective status (for pages and tests)."""

    @abstractmethod
    def standing(self, customer_id: str, channel: str, topic: str) -> ConsentStanding:
        """The state rows that decide ``topic`` on ``channel`` and any suppression."""

    def status(self, customer_id: str, channel: str, topic: str) -> ConsentStatus:
        """The effective status; a suppressed contact point reads as opted out."""
        standing = self.standing(customer_id, channel, topic)
        if standing.suppression is not None:
            return ConsentStatus.OPTED_OUT
        return effective_status(topic, standing.states)


class InMemoryConsent(ConsentSource):
    """A ``ConsentView`` over a dict of ``(customer, channel, topic) -> status``; topic ``"*"`` is channel-wide.

    >>> consent = InMemoryConsent({("c1", "sms", "*"): "opted_out"})
    >>> consent.status("c1", "sms", "service").value
    'opted_out'
    """

    def __init__(self, entries: Mapping[tuple[str, str, str], ConsentStatus | str] | None = None):
        self._entries = {key: ConsentStatus(value) for key, value in (entries or {}).items()}

    def set(self, customer_id: str, channel: str, topic: str, status: ConsentStatus | str) -> None:
        """Record a choice (topic ``"*"`` for the whole channel)."""
        self._entries[(customer_id, channel, topic)] = ConsentStatus(status)

    def standing(self, customer_id: str, channel: str, topic: str) -> ConsentStanding:
        """The recorded rows up the topic chain."""
        found = {t: self._entries.get((customer_id, channel, t)) for t in topics_to_check(topic)}
        return ConsentStanding({t: status for t, status in found.items() if status is not None})


def upstream_flag(channel: str, topic: str) -> str | None:
    """The upstream consent flag that speaks for (channel, topic), e.g. ``sms_marketing``; None for groups and ``*``."""
    return f"{channel}_{topic}" if topic in UPSTREAM_TOPICS else None


def upstream_states(flags: Mapping[str, bool | None], channel: str, topic: str) -> dict[str, ConsentStatus]:
    """The state rows upstream flags give for the topics that decide ``topic`` (True in, False out, absent unknown)."""
    states = {}
    for candidate in topics_to_check(topic):
        flag = upstream_flag(channel, candidate)
        value = flags.get(flag) if flag else None
        if value is not None:
            states[candidate] = ConsentStatus.OPTED_IN if value else ConsentStatus.OPTED_OUT
    return states


def has_contact_point(customer: Mapping[str, Any], channel: Channel) -> bool:
    """True when the customer facts hold an address for the channel."""
    if channel == "email":
        return bool(customer.get("email") or customer.get("has_email"))
    phone = customer.get("phone")
    return isinstance(phone, str) and bool(phone) and is_valid_phone(phone)


def channel_verdict(
    customer_id: str, customer: Mapping[str, Any], channel: Channel, topic: str,
    consent: ConsentView, config: PolicyConfig,
) -> ReasonCode | None:
    """None when the channel may carry this topic to this customer, else the reason it may not."""
    refusal = consent_refusal(
        channel=channel, topic=topic, standing=consent.standing(customer_id, channel, topic),
        has_contact_point=has_contact_point(customer, channel),
        marketing_email_requires_opt_in=config.marketing_email_requires_opt_in,
    )
    return refusal.reason if refusal is not None else None


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
