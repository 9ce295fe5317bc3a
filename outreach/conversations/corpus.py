"""The classifier's training replies, generated from phrase lists with a fixed seed (pure).

Nothing is downloaded: every reply is a core phrase of one intent (with its tone) in one of four
languages, dressed the way people write replies (a greeting, a sign-off, lower case, a dropped
question mark, a typo) and sometimes made frustrated (a repeat, capitals, "!!!", an exasperated
add-on). The labelled set the classifier is judged on (``data/replies_labelled.jsonl``) was
written separately by hand; no phrase here is copied from it.

>>> rows = generate(seed=1, per_intent={"en": 2})
>>> sorted({row.intent for row in rows}) == sorted(i.value for i in Intent)
True
>>> generate(seed=1, per_intent={"en": 2}) == rows
True
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass

from outreach.conversations.corpus_phrases import CORES, FRUSTRATION, GREETINGS, SIGN_OFFS
from outreach.conversations.triage import Intent

DEFAULT_SIZES = {"en": 420, "de": 180, "fr": 70, "es": 70}  # replies per intent and language
SLOTS = {
    "item": ("parcel", "package", "order", "delivery", "shoes", "jacket", "coffee machine", "headphones", "box"),
    "order": ("4471", "A-1093", "#88213", "55012", "B7731", "1120-44"),
    "n": ("2", "3", "4", "5", "ten"),
    "day": ("Friday", "Monday", "the weekend", "tomorrow", "next week"),
    "nth": ("second", "third", "fourth"),
    "amount": ("49.90", "12 euros", "$30", "19,99 €", "the full amount"),
}


@dataclass(frozen=True)
class LabelledReply:
    """One reply with its labels (the shape of the labelled set's lines too)."""

    text: str
    intent: str
    sentiment: str
    frustrated: bool
    language: str


def _typo(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    long_words = [i for i, w in enumerate(words) if len(w) > 4 and w.isalpha()]
    if not long_words:
        return text
    i = rng.choice(long_words)
    w = words[i]
    j = rng.randrange(1, len(w) - 2)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


def _fill(template: str, rng: random.Random) -> str:
    for slot, values in SLOTS.items():
        while "{" + slot + "}" in template:
            template = template.replace("{" + slot + "}", rng.choice(values), 1)
    return template


def _dress(core: str, language: str, rng: random.Random, *, frustrated: bool) -> str:
    text = _fill(core, rng)
    if frustrated:
        text = f"{text} {_fill(rng.choice(FRUSTRATION[language]), rng)}"
        if rng.random() < 0.25:
            text = text.upper()
        elif rng.random() < 0.5:
            text = text.rstrip(".?!") + rng.choice(("!!!", "!!", "?!", "!!!!"))
    if rng.random() < 0.35:
        text = f"{rng.choice(GREETINGS[language])} {text[:1].lower() + text[1:] if rng.random() < 0.5 else text}"
    if rng.random() < 0.3:
        text = f"{text} {rng.choice(SIGN_OFFS[language])}"
    if rng.random() < 0.3:
        text = text.lower()
    if rng.random() < 0.25:
        text = text.rstrip(".?!")
    if rng.random() < 0.15:
        text = _typo(text, rng)
    return text.strip()


def generate(*, seed: int = 16, per_intent: dict[str, int] | None = None) -> list[LabelledReply]:
    """The training replies: ``per_intent[language]`` per intent and language, the same for the same seed."""
    rng = random.Random(f"retain-replies:{seed}")
    rows = []
    for language, count in (per_intent or DEFAULT_SIZES).items():
        for intent in Intent:
            cores = CORES[language][intent]
            for i in range(count):
                core, sentiment, can_frustrate = cores[i % len(cores)]
                frustrated = can_frustrate and rng.random() < 0.35
                text = _dress(core, language, rng, frustrated=frustrated)
                rows.append(LabelledReply(text, intent.value, "negative" if frustrated else sentiment, frustrated,
                                          language))
    return rows


def fingerprint(rows: list[LabelledReply]) -> str:
    """A short hash of the training rows (names the trained classifier)."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(asdict(row), sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()[:16]
