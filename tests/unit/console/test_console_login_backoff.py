"""The login backoff policy and the client address behind proxies: pure, table-driven."""

from __future__ import annotations

import datetime as dt

import pytest

from retain.console.backoff import ADDRESS_POLICY, NAME_POLICY, Backoff, KeyState, retry_after_seconds
from retain.console.client_address import client_address, networks, throttle_address

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.timezone.utc)
SECOND = dt.timedelta(seconds=1)
POLICY = Backoff(free=3, first_wait=SECOND, longest_wait=dt.timedelta(minutes=15), forget_after=dt.timedelta(hours=24))


@pytest.mark.parametrize(("failures", "seconds"), [
    (0, 0), (3, 0),  # the free ones
    (4, 1), (5, 2), (6, 4), (12, 256), (13, 512),
    (14, 900), (100, 900), (10**9, 900),  # capped, and no huge numbers on the way
])
def test_wait_doubles_after_the_free_failures_up_to_the_cap(failures, seconds):
    assert POLICY.wait(failures) == dt.timedelta(seconds=seconds)


def test_a_counted_attempt_raises_failures_and_sets_the_wait():
    state = None
    for _ in range(5):
        state = POLICY.counted(state, T0)
    assert state == KeyState(5, T0 + 2 * SECOND, T0)
    assert POLICY.remaining(state, T0) == 2 * SECOND
    assert POLICY.remaining(state, T0 + 2 * SECOND) == dt.timedelta(0)


def test_failures_are_forgotten_after_a_quiet_day_never_during_a_wait():
    busy = KeyState(30, T0 + dt.timedelta(minutes=15), T0)
    assert POLICY.counted(busy, T0 + dt.timedelta(hours=23)).failures == 31
    assert POLICY.counted(busy, T0 + dt.timedelta(hours=24)) == KeyState(1, T0 + dt.timedelta(hours=24),
                                                                      T0 + dt.timedelta(hours=24))


def test_a_success_refunds_its_own_count_and_keeps_the_earlier_wait():
    before = KeyState(7, T0 - SECOND, T0 - 2 * SECOND)
    after = POLICY.counted(before, T0)
    assert POLICY.refunded(after, before, T0) == KeyState(7, T0 - SECOND, T0)
    assert POLICY.refunded(POLICY.counted(None, T0), None, T0) == KeyState(0, T0, T0)


def test_names_and_addresses_have_the_documented_policies():
    assert (NAME_POLICY.free, ADDRESS_POLICY.free) == (5, 20)
    assert NAME_POLICY.longest_wait == ADDRESS_POLICY.longest_wait == dt.timedelta(minutes=15)
    assert NAME_POLICY.forget_after > NAME_POLICY.longest_wait  # else waiting would reset the count


@pytest.mark.parametrize(("wait", "header"), [(dt.timedelta(0), 1), (dt.timedelta(milliseconds=10), 1),
                                               (dt.timedelta(seconds=2.01), 3), (dt.timedelta(minutes=15), 900)])
def test_retry_after_is_whole_seconds_rounded_up(wait, header):
    assert retry_after_seconds(wait) == header


PROXIES = networks(["10.0.0.0/8", "fd00::1"])


@pytest.mark.parametrize(("peer", "forwarded", "expected"), [
    ("203.0.113.7", None, "203.0.113.7"),
    ("203.0.113.7", "198.51.100.1", "203.0.113.7"),  # not a proxy: its header is only a claim
    ("10.0.0.5", None, "10.0.0.5"),
    ("10.0.0.5", "198.51.100.1", "198.51.100.1"),
    ("10.0.0.5", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the client may prepend lies; we read from the right
    ("10.0.0.5", "198.51.100.1, 10.1.2.3", "198.51.100.1"),  # through two of our proxies
    ("10.0.0.5", "10.1.2.3", "10.1.2.3"),  # only proxies: the farthest one
    ("10.0.0.5", "not-an-ip, 10.1.2.3", "10.1.2.3"),  # garbage stops the walk at the last trusted hop
    ("10.0.0.5", "", "10.0.0.5"),
    ("fd00::1", "2001:db8::7", "2001:db8::7"),
    (None, "198.51.100.1", "unknown"),
])
def test_client_address(peer, forwarded, expected):
    assert client_address(peer, forwarded, PROXIES) == expected


@pytest.mark.parametrize(("address", "unit"), [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"), ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
    ("::ffff:192.0.2.1", "192.0.2.1"),
    ("testclient", "testclient"),
])
def test_throttle_address_groups_ipv6_by_64(address, unit):
    assert throttle_address(address) == unit


def test_a_bad_proxy_setting_is_named():
    with pytest.raises(ValueError, match="'10.0.0.300'"):
        networks(["10.0.0.300"])


@pytest.mark.parametrize("module", ["retain.console.backoff", "retain.console.client_address"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
