"""SMS segment counting: GSM-7 vs UCS-2 boundaries, extension characters, the footer counts."""

from __future__ import annotations

import pytest

from outreach.drafting.brief import DraftRequest
from outreach.drafting.draft import Draft
from outreach.guardrails import Candidate, GuardrailLimits
from outreach.guardrails.sms_segments import count_segments, check, is_gsm7


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),  # the single-segment maximum
        ("a" * 161, "GSM-7", 161, 2),  # one more splits into 153-septet parts
        ("a" * 306, "GSM-7", 306, 2),  # 2 x 153
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # extension chars take two septets each
        ("a" + "€" * 80, "GSM-7", 161, 2),
        ("{}[]~|^\\" * 10, "GSM-7", 160, 1),  # the whole extension table counts double
        ("a" * 152 + "€", "GSM-7", 154, 1),  # 154 septets still fit one segment
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),  # 306 septets, but the escape pair cannot straddle 153
        ("ß" * 160, "GSM-7", 160, 1),  # ß, ä, ö, ü, é are in the GSM-7 basic table
        ("ç" + "a" * 69, "UCS-2", 70, 1),  # lower-case ç is not GSM-7: whole message goes UCS-2
        ("ç" + "a" * 70, "UCS-2", 71, 2),
        ("ł" * 134, "UCS-2", 134, 2),  # 2 x 67
        ("ł" * 135, "UCS-2", 135, 3),
        ("😀" * 35, "UCS-2", 70, 1),  # an emoji is a surrogate pair: two UTF-16 units
        ("a" * 66 + "😀" + "a" * 66, "UCS-2", 134, 3),  # a pair never straddles two segments
    ],
)
def test_count_segments(text, encoding, units, segments):
    count = count_segments(text)
    assert (count.encoding, count.units, count.segments) == (encoding, units, segments)


@pytest.mark.parametrize(("text", "expected"), [("Hello @ £5 ñ", True), ("Grüße", True), ("ça va", False), ("ok 👍", False)])
def test_is_gsm7(text, expected):
    assert is_gsm7(text) is expected


def _input(final_text: str, max_segments: int = 2) -> Candidate:
    request = DraftRequest(channel="sms", topic="service", rule_id="r", brief="b", tone="t",
                           signal_kind="shipping_delay", limits=GuardrailLimits(sms_max_segments=max_segments))
    return Candidate(request, Draft(body="x"), final_text)


@pytest.mark.parametrize(
    ("final_text", "max_segments", "passed"),
    [
        ("a" * 306, 2, True),  # exactly two segments
        ("a" * 307, 2, False),  # the opt-out footer pushing it into a third fails it
        ("a" * 161, 1, False),
        ("ł" * 134, 2, True),
        ("ł" * 135, 2, False),
        ("", 2, False),  # an empty SMS is not a message
    ],
)
def test_check_against_the_limit(final_text, max_segments, passed):
    result = check(_input(final_text, max_segments))
    assert result.passed is passed
    assert result.name == "sms_segments"


def test_module_examples():
    import doctest

    from outreach.guardrails import sms_segments

    assert doctest.testmod(sms_segments).failed == 0
