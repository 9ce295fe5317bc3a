"""Segment track/identify -> retain envelope mapping (pure, table-driven)."""

from __future__ import annotations

import datetime as dt

import pydantic
import pytest

from signals.events import parse_event
from signals.segment import (
    TRACK_EVENT_TYPES,
    SegmentError,
    is_segment_message,
    segment_loc,
    segment_to_envelope,
)

TS = "2026-11-22T10:00:00.000Z"


def track(event: str, properties: dict | None = None, **extra) -> dict:
    return {"type": "track", "messageId": "m-1", "userId": "u-1", "event": event, "timestamp": TS,
            "properties": properties or {}, **extra}


def identify(traits: dict, **extra) -> dict:
    return {"type": "identify", "messageId": "m-2", "userId": "u-1", "timestamp": TS, "traits": traits, **extra}


SHIP = {"promised_ship_by": "2026-11-23T10:00:00Z", "promised_delivery_by": "2026-11-25T10:00:00Z"}


@pytest.mark.parametrize(
    ("message", "type_", "expected_props"),
    [
        # Segment's total becomes amount; the products list counts the items
        (track("Order Completed", {"order_id": "o1", "total": 30.5, "products": [{}, {}], **SHIP}),
         "order.placed", {"order_id": "o1", "amount": 30.5, "items": 2}),
        # revenue is the fallback when total is missing; an explicit amount is never overwritten
        (track("Order Completed", {"order_id": "o1", "revenue": 9, **SHIP}), "order.placed", {"amount": 9}),
        (track("Order Completed", {"order_id": "o1", "amount": 1, "total": 9, **SHIP}), "order.placed", {"amount": 1}),
        # checkout events carry order_id in Segment; it identifies the checkout
        (track("Checkout Started", {"order_id": "k1", "value": 12}), "checkout.started",
         {"checkout_id": "k1", "cart_value": 12}),
        (track("Checkout Step Viewed", {"checkout_id": "k1", "step": 2}), "checkout.activity",
         {"checkout_id": "k1", "action": "checkout_step_viewed"}),
        (track("Payment Info Entered", {"checkout_id": "k1"}), "checkout.activity", {"action": "payment_info_entered"}),
        (track("Feature Used", {"feature": "export"}), "product.usage", {"feature_counts": {"export": 1}}),
        (track("App Opened"), "product.usage", {"sessions": 1}),
        # a retain type name passes straight through
        (track("order.delivered", {"order_id": "o1"}), "order.delivered", {"order_id": "o1"}),
        # identify: camelCase traits, device time zone and locale from context
        (identify({"email": "a@example.com", "firstName": "Ada", "plan": "pro"},
                  context={"timezone": "Europe/Berlin", "locale": "de-DE"}),
         "customer.profile",
         {"email": "a@example.com", "first_name": "Ada", "plan": "pro", "time_zone": "Europe/Berlin", "locale": "de-DE"}),
        # snake_case traits and an address with a two-letter country become country and region
        (identify({"first_name": "Bo", "phone": "+14155550123", "address": {"country": "us", "state": "fl"}}),
         "customer.profile", {"first_name": "Bo", "phone": "+14155550123", "country": "US", "region": "US-FL"}),
        # traits win over context; consent flags pass through
        (identify({"timezone": "America/New_York", "consent": {"sms_marketing": False}},
                  context={"timezone": "Europe/Berlin"}),
         "customer.profile", {"time_zone": "America/New_York", "consent": {"sms_marketing": False}}),
    ],
)
def test_mapped_messages_become_valid_events(message, type_, expected_props):
    envelope = segment_to_envelope(message)
    event = parse_event(envelope)
    assert (event.type, event.event_id, event.customer_id, event.source) == (type_, message["messageId"], "u-1", "segment")
    dumped = event.properties.model_dump(exclude_none=True)
    for key, value in expected_props.items():
        assert dumped[key] == value, key


def test_identify_keeps_only_known_traits():
    envelope = segment_to_envelope(identify({"email": "a@example.com", "address": {"street": "1 Main St"}, "age": 40}))
    assert set(envelope["properties"]) == {"email"}


def test_original_timestamp_is_the_fallback_event_time():
    message = track("App Opened")
    del message["timestamp"]
    message["originalTimestamp"] = "2026-11-22T09:00:00+01:00"
    expected = dt.datetime(2026, 11, 22, 8, tzinfo=dt.timezone.utc)  # 09:00+01:00 is 08:00 UTC
    assert parse_event(segment_to_envelope(message)).occurred_at == expected


@pytest.mark.parametrize(
    ("message", "loc", "needle"),
    [
        # unknown track names are refused, naming the event
        (track("Product Viewed"), ("event",), "Product Viewed"),
        # anonymous-only messages are refused
        ({**track("App Opened"), "userId": None, "anonymousId": "a-1"}, ("userId",), "anonymousId"),
        ({k: v for k, v in track("App Opened").items() if k != "timestamp"}, ("timestamp",), "required"),
        ({**track("App Opened"), "type": "page"}, ("type",), "page"),
        (track("App Opened", properties=None) | {"properties": [1]}, ("properties",), "object"),
    ],
)
def test_unmappable_messages_raise_with_the_segment_field(message, loc, needle):
    with pytest.raises(SegmentError) as info:
        segment_to_envelope(message)
    assert info.value.loc == loc
    assert needle in info.value.msg


@pytest.mark.parametrize(
    ("message", "envelope_loc", "expected"),
    [
        (track("Order Completed", {}), ("properties", "order_id"), ("properties", "order_id")),
        (identify({"timezone": "Mars/Base"}), ("properties", "time_zone"), ("traits", "timezone")),
        (identify({}, context={"locale": "??"}), ("properties", "locale"), ("context", "locale")),
        (track("App Opened"), ("event_id",), ("messageId",)),
        (track("App Opened"), ("occurred_at",), ("timestamp",)),
    ],
)
def test_validation_errors_point_at_segment_fields(message, envelope_loc, expected):
    assert segment_loc(envelope_loc, message) == expected


def test_invalid_traits_fail_validation_after_mapping():
    with pytest.raises(pydantic.ValidationError):
        parse_event(segment_to_envelope(identify({"timezone": "Mars/Base"})))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (track("App Opened"), True),
        (identify({}), True),
        ({"type": "order.placed", "event_id": "e"}, False),  # our envelope: dotted type, no messageId
        ({"type": "track"}, False),  # no messageId: not claimed as Segment
        ([track("App Opened")], False),
    ],
)
def test_is_segment_message(body, expected):
    assert is_segment_message(body) is expected


def test_every_mapped_type_is_a_retain_type():
    from signals.events import EVENT_TYPES

    assert set(TRACK_EVENT_TYPES.values()) <= set(EVENT_TYPES)
