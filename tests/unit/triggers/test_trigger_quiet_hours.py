"""Quiet hours in the recipient's local time, across time zones, regions and DST changes."""

from __future__ import annotations

import datetime as dt

import pytest

from triggers.policy import PolicyConfig
from triggers.policy.config import DailyWindow
from triggers.policy.quiet_hours import earliest_send, next_allowed_moment
from triggers.policy.regions import customer_region, phone_region, recipient_regions, recipient_time_zones

UTC = dt.timezone.utc
NY_PHONE, FL_PHONE, OK_PHONE, LA_PHONE = "+12125550143", "+14075550143", "+14055550143", "+13105550143"


def at(text: str) -> dt.datetime:
    """An aware UTC datetime from 'YYYY-MM-DD HH:MM[:SS]'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def _customer(phone: str | None = NY_PHONE, time_zone: str | None = "America/New_York", region: str | None = None):
    data = {"email": "x@example.com", "phone": phone, "time_zone": time_zone, "region": region, "country": "US"}
    return {k: v for k, v in data.items() if v is not None}


CASES = [
    # (customer, channel, now UTC, expected earliest send UTC); January: New York is UTC-5.
    (_customer(), "sms", "2026-01-12 12:59", "2026-01-12 13:00"),  # 07:59 ET -> 08:00 ET
    (_customer(), "sms", "2026-01-12 13:00", "2026-01-12 13:00"),  # 08:00 sharp is allowed
    (_customer(), "sms", "2026-01-13 01:59:59", "2026-01-13 01:59:59"),  # 20:59:59 ET still allowed
    (_customer(), "sms", "2026-01-13 02:00", "2026-01-13 13:00"),  # 21:00 ET closed -> 08:00 next day
    (_customer(), "sms", "2026-01-13 08:00", "2026-01-13 13:00"),  # 03:00 ET -> 08:00 the same day
    (_customer(), "email", "2026-01-13 08:00", "2026-01-13 08:00"),  # e-mail: no window by default
    # Stated zone Los Angeles, phone from New York: both windows must hold (the stricter wins).
    (_customer(time_zone="America/Los_Angeles"), "sms", "2026-01-12 15:00", "2026-01-12 16:00"),
    (_customer(time_zone="America/Los_Angeles"), "sms", "2026-01-13 02:00", "2026-01-13 16:00"),
    (_customer(time_zone="America/Los_Angeles"), "sms", "2026-01-13 01:30", "2026-01-13 01:30"),
    # No stated zone: the phone's area code decides.
    (_customer(phone=LA_PHONE, time_zone=None), "sms", "2026-01-12 15:00", "2026-01-12 16:00"),
    # Florida and Oklahoma: SMS until 20:00 local, by phone area code or by stated region.
    (_customer(phone=FL_PHONE), "sms", "2026-01-13 01:00", "2026-01-13 13:00"),  # 20:00 ET: closed
    (_customer(phone=FL_PHONE), "sms", "2026-01-13 00:59", "2026-01-13 00:59"),  # 19:59 ET: open
    (_customer(region="US-FL"), "sms", "2026-01-13 01:30", "2026-01-13 13:00"),  # NY phone, FL resident
    (_customer(region="FL"), "sms", "2026-01-13 01:30", "2026-01-13 13:00"),  # short code plus country
    (_customer(phone=NY_PHONE), "sms", "2026-01-13 01:30", "2026-01-13 01:30"),  # NY alone: 20:30 is fine
    # Oklahoma number (Central time) but the customer says New York: 08:00-20:00 in both zones.
    (_customer(phone=OK_PHONE), "sms", "2026-01-13 01:30", "2026-01-13 14:00"),  # 20:30 ET -> 08:00 CT
    (_customer(phone=OK_PHONE), "sms", "2026-01-12 13:30", "2026-01-12 14:00"),  # 08:30 ET but 07:30 CT
    # DST, New York springs forward on 2026-03-08 (02:00 EST -> 03:00 EDT).
    (_customer(), "sms", "2026-03-08 05:00", "2026-03-08 12:00"),  # 00:00 EST -> 08:00 EDT (UTC-4)
    (_customer(), "sms", "2026-03-08 02:30", "2026-03-08 12:00"),  # 21:30 EST the evening before
    (_customer(), "sms", "2026-03-07 12:00", "2026-03-07 13:00"),  # the day before: still UTC-5
    # DST, New York falls back on 2026-11-01 (02:00 EDT -> 01:00 EST).
    (_customer(), "sms", "2026-11-01 04:30", "2026-11-01 13:00"),  # 00:30 EDT -> 08:00 EST (UTC-5)
    (_customer(), "sms", "2026-11-01 01:30", "2026-11-01 13:00"),  # 21:30 EDT -> next 08:00 EST
    (_customer(), "sms", "2026-11-02 00:59", "2026-11-02 00:59"),  # 19:59 EST, open
]


@pytest.mark.parametrize(("customer", "channel", "now", "expected"), CASES)
def test_earliest_send(customer, channel, now, expected):
    moment, _ = earliest_send(channel, customer, recipient_regions(customer), at(now), PolicyConfig())
    assert moment == at(expected)


def test_email_window_is_configurable_and_follows_the_stated_zone_across_dst():
    config = PolicyConfig(email_window=DailyWindow(start=dt.time(9), end=dt.time(18)))
    berlin = {"email": "x@example.com", "time_zone": "Europe/Berlin", "phone": NY_PHONE}
    # Saturday 18:30 CET; Berlin moves to CEST (UTC+2) overnight, so 09:00 Sunday is 07:00 UTC.
    moment, detail = earliest_send("email", berlin, set(), at("2026-03-28 17:30"), config)
    assert moment == at("2026-03-29 07:00")
    assert "Europe/Berlin" in detail and "America/New_York" not in detail  # e-mail ignores the phone


def test_unknown_zone_falls_back_to_both_us_coasts():
    config = PolicyConfig(email_window=DailyWindow(start=dt.time(9), end=dt.time(18)))
    # 09:30 ET is 06:30 PT: wait until 09:00 PT = 17:00 UTC.
    moment, _ = earliest_send("email", {"email": "x@example.com"}, set(), at("2026-01-12 14:30"), config)
    assert moment == at("2026-01-12 17:00")


def test_no_common_window_within_the_horizon_is_none():
    window = DailyWindow(start=dt.time(8), end=dt.time(9))  # 08-09 in New York is 22-23 in Tokyo
    zones = {"America/New_York", "Asia/Tokyo"}
    assert next_allowed_moment(at("2026-01-12 12:00"), zones, window, dt.timedelta(days=8)) is None


def test_a_window_start_inside_a_dst_gap_moves_to_the_first_real_moment():
    # 02:30 does not exist in New York on 2026-03-08; the first moment at or after it is 03:00 EDT.
    window = DailyWindow(start=dt.time(2, 30), end=dt.time(5))
    moment = next_allowed_moment(at("2026-03-08 05:00"), {"America/New_York"}, window, dt.timedelta(days=2))
    assert moment == at("2026-03-08 07:00")  # 03:00 EDT


@pytest.mark.parametrize(
    ("phone", "region"),
    [(FL_PHONE, "US-FL"), (OK_PHONE, "US-OK"), (NY_PHONE, "US-NY"), ("+442079460000", None), ("garbage", None)],
)
def test_phone_region_from_area_code(phone, region):
    assert phone_region(phone) == region


@pytest.mark.parametrize(
    ("customer", "region"),
    [
        ({"region": "US-FL"}, "US-FL"),
        ({"region": "fl", "country": "us"}, "US-FL"),
        ({"region": "FL"}, None),  # a bare subdivision code without a country is ambiguous
        ({}, None),
    ],
)
def test_customer_region(customer, region):
    assert customer_region(customer) == region


def test_time_zones_from_customer_and_phone_ignore_invalid_names():
    customer = {"time_zone": "Mars/Olympus", "phone": OK_PHONE}
    assert recipient_time_zones(customer, use_phone=True) == {"America/Chicago"}
    assert recipient_time_zones(customer, use_phone=False) == set()
