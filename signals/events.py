"""The event envelope and the typed payload of every event type retain understands.

Every event on the ``events`` topic is one JSON object::

    {"event_id": "...", "customer_id": "...", "type": "order.placed",
     "occurred_at": "2026-11-22T10:00:00+00:00", "properties": {...}}

``event_id`` de-duplicates (upstream retries are harmless), ``customer_id`` is the partition key,
``occurred_at`` is event time (timezone-aware, required) and ``properties`` is validated against
the payload model of ``type``. ``parse_event`` is the single entry point; it raises
``pydantic.ValidationError`` whose ``loc`` names the offending field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import phonenumbers
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
)

Id = Annotated[str, Field(min_length=1, max_length=128)]
# Pydantic reads "999...9" into any size of int; JSON encoders and BIGINT columns stop at 64 bits.
MAX_INT64 = 2**63 - 1
Money = Annotated[float, Field(ge=0)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class _Payload(BaseModel):
    # Upstream systems add fields we do not know yet; keep them rather than reject the event.
    # NaN and infinities are not JSON: refuse them even when sent as strings ("Infinity").
    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)


class ConsentFlags(_Payload):
    """Consent as the upstream system knows it; ``None`` means unknown, not "no"."""

    email_marketing: bool | None = None
    sms_marketing: bool | None = None
    email_service: bool | None = None
    sms_service: bool | None = None


class CustomerProfile(_Payload):
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, description="E.164, for example +14155550123")
    time_zone: str | None = Field(default=None, description="IANA name, for example Europe/Berlin")
    locale: str | None = Field(default=None, pattern=r"^[a-z]{2,3}([-_][A-Za-z]{2,4})?$")
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    region: str | None = Field(default=None, max_length=8, description="ISO 3166-2 subdivision, e.g. US-FL")
    plan: str | None = Field(default=None, max_length=64)
    signed_up_at: AwareDatetime | None = None
    consent: ConsentFlags = ConsentFlags()

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith("+"):
            raise ValueError("phone must be E.164 (start with + and the country code)")
        try:
            parsed = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException as exc:
            raise ValueError(f"phone is not a valid number: {exc}") from None
        if not phonenumbers.is_valid_number(parsed):
            raise ValueError("phone is not a valid number")
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    @field_validator("time_zone")
    @classmethod
    def _iana(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class OrderPlaced(_Payload):
    order_id: Id
    amount: Money
    currency: Currency = "USD"
    items: int = Field(default=1, ge=1, le=MAX_INT64)
    promised_ship_by: AwareDatetime
    promised_delivery_by: AwareDatetime


class OrderShipped(_Payload):
    order_id: Id
    carrier: str | None = None
    tracking_number: str | None = None
    estimated_delivery_at: AwareDatetime | None = None


class ShipmentUpdated(_Payload):
    order_id: Id
    status: Literal["in_transit", "eta_changed", "out_for_delivery", "exception"]
    estimated_delivery_at: AwareDatetime | None = None
    exception_code: str | None = None
    description: str | None = Field(default=None, max_length=500)


class OrderDelivered(_Payload):
    order_id: Id


class OrderCancelled(_Payload):
    order_id: Id
    reason: str | None = None


class ProductUsage(_Payload):
    """Usage counted over one period (a session, or a day when ``day`` is set)."""

    sessions: int = Field(default=1, ge=0, le=MAX_INT64)
    feature_counts: dict[str, Annotated[int, Field(ge=0, le=MAX_INT64)]] = Field(default_factory=dict)
    day: dt.date | None = None


class CheckoutStarted(_Payload):
    checkout_id: Id
    cart_value: Money = 0.0
    currency: Currency = "USD"
    items: int = Field(default=1, ge=0, le=MAX_INT64)


class CheckoutActivity(_Payload):
    checkout_id: Id
    action: str = Field(default="activity", max_length=64)


class CheckoutCompleted(_Payload):
    checkout_id: Id
    order_id: str | None = None


class CheckoutAbandoned(_Payload):
    checkout_id: Id


class SubscriptionChanged(_Payload):
    subscription_id: Id
    plan: str
    previous_plan: str | None = None
    monthly_amount: Money | None = None


class SubscriptionCancelled(_Payload):
    subscription_id: Id
    reason: str | None = Field(default=None, max_length=500)


class MessageSent(_Payload):
    """Fed back by outreach so features can count prior messages."""

    message_id: Id
    rule_id: str
    channel: Literal["email", "sms"]


class MessageResponse(_Payload):
    """A customer's reaction to a message: opened, clicked, replied, converted, opted_out, complained."""

    message_id: Id
    response: Literal["opened", "clicked", "replied", "converted", "opted_out", "complained"]


