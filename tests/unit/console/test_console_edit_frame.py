"""A reviewer's text between the system parts: what is kept, what is taken as the drafted part."""

from __future__ import annotations

import pytest

from outreach.drafting.draft import Draft
from retain.console.edit_check import Frame

SMS = Frame(prefix="Acme: ", suffix="\nReply STOP to opt out", draft=Draft(body="Your parcel is late."))
EMAIL = Frame(prefix="", suffix="\n\n--\nSent by Acme\n1 Main St\nUnsubscribe: https://acme.test/u/t",
              draft=Draft(body="Hi Ada,\n\nyour parcel is late."))


@pytest.mark.parametrize(("frame", "sent_back", "drafted"), [
    (SMS, "It is late.", "It is late."),  # only the drafted part, as the console shows it
    (SMS, "  It is late.\r\n", "It is late."),  # browser line breaks and stray spaces
    (SMS, "Acme: It is late.\nReply STOP to opt out", "It is late."),  # the whole message, system parts untouched
    (SMS, "Acme: It is late.", "Acme: It is late."),  # system parts partly removed: all of it is the reviewer's text
    (EMAIL, "Hi Ada,\r\n\r\nit is late.", "Hi Ada,\n\nit is late."),
    (EMAIL, "Hi.\n\n--\nSent by Acme\n1 Main St\nUnsubscribe: https://acme.test/u/t", "Hi."),
])
def test_unwrap(frame, sent_back, drafted):
    assert frame.unwrap(sent_back) == drafted


def test_wrap_puts_the_system_parts_back_exactly():
    assert SMS.wrap(" It is late. ") == "Acme: It is late.\nReply STOP to opt out"
    assert EMAIL.wrap("Hi.") == "Hi.\n\n--\nSent by Acme\n1 Main St\nUnsubscribe: https://acme.test/u/t"


def test_system_lines_are_what_a_reviewer_may_not_copy():
    assert SMS.system_lines() == ["Acme:", "Reply STOP to opt out"]
    assert EMAIL.system_lines() == ["Sent by Acme", "1 Main St", "Unsubscribe: https://acme.test/u/t"]
