"""Consent defaults and the send-time verdict; contact point normalisation and keyed hashing."""

from __future__ import annotations

import pytest

from outreach.consent.contact_points import InvalidContactPoint, contact_hash, normalise
from outreach.consent.policy import send_verdict
from triggers.policy.consent import effective_status, topics_to_check

KEY = b"k" * 32


@pytest.mark.parametrize(
    ("channel", "topic", "states", "suppression", "has_address", "expected"),
    [
        # service needs no opt-in
        ("sms", "service", {}, None, True, None),
        # ...but honours an opt-out of the whole channel
        ("sms", "service", {"*": "opted_out"}, None, True, "opted_out"),
        # marketing SMS needs a recorded prior opt-in
        ("sms", "marketing", {}, None, True, "no_opt_in"),
        ("sms", "marketing", {"marketing": "opted_in"}, None, True, None),
        # marketing e-mail is opt-out based by default
        ("email", "marketing", {}, None, True, None),
        # a named group inherits an opt-out of its base topic
        ("email", "marketing:newsletter", {"marketing": "opted_out"}, None, True, "opted_out"),
        # an opt-out of the group does not touch the base topic
        ("email", "marketing", {"marketing:newsletter": "opted_out"}, None, True, None),
        # an opt-out anywhere wins over a more specific opt-in
        ("sms", "marketing", {"marketing": "opted_in", "*": "opted_out"}, None, True, "opted_out"),
        # a global suppression refuses even service messages with an opt-in
        ("email", "service", {"service": "opted_in"}, "spam_complaint", True, "suppressed:spam_complaint"),
        # nowhere to send
        ("email", "service", {}, None, False, "no_contact_point"),
    ],
)
def test_send_verdict(channel, topic, states, suppression, has_address, expected):
    assert send_verdict(channel=channel, topic=topic, states=states, suppression=suppression,
                        has_address=has_address) == expected


def test_marketing_email_opt_in_is_configurable():
    assert send_verdict(channel="email", topic="marketing", states={}, suppression=None, has_address=True,
                        marketing_email_requires_opt_in=True) == "no_opt_in"


def test_topics_to_check_walks_up_from_the_group():
    assert topics_to_check("marketing:newsletter") == ("marketing:newsletter", "marketing", "*")
    assert effective_status("service", {}).value == "unknown"


@pytest.mark.parametrize(
    ("channel", "a", "b"),
    [
        # case and whitespace do not make a new person
        ("email", " Ada@Example.com ", "ada@example.com"),
        # national formatting does not either
        ("sms", "+49 151 1234 5678", "+4915112345678"),
    ],
)
def test_same_contact_point_hashes_the_same(channel, a, b):
    assert contact_hash(KEY, channel, a) == contact_hash(KEY, channel, b)
    assert contact_hash(KEY, channel, a) != contact_hash(b"other-key", channel, a)  # keyed


@pytest.mark.parametrize(("channel", "address"), [("email", "no-at-sign"), ("sms", "12345"), ("fax", "x")])
def test_invalid_contact_points_are_refused(channel, address):
    with pytest.raises(InvalidContactPoint):
        normalise(channel, address)
