"""What the demo's simulated customers write back: the first message is always answered, later ones by share."""

from __future__ import annotations

import random

import pytest

from retain.demo_replies import COMPLAINTS, QUESTIONS, reply_for


@pytest.mark.parametrize(("reaction", "texts"), [
    ("complained", COMPLAINTS), ("ignored", QUESTIONS["shipping_delay"]), ("purchased", QUESTIONS["shipping_delay"]),
    ("unsubscribed", QUESTIONS["shipping_delay"]), ("replied_stop", QUESTIONS["shipping_delay"]),
])
def test_the_first_delivered_message_is_always_answered(reaction, texts):
    for seed in range(20):
        assert reply_for(reaction, "shipping_delay", random.Random(seed), first=True) in texts


def test_later_messages_are_answered_by_share_and_never_after_an_opt_out():
    rng = random.Random(1)
    ignored = [reply_for("ignored", "checkout_idle", rng) for _ in range(2000)]
    assert 0.10 < sum(text is not None for text in ignored) / len(ignored) < 0.20  # REPLY_SHARE 0.15
    assert all(reply_for(r, "checkout_idle", rng) is None for r in ("unsubscribed", "replied_stop") for _ in range(50))