PAYLOADS: dict[str, type[_Payload]] = {
    "customer.profile": CustomerProfile,
    "order.placed": OrderPlaced,
    "order.shipped": OrderShipped,
    "shipment.updated": ShipmentUpdated,
    "order.delivered": OrderDelivered,
    "order.cancelled": OrderCancelled,
    "product.usage": ProductUsage,
    "checkout.started": CheckoutStarted,
    "checkout.activity": CheckoutActivity,
    "checkout.completed": CheckoutCompleted,
    "checkout.abandoned": CheckoutAbandoned,
    "subscription.changed": SubscriptionChanged,
    "subscription.cancelled": SubscriptionCancelled,
    "message.sent": MessageSent,
    "message.response": MessageResponse,
}
EVENT_TYPES: tuple[str, ...] = tuple(PAYLOADS)
# Event types a rule may name as its goal ("did the customer do X after the message?"). Left out,
# so the goal-event table stays bounded: profile updates (projected into ``customers``), checkout
# heartbeats (many per session) and retain's own ``message.sent``.
NOT_GOAL_TYPES: frozenset[str] = frozenset({"customer.profile", "checkout.activity", "message.sent"})
GOAL_EVENT_TYPES: tuple[str, ...] = tuple(t for t in EVENT_TYPES if t not in NOT_GOAL_TYPES)


class _Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    event_id: Id
    customer_id: Id
    occurred_at: AwareDatetime
    source: str | None = Field(default=None, max_length=64)


def _event_class(type_name: str, payload: type[_Payload]) -> type[_Envelope]:
    name = "".join(part.capitalize() for part in type_name.replace(".", "_").split("_")) + "Event"
    return type(
        name,
        (_Envelope,),
        {
            "__annotations__": {"type": Literal[type_name], "properties": payload},  # type: ignore[valid-type]
            "__module__": __name__,
            "properties": Field(default_factory=payload),
        },
    )


EVENT_CLASSES: dict[str, type[_Envelope]] = {t: _event_class(t, p) for t, p in PAYLOADS.items()}

Event = Annotated[Union[tuple(EVENT_CLASSES.values())], Field(discriminator="type")]  # type: ignore[valid-type]
_EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(Event)
_EVENT_LIST_ADAPTER: TypeAdapter[Any] = TypeAdapter(list[Event])


def parse_event(raw: dict[str, Any] | str | bytes) -> Any:
    """Validate one event (a dict or JSON text); raises ``pydantic.ValidationError``."""
    if isinstance(raw, (str, bytes)):
        return _EVENT_ADAPTER.validate_json(raw)
    return _EVENT_ADAPTER.validate_python(raw)


def parse_events(raw: list[dict[str, Any]]) -> list[Any]:
    """Validate a batch; errors carry the index of the offending event in ``loc``."""
    return _EVENT_LIST_ADAPTER.validate_python(raw)


def event_to_dict(event: Any) -> dict[str, Any]:
    """The JSON-ready form of an event (what goes on the wire and into files)."""
    return event.model_dump(mode="json", exclude_none=True)


def event_to_json(event: Any) -> bytes:
    """The event as compact, standard JSON (UTF-8; orjson never writes NaN, Infinity or lone surrogates)."""
    return orjson.dumps(event_to_dict(event))


def json_schema() -> dict[str, Any]:
    """The published JSON Schema of one event (the discriminated union of all types)."""
    schema = _EVENT_ADAPTER.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "retain event"
    return schema
