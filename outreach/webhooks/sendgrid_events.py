"""SendGrid event webhook payloads translated into retain's own delivery events (pure).

Each event keeps SendGrid's ``sg_event_id`` as its key, so a repeated delivery of the same event
changes nothing twice. ``message_id`` comes back from our ``custom_args``; the address is only
used to hash the contact point for a suppression and is not kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

STATUS_ONLY = frozenset({"processed", "deferred", "delivered", "open", "click", "dropped"})
KNOWN = STATUS_ONLY | {"bounce", "spamreport", "unsubscribe", "group_unsubscribe", "group_resubscribe"}


class InvalidProviderEvent(ValueError):
    """An event without the fields retain needs."""


@dataclass(frozen=True)
class EmailEvent:
    """One SendGrid event in retain's terms."""

    event_key: str
    kind: str
    message_id: str | None
    email: str | None
    occurred_at: dt.datetime
    suppression: str | None = None  # hard_bounce | spam_complaint
    consent_topic: str | None = None  # the topic a (re)subscription changes; "*" for all e-mail
    consent_status: str | None = None  # opted_out | opted_in

    def __repr__(self) -> str:  # no address in logs
        return f"EmailEvent(event_key={self.event_key!r}, kind={self.kind!r}, message_id={self.message_id!r})"


def group_topic(asm_group_id: Any, marketing_group_id: int | None) -> str:
    """The retain topic of a SendGrid unsubscribe group."""
    if marketing_group_id is not None and str(asm_group_id) == str(marketing_group_id):
        return "marketing"
    return f"marketing:group-{asm_group_id}"


def translate(raw: Mapping[str, Any], *, marketing_group_id: int | None = None) -> EmailEvent | None:
    """The event in retain's terms, or None for event types retain does not act on."""
    kind = raw.get("event")
    if kind not in KNOWN:
        return None
    event_id = raw.get("sg_event_id")
    if not isinstance(event_id, str) or not event_id:
        raise InvalidProviderEvent("sendgrid event without sg_event_id")
    try:
        occurred_at = dt.datetime.fromtimestamp(int(raw.get("timestamp", 0)), dt.timezone.utc)
    except (TypeError, ValueError) as exc:
        raise InvalidProviderEvent("sendgrid event with a bad timestamp") from exc
    base = dict(event_key=f"sendgrid:{event_id}", kind=kind, message_id=raw.get("message_id"),
                email=raw.get("email"), occurred_at=occurred_at)
    if kind == "bounce":
        # "blocked" is a temporary refusal by the receiving server; only a true bounce is permanent.
        hard = raw.get("type", "bounce") == "bounce"
        return EmailEvent(**base, suppression="hard_bounce" if hard else None)
    if kind == "spamreport":
        return EmailEvent(**base, suppression="spam_complaint", consent_topic="*", consent_status="opted_out")
    if kind == "unsubscribe":  # SendGrid's global unsubscribe stops all e-mail from this account
        return EmailEvent(**base, consent_topic="*", consent_status="opted_out")
    if kind in ("group_unsubscribe", "group_resubscribe"):
        status = "opted_out" if kind == "group_unsubscribe" else "opted_in"
        return EmailEvent(**base, consent_topic=group_topic(raw.get("asm_group_id"), marketing_group_id),
                          consent_status=status)
    return EmailEvent(**base)
