"""The pure parts of conversations: docstring examples, priority and queue order, reply addresses, measures."""

from __future__ import annotations

import datetime as dt
import doctest
import importlib

import pytest

from outreach.conversations.measures import NO_RULE, reply_measures
from outreach.conversations.thread_links import (
    OutboundThreading,
    message_id_of_address,
    referenced_message_ids,
    reply_address,
    reply_headers,
    reply_thread,
)
from outreach.conversations.triage import Intent, Sentiment, Triage, priority_of, queue_key

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)
MID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("module", [
    "outreach.conversations.triage", "outreach.conversations.keywords", "outreach.conversations.corpus",
    "outreach.conversations.thread_links", "outreach.conversations.measures",
])
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def triage(intent: Intent, frustrated: bool = False) -> Triage:
    return Triage(intent, Sentiment.NEGATIVE if frustrated else Sentiment.NEUTRAL, frustrated, "en", "test")


@pytest.mark.parametrize(
    ("intent", "frustrated", "risk", "priority", "escalates"),
    [
        (Intent.COMPLAINT, False, None, 3, True),
        (Intent.CANCELLATION, False, "high", 4, True),  # a high-risk customer leaving comes first
        (Intent.ORDER_STATUS, True, None, 3, True),  # a frustrated question escalates too
        (Intent.ORDER_STATUS, False, "low", 2, False),
        (Intent.BILLING, False, None, 2, False),
        (Intent.OTHER, False, None, 1, False),
        (Intent.THANKS, False, "high", 1, False),
        (Intent.OPT_OUT, False, None, 0, False),
    ],
)
def test_priority_and_escalation(intent, frustrated, risk, priority, escalates):
    t = triage(intent, frustrated)
    assert (priority_of(t, risk_bucket=risk), t.escalates) == (priority, escalates)


def test_the_queue_puts_waiting_then_priority_then_the_longest_wait_first():
    rows = {
        "answered-urgent": (5, None, T0),
        "waiting-low-old": (0, T0 - dt.timedelta(days=2), T0),
        "waiting-high-new": (3, T0, T0),
        "waiting-high-old": (3, T0 - dt.timedelta(hours=1), T0),
    }
    order = sorted(rows, key=lambda name: queue_key(*rows[name]))
    assert order == ["waiting-high-old", "waiting-high-new", "waiting-low-old", "answered-urgent"]


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (reply_address(b"k", MID, "reply.example.com"), MID),
        (reply_address(b"k", MID, "reply.example.com").upper(), MID),  # mail systems may change case
        (reply_address(b"other key", MID, "reply.example.com"), None),  # a made-up address
        (f"reply+{MID}.0000000000000000@reply.example.com", None),
        (f"reply+{MID}@reply.example.com", None),  # no tag
        ("support@example.com", None),
        ("", None),
    ],
)
def test_reply_addresses(address, expected):
    assert message_id_of_address(b"k", address) == expected


def test_reply_address_fits_an_email_local_part():
    assert len(reply_address(b"k", MID, "x").split("@")[0]) <= 64


def test_references_keep_only_our_message_ids_newest_first():
    other = "fedcba9876543210fedcba9876543210"
    assert referenced_message_ids(f"<retain.{MID}@a.example>", f"<x@y> <retain.{other}@a.example> "
                                  f"<retain.{MID}@a.example>") == [MID, other]
    assert referenced_message_ids(None, "", "<retain.nothex@a>") == []


def test_outbound_threading_headers():
    threading = OutboundThreading(secret=b"k", message_domain="example.com", reply_domain="reply.example.com")
    assert threading.headers(MID) == {"Message-ID": f"<retain.{MID}@example.com>"}
    assert message_id_of_address(b"k", threading.reply_to(MID)) == MID
    assert OutboundThreading(secret=b"k", message_domain="example.com").reply_to(MID) is None


def test_reply_measures_per_rule():
    rows = [
        ("r1", T0, T0 + dt.timedelta(minutes=10), False, False),
        ("r1", T0, T0 + dt.timedelta(minutes=50), False, True),
        ("r1", T0, None, True, True),
        ("r2", T0, None, False, False),  # resolved without an answer
        (None, T0, T0 + dt.timedelta(hours=2), False, False),
    ]
    measures = {m.rule_id: m for m in reply_measures(rows)}
    r1 = measures["r1"]
    assert (r1.conversations, r1.answered, r1.waiting, r1.escalated) == (3, 2, 1, 2)
    assert r1.share_answered == pytest.approx(2 / 3) and r1.median_seconds == 1800 and r1.mean_seconds == 1800
    assert measures["r2"].share_answered == 0 and measures["r2"].median_seconds is None
    assert measures[NO_RULE].answer_seconds == (7200.0,)


@pytest.mark.parametrize(("message_id", "in_reply_to", "references", "expected"), [
    # RFC 5322 3.6.4: the reply's references (else its In-Reply-To), then the reply itself
    ("<r2@mail.example>", "<r1@x>", "<ours@example.com> <r1@x>",
     {"In-Reply-To": "<r2@mail.example>", "References": "<ours@example.com> <r1@x> <r2@mail.example>"}),
    ("<r2@mail.example>", "<r1@x>", None, {"In-Reply-To": "<r2@mail.example>", "References": "<r1@x> <r2@mail.example>"}),
    ("<r2@mail.example>", None, None, {"In-Reply-To": "<r2@mail.example>", "References": "<r2@mail.example>"}),
    (None, "<r1@x>", "<r1@x>", {}),  # no Message-ID of its own: nothing to answer under
    ("<r2@x>\r\nBcc: victim@example.net", None, None, {"In-Reply-To": "<r2@x>", "References": "<r2@x>"}),
    ("no id here", "<a b@x>", "<é@x>", {}),  # nothing well-formed: no header at all
])
def test_reply_headers_keep_only_well_formed_message_ids(message_id, in_reply_to, references, expected):
    headers = reply_headers(reply_thread(message_id, in_reply_to, references))
    assert headers == expected
    assert all("\r" not in v and "\n" not in v and "victim" not in v for v in headers.values())


def test_reply_headers_keep_the_newest_references_within_the_limit():
    chain = " ".join(f"<m{i}@x>" for i in range(100))
    headers = reply_headers(reply_thread("<new@x>", None, chain))
    ids = headers["References"].split()
    assert len(ids) == 20 and ids[-1] == "<new@x>" and ids[-2] == "<m99@x>"
