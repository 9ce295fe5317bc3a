"""The drafting request as plain data, and the pure function that builds it from a decision.

A ``DraftRequest`` is the one input from brief to guardrails: the rule's brief, tone and allowed
offers, the signal's facts and the customer's first name and locale as the decision saw them
(``Decision.snapshot``), the top risk drivers, and what the message must fit: the only links it
may carry and its length limits. Contact details (last name, e-mail address, phone number, postal
address) are kept apart in ``PrivateFacts``: they never reach a drafter, the personal-data
guardrail uses them to catch a leak.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from infra.settings import MessageFramingSettings

Channel = Literal["email", "sms"]
Topic = Literal["service", "marketing"]

# Signal attributes that become facts, per signal kind; everything else stays out of the prompt.
_DATE_FACTS = {
    "promised_delivery_by": "promised_delivery_date",
    "estimated_delivery_at": "new_delivery_date",
    "promised_ship_by": "promised_ship_date",
    "shipped_at": "shipped_date",
}
_PLAIN_FACTS = (
    "order_id", "amount", "currency", "items", "carrier", "slip_hours", "exception_code",
    "checkout_id", "cart_value", "drop_pct", "recent_days",
)


@dataclass(frozen=True)
class GuardrailLimits:
    """The length bounds a message must fit; the SMS segment cap is configured (``sms_max_segments``)."""

    sms_max_segments: int = 2
    email_subject_max: int = 100
    email_preheader_max: int = 150
    email_body_min: int = 40
    email_body_max: int = 3000

    @classmethod
    def from_settings(cls, framing: MessageFramingSettings) -> "GuardrailLimits":
        """``sms_max_segments`` from the message framing settings; the e-mail bounds at their defaults."""
        return cls(sms_max_segments=framing.sms_max_segments)


@dataclass(frozen=True)
class OfferRef:
    """An offer the message may mention (copied from the rule's allowlist)."""

    code: str
    description: str


@dataclass(frozen=True)
class PrivateFacts:
    """Contact details that must never appear in a message (and never go to a drafter)."""

    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None

    def values(self) -> list[str]:
        """The non-empty values, for leak detection and prompt redaction."""
        return [v for v in (self.last_name, self.email, self.phone, self.address) if v]


@dataclass(frozen=True)
class DraftRequest:
    """Everything a drafter needs for one message; plain data, JSON-able through ``data_block``."""

    channel: Channel
    topic: Topic
    rule_id: str
    brief: str
    tone: str
    signal_kind: str
    signal_reason: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)
    offers: tuple[OfferRef, ...] = ()
    first_name: str | None = None
    locale: str = "en"
    drivers: tuple[str, ...] = ()
    private: PrivateFacts = field(default_factory=PrivateFacts)
    message_ref: str = ""  # the outbox idempotency key, for tracing only
    unsubscribe_url: str | None = None  # the e-mail footer's link (a marketing e-mail must have one)
    allowed_links: tuple[str, ...] = ()  # the only links the message may carry: the system's own
    limits: GuardrailLimits = field(default_factory=GuardrailLimits)

    @property
    def language(self) -> str:
        """Two-letter language of the locale (``de-AT`` -> ``de``)."""
        return (self.locale or "en").replace("_", "-").split("-")[0].lower() or "en"

    def data_block(self) -> dict[str, Any]:
        """The upstream data a drafter may use, as one JSON-able dict (sent as data, never as instructions)."""
        return {
            "customer": {"first_name": self.first_name, "locale": self.locale},
            "signal": {"kind": self.signal_kind, "reason": self.signal_reason, "facts": dict(self.facts)},
            "risk_drivers": list(self.drivers),
            "allowed_offers": [{"code": o.code, "description": o.description} for o in self.offers],
        }


def _local_date(value: Any, tz: dt.tzinfo) -> str | None:
    # Dates are shown in the customer's time zone: a parcel due 23:00 UTC is "tomorrow" in Berlin.
    if value in (None, ""):
        return None
    moment = dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        return moment.date().isoformat()
    return moment.astimezone(tz).date().isoformat()


def _zone(name: Any) -> dt.tzinfo:
    try:
        return ZoneInfo(str(name)) if name else dt.timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        return dt.timezone.utc


def signal_facts(attributes: Mapping[str, Any], time_zone: str | None = None) -> dict[str, Any]:
    """The message-relevant facts of a signal's attributes, dates as local ISO dates."""
    tz = _zone(time_zone)
    facts: dict[str, Any] = {key: attributes[key] for key in _PLAIN_FACTS if attributes.get(key) is not None}
    if isinstance(facts.get("slip_hours"), float):
        facts["slip_hours"] = round(facts["slip_hours"], 1)
    for source, name in _DATE_FACTS.items():
        date = _local_date(attributes.get(source), tz)
        if date:
            facts[name] = date
    return facts


def build_draft_request(
    *, decision: Any, action: Any, private: PrivateFacts, limits: GuardrailLimits,
    unsubscribe_url: str | None = None, allowed_links: tuple[str, ...] = (), channel: Channel | None = None,
) -> DraftRequest:
    """The drafting request for a ``Decision`` (read from its ``snapshot``) and the rule's ``Action``.

    ``private`` are the recipient's contact details (for the leak check only); ``channel``
    overrides the decision's channel. Raises ``ValueError`` for a decision without a snapshot.
    """
    snapshot = decision.snapshot
    if snapshot is None:
        raise ValueError(f"decision {decision.decision_id} carries no snapshot to draft from")
    chosen = channel or decision.channel or action.channels[0]
    topic = decision.topic or "service"
    return DraftRequest(
        channel=chosen,
        topic=topic,
        rule_id=decision.rule_id or "",
        brief=action.brief,
        tone=action.tone,
        signal_kind=decision.signal_kind,
        signal_reason=snapshot.signal_reason,
        facts=signal_facts(snapshot.signal_attributes, snapshot.time_zone),
        offers=tuple(OfferRef(code=o.code, description=o.description) for o in action.offers),
        first_name=snapshot.first_name or None,
        locale=snapshot.locale or "en",
        drivers=tuple(name for name, _ in decision.drivers[:3]),
        private=private,
        message_ref=decision.idempotency_key or "",
        unsubscribe_url=unsubscribe_url,
        allowed_links=tuple(dict.fromkeys(link for link in (unsubscribe_url, *allowed_links) if link)),
        limits=limits,
    )
