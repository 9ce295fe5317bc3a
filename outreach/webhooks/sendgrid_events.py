"""SendGrid event webhook payloads translated into retain's own delivery events (pure).

Each event keeps SendGrid's ``sg_event_id`` as its key, so a repeated delivery of the same event
changes nothing twice. ``message_id`` comes back from our ``custom_args``; the address is only
used to hash the contact point for a suppression and is not kept. The fields retain uses are
checked (type, length, a timestamp a datetime can hold) before anything reads them: a signed
batch is still outside input, and a bad field is named in the ``InvalidProviderEvent``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# 9999-12-31T23:59:59Z: the last second a datetime holds (later ones overflow).
MAX_TIMESTAMP = 253_402_300_799
STATUS_ONLY = frozenset({"processed", "deferred", "delivered", "open", "click", "dropped"})
KNOWN = STATUS_ONLY | {"bounce", "spamreport", "unsubscribe", "group_unsubscribe", "group_resubscribe"}


class InvalidProviderEvent(ValueError):
    """An event without the fields retain needs, or with one of them malformed (``problems`` names them)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


class RawEmailEvent(BaseModel):
    """The fields of a SendGrid event that retain reads, as SendGrid documents them (others are ignored)."""

    model_config = ConfigDict(extra="ignore")

    sg_event_id: str = Field(min_length=1, max_length=100)  # stored as "sendgrid:<id>" in a 200-character key
    timestamp: int = Field(ge=0, le=MAX_TIMESTAMP)
    message_id: str | None = Field(default=None, max_length=64)  # ours, from custom_args: 32 hex characters
    email: str | None = Field(default=None, max_length=320)  # RFC 5321's longest address
    asm_group_id: int | None = None
    type: str | None = Field(default=None, max_length=32)  # a bounce's kind: bounce | blocked


def _problems(exc: ValidationError, where: str) -> list[str]:
    return [f"{where}.{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors(include_url=False)]


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


def translate(raw: Mapping[str, Any], *, marketing_group_id: int | None = None,
              where: str = "event") -> EmailEvent | None:
    """The event in retain's terms, or None for event types retain does not act on.

    ``InvalidProviderEvent`` names each malformed field as ``{where}.{field}``.
    """
    kind = raw.get("event")
    if not isinstance(kind, str):
        raise InvalidProviderEvent([f"{where}.event: must be a string naming the event type"])
    if kind not in KNOWN:
        return None
    try:
        fields = RawEmailEvent.model_validate(raw)
    except ValidationError as exc:
        raise InvalidProviderEvent(_problems(exc, where)) from None
    base = dict(event_key=f"sendgrid:{fields.sg_event_id}", kind=kind, message_id=fields.message_id,
                email=fields.email, occurred_at=dt.datetime.fromtimestamp(fields.timestamp, dt.timezone.utc))
    if kind == "bounce":
        # "blocked" is a temporary refusal by the receiving server; only a true bounce is permanent.
        hard = (fields.type or "bounce") == "bounce"
        return EmailEvent(**base, suppression="hard_bounce" if hard else None)
    if kind == "spamreport":
        return EmailEvent(**base, suppression="spam_complaint", consent_topic="*", consent_status="opted_out")
    if kind == "unsubscribe":  # SendGrid's global unsubscribe stops all e-mail from this account
        return EmailEvent(**base, consent_topic="*", consent_status="opted_out")
    if kind in ("group_unsubscribe", "group_resubscribe"):
        if fields.asm_group_id is None:
            raise InvalidProviderEvent([f"{where}.asm_group_id: required for {kind}"])
        status = "opted_out" if kind == "group_unsubscribe" else "opted_in"
        return EmailEvent(**base, consent_topic=group_topic(fields.asm_group_id, marketing_group_id),
                          consent_status=status)
    return EmailEvent(**base)
