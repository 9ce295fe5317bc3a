"""The decision-time policy and the send-time check give the same consent verdict for the same facts."""

from __future__ import annotations

import pytest

from outreach.consent.policy import send_verdict
from triggers.policy import InMemoryConsent, PolicyConfig
from triggers.policy.consent import channel_verdict
from triggers.signal_context import UpstreamConsent

IN, OUT = "opted_in", "opted_out"
REACHABLE = {"email": "ada@example.com", "phone": "+12125550143"}

CASES = [
    # (channel, topic, consent rows by topic, contact point?, marketing e-mail needs opt-in?, verdict)
    ("sms", "service", {}, True, False, None),  # service needs no opt-in
    ("sms", "service", {"*": OUT}, True, False, "opted_out"),  # ...but honours a channel-wide opt-out
    ("sms", "marketing", {}, True, False, "no_opt_in"),  # marketing SMS needs a prior opt-in
    ("sms", "marketing", {"marketing": IN}, True, False, None),
    ("sms", "marketing", {"*": IN}, True, False, None),  # a channel-wide opt-in is enough
    ("sms", "marketing", {"marketing": IN, "*": OUT}, True, False, "opted_out"),  # an opt-out anywhere wins
    ("email", "marketing", {}, True, False, None),  # marketing e-mail is opt-out based by default...
    ("email", "marketing", {}, True, True, "no_opt_in"),  # ...or opt-in based when configured
    ("email", "service", {}, False, False, "no_contact_point"),  # nowhere to send
    # A named group inherits its base topic: the marketing opt-in rule and a marketing opt-out.
    ("sms", "marketing:newsletter", {}, True, False, "no_opt_in"),
    ("email", "marketing:newsletter", {}, True, True, "no_opt_in"),
    ("email", "marketing:newsletter", {"marketing": OUT}, True, False, "opted_out"),
    ("sms", "marketing:newsletter", {"marketing": IN}, True, False, None),
    ("email", "marketing:newsletter", {"marketing:newsletter": OUT}, True, False, "opted_out"),
    ("email", "marketing", {"marketing:newsletter": OUT}, True, False, None),  # a group opt-out stays in the group
]


@pytest.mark.parametrize(("channel", "topic", "states", "reachable", "email_opt_in", "expected"), CASES)
def test_decision_time_and_send_time_agree(channel, topic, states, reachable, email_opt_in, expected):
    consent = InMemoryConsent({("c1", channel, row_topic): status for row_topic, status in states.items()})
    at_decision = channel_verdict("c1", REACHABLE if reachable else {}, channel, topic, consent,
                                  PolicyConfig(marketing_email_requires_opt_in=email_opt_in))
    at_send = send_verdict(channel=channel, topic=topic, states=states, suppression=None, has_address=reachable,
                           marketing_email_requires_opt_in=email_opt_in)
    assert (at_decision.value if at_decision else None, at_send) == (expected, expected)


@pytest.mark.parametrize(
    ("channel", "topic", "flags", "expected"),
    [
        # Upstream flags speak for the base topics; the send-time store reads the same flags for a group.
        ("sms", "marketing:newsletter", {"sms_marketing": False}, "opted_out"),
        ("sms", "marketing:newsletter", {"sms_marketing": True}, None),
        ("sms", "marketing:newsletter", {}, "no_opt_in"),
        ("email", "service", {"email_service": False}, "opted_out"),
    ],
)
def test_upstream_flags_decide_a_topic_group_as_its_base_topic(channel, topic, flags, expected):
    at_decision = channel_verdict("c1", REACHABLE, channel, topic, UpstreamConsent({"c1": flags}), PolicyConfig())
    assert (at_decision.value if at_decision else None) == expected
