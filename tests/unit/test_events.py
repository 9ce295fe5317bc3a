"""The event envelope: what is accepted, what is refused and where the error points."""

from __future__ import annotations

import json

import jsonschema
import pytest
from pydantic import ValidationError

from signals.events import EVENT_TYPES, event_to_dict, json_schema, parse_event, parse_events

T0 = "2026-11-22T10:00:00+00:00"


def envelope(type_: str, **properties) -> dict:
    return {"event_id": "e-1", "customer_id": "c-1", "type": type_, "occurred_at": T0, "properties": properties}


VALID = [
    envelope("customer.profile", first_name="Ada", email="ada@example.com", phone="+14155552671",
             time_zone="America/Los_Angeles", locale="en-US", consent={"sms_marketing": True}),
    envelope("order.placed", order_id="o-1", amount=42.5, promised_ship_by="2026-11-23T10:00:00Z",
             promised_delivery_by="2026-11-26T10:00:00Z"),
    envelope("order.shipped", order_id="o-1", carrier="UPS", estimated_delivery_at="2026-11-26T10:00:00Z"),
    envelope("shipment.updated", order_id="o-1", status="exception", exception_code="DAMAGED"),
    envelope("order.delivered", order_id="o-1"),
    envelope("order.cancelled", order_id="o-1"),
    envelope("product.usage", sessions=3, feature_counts={"reports": 2}, day="2026-11-21"),
    envelope("checkout.started", checkout_id="k-1", cart_value=19.0, items=2),
    envelope("checkout.activity", checkout_id="k-1", action="address_entered"),
    envelope("checkout.completed", checkout_id="k-1", order_id="o-2"),
    envelope("checkout.abandoned", checkout_id="k-1"),
    envelope("subscription.changed", subscription_id="s-1", plan="pro", previous_plan="basic"),
    envelope("subscription.cancelled", subscription_id="s-1", reason="too expensive"),
    envelope("message.sent", message_id="m-1", rule_id="late-shipment", channel="sms"),
    envelope("message.response", message_id="m-1", response="clicked"),
]


def test_every_event_type_has_a_valid_example():
    assert {e["type"] for e in VALID} == set(EVENT_TYPES)


@pytest.mark.parametrize("raw", VALID, ids=[e["type"] for e in VALID])
def test_valid_events_round_trip(raw):
    event = parse_event(raw)
    again = parse_event(event_to_dict(event))
    assert again == event
    assert parse_event(json.dumps(raw)) == event


@pytest.mark.parametrize("raw", VALID, ids=[e["type"] for e in VALID])
def test_published_schema_accepts_valid_events(raw):
    jsonschema.validate(raw, json_schema())


def _loc(raw) -> list[tuple]:
    with pytest.raises(ValidationError) as info:
        parse_event(raw)
    return [err["loc"] for err in info.value.errors()]


@pytest.mark.parametrize(
    ("raw", "expected_loc"),
    [
        # naive timestamps are ambiguous across time zones: refused
        ({**VALID[4], "occurred_at": "2026-11-22T10:00:00"}, ("order.delivered", "occurred_at")),
        ({**VALID[4], "customer_id": ""}, ("order.delivered", "customer_id")),
        ({**VALID[4], "event_id": None}, ("order.delivered", "event_id")),
        # a phone number must be E.164 and real
        (envelope("customer.profile", phone="4155552671"), ("customer.profile", "properties", "phone")),
        (envelope("customer.profile", phone="+1555"), ("customer.profile", "properties", "phone")),
        (envelope("customer.profile", time_zone="Mars/Olympus"), ("customer.profile", "properties", "time_zone")),
        (envelope("customer.profile", email="not-an-email"), ("customer.profile", "properties", "email")),
        (envelope("order.placed", order_id="o", amount=-1, promised_ship_by=T0, promised_delivery_by=T0),
         ("order.placed", "properties", "amount")),
        (envelope("order.placed", order_id="o", amount=1, promised_delivery_by=T0),
         ("order.placed", "properties", "promised_ship_by")),
        (envelope("shipment.updated", order_id="o", status="teleported"), ("shipment.updated", "properties", "status")),
        (envelope("product.usage", sessions=-2), ("product.usage", "properties", "sessions")),
    ],
)
def test_invalid_events_name_the_offending_field(raw, expected_loc):
    assert expected_loc in _loc(raw)


def test_unknown_type_is_refused_with_the_allowed_types():
    with pytest.raises(ValidationError) as info:
        parse_event(envelope("order.teleported"))
    assert "order.placed" in str(info.value)


def test_unknown_envelope_fields_are_refused_but_unknown_properties_kept():
    with pytest.raises(ValidationError):
        parse_event({**VALID[4], "colour": "red"})
    event = parse_event(envelope("order.delivered", order_id="o-1", signed_by="neighbour"))
    assert event_to_dict(event)["properties"]["signed_by"] == "neighbour"


def test_phone_is_normalised_to_e164():
    event = parse_event(envelope("customer.profile", phone="+1 (415) 555-2671"))
    assert event.properties.phone == "+14155552671"


def test_batch_errors_carry_the_index():
    with pytest.raises(ValidationError) as info:
        parse_events([VALID[4], {**VALID[4], "occurred_at": "yesterday"}])
    assert info.value.errors()[0]["loc"][0] == 1
