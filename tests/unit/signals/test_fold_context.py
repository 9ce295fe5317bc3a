"""Signals carry the customer's facts and feature values as of detection (ARCHITECTURE: one fold)."""

from __future__ import annotations

import json

from detector_events import T0, Tick, at, ev, run

from signals import features
from signals.customer_fold import CustomerFold, fold_profile


def _idle_checkout_script(profile_props: dict) -> list:
    return [
        ev("customer.profile", at(0), **profile_props),
        ev("order.placed", at(10), order_id="o1", amount=30.0,
           promised_ship_by=at(days=1), promised_delivery_by=at(days=3)),
        ev("checkout.started", at(60), checkout_id="k1", cart_value=80.0),
        Tick(at(60 + 90 + 30)),
    ]


def test_signal_context_has_profile_facts_and_every_feature():
    state, signals = run(CustomerFold(), _idle_checkout_script(
        {"first_name": "Ada", "email": "ada@example.com", "phone": "+13055550123",
         "time_zone": "America/New_York", "region": "US-FL", "consent": {"sms_marketing": True}}))
    assert [s.kind for s in signals] == ["checkout_idle"]
    context = signals[0].context
    assert context["customer"]["time_zone"] == "America/New_York"
    assert context["customer"]["phone"] == "+13055550123"
    assert context["customer"]["email_present"] is True
    assert context["customer"]["consent"] == {"sms_marketing": True}
    assert "ada@example.com" not in json.dumps(context)  # the address itself is not carried along
    assert list(context["features"]) == list(features.FEATURE_NAMES)
    # The values are exactly the feature fold's vector at detection time (NaN as null).
    expected = features.vector(state["features"], signals[0].detected_at)
    got = [context["features"][name] for name in features.FEATURE_NAMES]
    assert [None if v != v else v for v in expected] == got
    json.dumps(signals[0].to_dict(), allow_nan=False)  # strict JSON on the wire


def test_older_profile_event_does_not_overwrite_newer_facts():
    newer = ev("customer.profile", at(hours=2), time_zone="Europe/Berlin", locale="de-DE")
    older = ev("customer.profile", at(hours=1), time_zone="America/Chicago", first_name="Bo")
    profile = fold_profile(fold_profile(None, newer), older)
    assert profile["time_zone"] == "Europe/Berlin" and profile["locale"] == "de-DE"
    assert "first_name" not in profile


def test_unknown_consent_keeps_what_was_known():
    first = ev("customer.profile", at(0), consent={"sms_marketing": True, "email_marketing": False})
    second = ev("customer.profile", at(5), consent={"sms_marketing": None, "email_marketing": True})
    profile = fold_profile(fold_profile(None, first), second)
    assert profile["consent"] == {"sms_marketing": True, "email_marketing": True}


def test_signal_without_profile_has_empty_customer_facts():
    _, signals = run(CustomerFold(), [ev("checkout.started", T0, checkout_id="k9"), Tick(at(200))])
    assert signals and signals[0].context["customer"] == {}
