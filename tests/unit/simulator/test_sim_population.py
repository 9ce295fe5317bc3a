"""The population: valid contacts, plausible geography, consent and plans, stable per index."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import phonenumbers
import pytest

from simulator.population import _US_PLACES, build_customer, build_population
from signals.events import parse_event

START = dt.datetime(2026, 9, 1, tzinfo=dt.timezone.utc)
POPULATION = build_population(800, seed=3, start=START)


def test_every_profile_validates_as_a_customer_profile_event():
    for c in POPULATION:
        event = parse_event({"event_id": "e", "customer_id": c.customer_id, "type": "customer.profile",
                             "occurred_at": START.isoformat(), "properties": c.profile_properties()})
        assert event.properties.email == c.email


def test_phones_are_valid_e164_and_time_zones_are_iana():
    phones = [c.phone for c in POPULATION if c.phone]
    assert len(phones) > 0.7 * len(POPULATION)  # most have a phone, some do not
    assert len(phones) < len(POPULATION)
    for phone in phones:
        parsed = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(parsed)
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == phone
    for c in POPULATION:
        ZoneInfo(c.time_zone)


@pytest.mark.parametrize(
    ("region", "zones"),
    [
        ("US-FL", {"America/New_York", "America/Chicago"}),  # panhandle (850) is on Central time
        ("US-OK", {"America/Chicago"}),
    ],
)
def test_quiet_hour_states_are_present_with_their_zones(region, zones):
    here = [c for c in POPULATION if c.region == region and not c.moved]
    assert here, f"no customer in {region}"
    assert {c.time_zone for c in here} <= zones


def test_time_zone_follows_the_area_code_unless_the_customer_moved():
    area_zone = {place[0]: place[2] for place in _US_PLACES}
    us = [c for c in POPULATION if c.country == "US" and c.phone]
    assert us
    for c in us:
        assert (c.time_zone == area_zone[c.phone[2:5]]) is (not c.moved), c.customer_id
    moved = sum(c.moved for c in POPULATION)
    assert 0.02 * len(POPULATION) < moved < 0.15 * len(POPULATION)


def test_population_spans_continents_and_dst_rules():
    zones = {c.time_zone for c in POPULATION}
    assert {"Europe/Berlin", "Australia/Sydney", "America/Phoenix"} & zones
    assert any(z.startswith("America/") for z in zones) and any(z.startswith("Europe/") for z in zones)
    assert any(z.startswith(("Asia/", "Australia/")) for z in zones)


def test_consent_has_yes_no_and_unknown_and_plans_are_realistic():
    email = Counter(c.consent["email_marketing"] for c in POPULATION)
    sms = Counter(c.consent["sms_marketing"] for c in POPULATION)
    assert email[True] > email[False] > 0 and email[None] > 0
    assert sms[True] < email[True] and sms[None] > 0  # SMS opt-in is rarer than e-mail
    plans = Counter(c.plan for c in POPULATION)
    assert plans["free"] > plans["basic"] > plans["pro"] > 0
    assert all((c.subscription_id is None) == (c.plan == "free") for c in POPULATION)
    assert all(c.signed_up_at < START for c in POPULATION)


def test_a_customer_does_not_depend_on_population_size_but_on_seed():
    assert build_population(5, 3, START)[4] == POPULATION[4]
    assert build_customer(3, 4, START) == POPULATION[4]
    assert build_customer(4, 4, START) != POPULATION[4]  # another seed, another person


def test_persuadable_is_a_minority_trait():
    share = sum(c.persuadable for c in POPULATION) / len(POPULATION)
    assert 0.2 < share < 0.5
