"""The draft is written in the customer's language (en, de, fr, es) by counting stop words.

Short texts give few clues: with fewer than ``MIN_HITS`` stop words the language is undetermined
and the check passes (an SMS of eight words is not worth a false alarm).
"""

from __future__ import annotations

import re
from collections import Counter

from outreach.guardrails.result import Candidate, GuardrailResult

NAME = "language"
MIN_HITS = 3

# Frequent words that are (nearly) unique to one of the four languages.
STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the and is are was you your we our it this that with for have has be will of to "
                    "not but if what when which would could should there their they them hello thanks".split()),
    "de": frozenset("der die das und ist sind ich du sie wir ihr ihre ihren ihrem dein deine nicht mit "
                    "für auf ein eine einen dem den des zu wird werden haben hat uns unser bitte danke "
                    "hallo noch auch wenn oder aber sich bei".split()),
    "fr": frozenset("le la les et est sont je tu vous nous votre vos nos pas avec pour sur un une des du "
                    "au aux ce cette qui que sera avez merci bonjour mais ou".split()),
    "es": frozenset("el la los las y es son yo tú usted nosotros su sus nuestro con para por un una unos "
                    "del al que este esta será tiene gracias hola pero o cuando".split()),
}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def detect_language(text: str) -> tuple[str | None, dict[str, int]]:
    """The most likely language of ``text`` and the stop-word hits per language (None if too few)."""
    words = [w.lower() for w in _WORD.findall(text)]
    hits = Counter({lang: sum(1 for w in words if w in stops) for lang, stops in STOP_WORDS.items()})
    best, count = hits.most_common(1)[0]
    if count < MIN_HITS:
        return None, dict(hits)
    return best, dict(hits)


def check(candidate: Candidate) -> GuardrailResult:
    """The detected language is the one the draft was asked to be written in."""
    expected = candidate.draft.language
    detected, hits = detect_language(candidate.draft.text())
    if detected is None:
        return GuardrailResult(NAME, True, f"undetermined (too short), expected {expected}")
    if expected not in STOP_WORDS:
        return GuardrailResult(NAME, True, f"detected {detected}; no detector for {expected}")
    if detected != expected:
        return GuardrailResult(NAME, False, f"written in {detected}, locale wants {expected} (hits {hits})")
    return GuardrailResult(NAME, True, f"{detected} as expected")
