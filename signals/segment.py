"""Segment Spec messages (``track`` and ``identify``) mapped to retain's event envelope. Pure.

Decisions, so Segment users know what to send:

- ``messageId`` becomes ``event_id``: Segment retries keep it, so a retried message is the same
  event and consumers de-duplicate it.
- ``userId`` becomes ``customer_id`` and is required. ``anonymousId`` alone is refused: outreach
  needs a known customer with a profile, and an anonymous id would split one person into two
  partitions keys. Send ``identify`` (or include ``userId``) once the visitor is known.
- ``timestamp`` (Segment's corrected event time), else ``originalTimestamp``, becomes
  ``occurred_at``; neither -> error. ``sentAt``/``receivedAt`` are transport times, not event times.
- ``track``: the event name is looked up in ``TRACK_EVENT_TYPES`` (a name that already is a
  retain type, such as ``order.placed``, passes as is); unknown names are errors naming the event,
  never silently dropped. ``properties`` are kept, and Segment e-commerce fields fill retain's
  (``total``/``revenue`` -> ``amount``, ``len(products)`` -> ``items``...) when retain's are absent.
- ``identify``: only the traits in ``IDENTIFY_TRAITS`` are taken (plus ``context.timezone`` and
  ``context.locale``); other traits stay in Segment, so addresses and the like do not spread.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from signals.events import EVENT_TYPES

SEGMENT_SOURCE = "segment"
SUPPORTED_CALLS = ("track", "identify")
SEGMENT_CALLS = ("track", "identify", "page", "screen", "group", "alias")

# Segment event name -> retain event type (names from the Segment e-commerce and mobile specs
# where one exists; the order lifecycle ones are common practice).
TRACK_EVENT_TYPES: dict[str, str] = {
    "Order Completed": "order.placed",
    "Order Shipped": "order.shipped",
    "Order Delivered": "order.delivered",
    "Order Cancelled": "order.cancelled",
    "Checkout Started": "checkout.started",
    "Checkout Step Viewed": "checkout.activity",
    "Checkout Step Completed": "checkout.activity",
    "Payment Info Entered": "checkout.activity",
    "Checkout Abandoned": "checkout.abandoned",
    "Subscription Changed": "subscription.changed",
    "Subscription Cancelled": "subscription.cancelled",
    "App Opened": "product.usage",
    "Feature Used": "product.usage",
}

# retain customer.profile field -> Segment trait names, first present wins.
IDENTIFY_TRAITS: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "phone": ("phone",),
    "first_name": ("firstName", "first_name"),
    "last_name": ("lastName", "last_name"),
    "time_zone": ("timezone", "time_zone", "timeZone"),
    "locale": ("locale",),
    "plan": ("plan",),
    "signed_up_at": ("createdAt", "created_at"),
    "consent": ("consent",),
}

# envelope field -> the Segment field it came from, to point errors at what the client sent.
_SEGMENT_FIELD = {"event_id": "messageId", "customer_id": "userId", "occurred_at": "timestamp"}


class SegmentError(ValueError):
    """A Segment message that cannot become a retain event; ``loc`` names the Segment field."""

    def __init__(self, loc: tuple[str | int, ...], msg: str):
        super().__init__(f"{'.'.join(map(str, loc))}: {msg}")
        self.loc = loc
        self.msg = msg


def is_segment_message(body: Any) -> bool:
    """True when ``body`` is a Segment call (its ``type`` is a Segment call and it has a messageId)."""
    return isinstance(body, Mapping) and body.get("type") in SEGMENT_CALLS and "messageId" in body


def _first(mapping: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if mapping.get(name) is not None:
            return mapping[name]
    return None


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _count_products(props: dict[str, Any]) -> None:
    if "items" not in props and isinstance(props.get("products"), list) and props["products"]:
        props["items"] = len(props["products"])


def _order_placed(props: dict[str, Any], _name: str) -> None:
    if "amount" not in props:
        amount = _first(props, ("total", "revenue", "value"))
        if amount is not None:
            props["amount"] = amount
    _count_products(props)


def _checkout(props: dict[str, Any], _name: str) -> None:
    if "checkout_id" not in props and props.get("order_id") is not None:
        props["checkout_id"] = props["order_id"]  # Segment's checkout events carry the order id


def _checkout_started(props: dict[str, Any], name: str) -> None:
    _checkout(props, name)
    if "cart_value" not in props:
        value = _first(props, ("value", "revenue", "total"))
        if value is not None:
            props["cart_value"] = value
    _count_products(props)


def _checkout_activity(props: dict[str, Any], name: str) -> None:
    _checkout(props, name)
    props.setdefault("action", _snake(name))


def _product_usage(props: dict[str, Any], name: str) -> None:
    if name == "Feature Used" and isinstance(props.get("feature"), str) and "feature_counts" not in props:
        props["feature_counts"] = {props["feature"]: 1}


_PROPERTY_FILLERS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "order.placed": _order_placed,
    "checkout.started": _checkout_started,
    "checkout.activity": _checkout_activity,
    "checkout.abandoned": _checkout,
    "product.usage": _product_usage,
}


def track_event_type(name: Any) -> str:
    """The retain type of a Segment ``track`` event name; SegmentError when there is none."""
    if isinstance(name, str):
        if name in EVENT_TYPES:
            return name
        if name in TRACK_EVENT_TYPES:
            return TRACK_EVENT_TYPES[name]
    known = ", ".join(sorted(TRACK_EVENT_TYPES))
    raise SegmentError(("event",), f"track event {name!r} has no retain event type; known names: {known}")


def _envelope(message: Mapping[str, Any], type_: str, properties: dict[str, Any]) -> dict[str, Any]:
    user_id = message.get("userId")
    if user_id is None or user_id == "":
        raise SegmentError(
            ("userId",),
            "userId is required: retain only accepts events of known customers (anonymousId alone is refused)",
        )
    occurred_at = _first(message, ("timestamp", "originalTimestamp"))
    if occurred_at is None:
        raise SegmentError(("timestamp",), "timestamp (or originalTimestamp) is required")
    return {
        "event_id": message.get("messageId"),
        "customer_id": str(user_id) if isinstance(user_id, int) else user_id,
        "type": type_,
        "occurred_at": occurred_at,
        "source": SEGMENT_SOURCE,
        "properties": properties,
    }


def _track(message: Mapping[str, Any]) -> dict[str, Any]:
    name = message.get("event")
    type_ = track_event_type(name)
    raw = message.get("properties") or {}
    if not isinstance(raw, Mapping):
        raise SegmentError(("properties",), "properties must be an object")
    props = dict(raw)
    filler = _PROPERTY_FILLERS.get(type_)
    if filler is not None:
        filler(props, name)
    return _envelope(message, type_, props)


def _address_fields(traits: Mapping[str, Any]) -> dict[str, Any]:
    address = traits.get("address")
    if not isinstance(address, Mapping):
        return {}
    out: dict[str, Any] = {}
    country = address.get("country")
    if isinstance(country, str):
        out["country"] = country.upper() if len(country) == 2 else country
        state = address.get("state")
        if len(country) == 2 and isinstance(state, str) and 1 <= len(state) <= 3:
            out["region"] = f"{country.upper()}-{state.upper()}"  # ISO 3166-2, e.g. US-FL
    return out


def _identify(message: Mapping[str, Any]) -> dict[str, Any]:
    traits = message.get("traits") or {}
    if not isinstance(traits, Mapping):
        raise SegmentError(("traits",), "traits must be an object")
    context = message.get("context") or {}
    props: dict[str, Any] = {}
    for field, names in IDENTIFY_TRAITS.items():
        value = _first(traits, names)
        if value is not None:
            props[field] = value
    props.update({k: v for k, v in _address_fields(traits).items() if k not in props})
    if isinstance(context, Mapping):
        # Segment's libraries fill context.timezone / context.locale from the device.
        for field, key in (("time_zone", "timezone"), ("locale", "locale")):
            if field not in props and context.get(key) is not None:
                props[field] = context[key]
    return _envelope(message, "customer.profile", props)


def segment_to_envelope(message: Any) -> dict[str, Any]:
    """Map one Segment ``track``/``identify`` message to a retain event dict (not yet validated)."""
    if not isinstance(message, Mapping):
        raise SegmentError((), "a Segment message must be a JSON object")
    call = message.get("type")
    if call == "track":
        return _track(message)
    if call == "identify":
        return _identify(message)
    raise SegmentError(("type",), f"Segment call {call!r} is not supported; send one of {', '.join(SUPPORTED_CALLS)}")


def segment_loc(loc: tuple[str | int, ...], message: Mapping[str, Any]) -> tuple[str | int, ...]:
    """Translate an envelope error location into the Segment field the client sent."""
    if not loc:
        return loc
    head, rest = loc[0], tuple(loc[1:])
    if head == "properties" and message.get("type") == "identify":
        return _identify_loc(rest, message)
    if head == "occurred_at" and message.get("timestamp") is None:
        return ("originalTimestamp", *rest)
    return (_SEGMENT_FIELD.get(str(head), head), *rest)


def _identify_loc(rest: tuple[str | int, ...], message: Mapping[str, Any]) -> tuple[str | int, ...]:
    if not rest or rest[0] not in IDENTIFY_TRAITS:
        return ("traits", *rest)
    traits = message.get("traits") or {}
    for name in IDENTIFY_TRAITS[str(rest[0])]:
        if isinstance(traits, Mapping) and traits.get(name) is not None:
            return ("traits", name, *rest[1:])
    if rest[0] in ("time_zone", "locale"):
        return ("context", "timezone" if rest[0] == "time_zone" else "locale", *rest[1:])
    return ("traits", *rest)
