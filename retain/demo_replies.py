"""What the demo's simulated customers write back: a few replies per kind, picked with a fixed seed.

Separate from the classifier's training phrases and from the labelled set, so the demo's triage
counts are a fair look at the classifier on text it never saw.
"""

from __future__ import annotations

import random

QUESTIONS = {
    "shipping_delay": ("Any idea when it will actually get here?", "Can you tell me where the parcel is right now?",
                       "Is there a new delivery date yet?"),
    "checkout_idle": ("Is the price in my basket still valid tomorrow?", "Do you deliver to Switzerland as well?",
                      "Can I pay for the items in my cart by invoice?"),
    "usage_drop": ("How do I turn the weekly report back on?", "Is there a way to pause my account for a month?"),
}
THANKS = ("Thanks for letting me know!", "Great, thank you.", "Cheers, much appreciated", "Thank you, that helps")
COMPLAINTS = ("This is the second late delivery this month. Really not good enough!",
              "Your messages are annoying and my order is still not here.",
              "Very disappointed, the last parcel arrived damaged too.")

REPLY_SHARE = 0.15  # of the customers who ignore or buy, this many write back
COMPLAINT_SHARE = 0.5  # of the customers who complain, this many write before they report or STOP


def reply_for(reaction: str, signal_kind: str, rng: random.Random, *, first: bool = False) -> str | None:
    """The text a simulated customer writes back for ``reaction`` to a message about ``signal_kind``, or None.

    ``first``: the demo's first delivered message is always answered (a complaint, else a question),
    so even a short demo, which may send only a few messages, shows a conversation in the inbox.
    """
    questions = QUESTIONS.get(signal_kind, QUESTIONS["checkout_idle"])
    if first:
        return rng.choice(COMPLAINTS if reaction == "complained" else questions)
    if reaction == "complained":
        return rng.choice(COMPLAINTS) if rng.random() < COMPLAINT_SHARE else None
    if reaction not in ("ignored", "purchased") or rng.random() >= REPLY_SHARE:
        return None
    if reaction == "purchased" or rng.random() < 0.4:
        return rng.choice(THANKS)
    return rng.choice(questions)
