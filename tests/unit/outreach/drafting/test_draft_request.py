"""Building the drafting request from a decision (with its snapshot), the rule's action and contact details."""

from __future__ import annotations

import datetime as dt

import pytest

from outreach.drafting.brief import GuardrailLimits, PrivateFacts, build_draft_request, signal_facts
from signals.signal import Signal
from triggers.decision import Decision, DecisionSnapshot, Outcome, ReasonCode
from triggers.rule import Action, Offer

NOW = dt.datetime(2026, 11, 22, 15, tzinfo=dt.timezone.utc)
SIGNAL = Signal(
    kind="shipping_delay", customer_id="c1", episode_key="shipping_delay:c1:O-1001", detected_at=NOW,
    reason="eta_slip",
    attributes={
        "order_id": "O-1001", "amount": 49.9, "currency": "EUR", "items": 2, "carrier": "DHL",
        "promised_delivery_by": "2026-11-22T18:00:00+00:00",
        "estimated_delivery_at": "2026-11-25T23:30:00+00:00",  # 00:30 on the 26th in Berlin
        "promised_ship_by": "2026-11-20T12:00:00+00:00", "shipped_at": None, "slip_hours": 77.5123,
        "reason": "eta_slip",
    },
)
ACTION = Action(channels=["email", "sms"], brief="Apologise and give the new date.", tone="warm",
                offers=[Offer(code="SORRY10", description="10 % off the next order")])
CUSTOMER = {"first_name": "Anna", "locale": "de-DE", "time_zone": "Europe/Berlin"}
PRIVATE = PrivateFacts(last_name="Schmidt", email="anna@example.org", phone="+4915112345678")
LIMITS = GuardrailLimits()


def _decision(**overrides) -> Decision:
    values = dict(
        decision_id="d1", signal_id=SIGNAL.signal_id, signal_kind="shipping_delay", episode_key=SIGNAL.episode_key,
        customer_id="c1", rule_id="shipping-delay-goodwill", rule_version=1, topic="marketing",
        outcome=Outcome.ENGAGE, reason=ReasonCode.ELIGIBLE, channel="email", idempotency_key="k1",
        drivers=(("days_since_order", 0.3), ("late_orders_90d", 0.2), ("tenure_days", -0.1), ("extra", 0.01)),
        decided_at=NOW, snapshot=DecisionSnapshot.of(SIGNAL, CUSTOMER),
    )
    return Decision(**{**values, **overrides})


def test_built_from_decision_signal_action_and_customer():
    request = build_draft_request(decision=_decision(), action=ACTION, private=PRIVATE, limits=LIMITS)
    assert (request.channel, request.topic, request.rule_id) == ("email", "marketing", "shipping-delay-goodwill")
    assert (request.brief, request.tone) == (ACTION.brief, "warm")
    assert [(o.code, o.description) for o in request.offers] == [("SORRY10", "10 % off the next order")]
    assert (request.first_name, request.locale, request.language) == ("Anna", "de-DE", "de")
    assert request.drivers == ("days_since_order", "late_orders_90d", "tenure_days")  # the top three
    assert request.facts["new_delivery_date"] == "2026-11-26"  # in the customer's time zone
    assert request.facts["promised_delivery_date"] == "2026-11-22"
    assert request.facts["slip_hours"] == 77.5
    assert "shipped_date" not in request.facts  # not shipped: no fact invented
    assert request.message_ref == "k1"


def test_contact_details_stay_out_of_the_data_block():
    request = build_draft_request(decision=_decision(), action=ACTION, private=PRIVATE, limits=LIMITS)
    block = repr(request.data_block())
    for secret in ("Schmidt", "anna@example.org", "+4915112345678"):
        assert secret not in block
    assert request.private.values() == ["Schmidt", "anna@example.org", "+4915112345678"]


@pytest.mark.parametrize(
    ("decision_channel", "override", "expected"),
    [("sms", None, "sms"), (None, None, "email"), ("email", "sms", "sms")],  # decision, else the action's first
)
def test_channel(decision_channel, override, expected):
    request = build_draft_request(decision=_decision(channel=decision_channel), action=ACTION, private=PRIVATE,
                                  limits=LIMITS, channel=override)
    assert request.channel == expected


def test_missing_customer_facts_default_to_english_without_a_name():
    request = build_draft_request(decision=_decision(snapshot=DecisionSnapshot.of(SIGNAL, {})), action=ACTION,
                                  private=PrivateFacts(), limits=LIMITS)
    assert (request.first_name, request.locale, request.facts["new_delivery_date"]) == (None, "en", "2026-11-25")


def test_unknown_time_zone_falls_back_to_utc():
    assert signal_facts(SIGNAL.attributes, "Mars/Olympus")["new_delivery_date"] == "2026-11-25"
