"""A service-topic message stays purely factual: no offer, no promotional wording at all.

A late-shipment notice that adds "10 % off your next order" or "shop our sale" legally becomes
marketing (and then needs marketing consent), so service drafts are held to plain facts.
"""

from __future__ import annotations

import re

from outreach.guardrails.grounding import without_quoted_facts
from outreach.guardrails.offers import find_offer_mentions
from outreach.guardrails.result import Candidate, GuardrailResult

NAME = "service_tone"

# Word-bounded, case-insensitive. Words with an everyday service meaning only count in their
# promotional phrases: "feel free to reply", "we offer our help", "we will deal with it" are fine.
_PROMO = re.compile(
    r"(?i)\b(?:"
    r"(?:special|exclusive|this|our|an|great|limited) offers?|offer code|discounts?|coupons?|vouchers?"
    r"|promo(?:tion)?s?|sale|(?:great|best|special|our) deals?|bargains?|exclusive|special price"
    r"|limited[- ]time|shop now|buy now|order now|don'?t miss|treat yourself|for free|free gift|save up to"
    r"|angebote?|rabatt(?:e|code)?|gutschein\w*|aktion(?:en)?|sonderpreis|schnäppchen|gratis|jetzt kaufen"
    r"|jetzt bestellen|exklusiv\w*|sparen"
    r"|offres?|remises?|réductions?|soldes|gratuit\w*|promotions?"
    r"|ofertas?|descuentos?|cupones|cupón|rebajas|promociones|promoción"
    r")\b"
)


def promotional_phrases(text: str) -> list[str]:
    """Promotional words and offer-like phrases found in ``text``."""
    found = [m.group(0) for m in _PROMO.finditer(text)]
    found += [m.text for m in find_offer_mentions(text) if m.kind != "code"]
    return found


def check(candidate: Candidate) -> GuardrailResult:
    """Service messages carry no offer and no promotional wording; marketing messages pass."""
    if candidate.request.topic != "service":
        return GuardrailResult(NAME, True, "marketing topic: promotional wording allowed")
    found = promotional_phrases(without_quoted_facts(candidate.request, candidate.draft.text()))  # "Exklusiv-Edition"
    if candidate.request.offers:
        found.append("rule lists offers on a service topic")
    if found:
        return GuardrailResult(NAME, False, f"promotional wording in a service message: {', '.join(found)}")
    return GuardrailResult(NAME, True, "factual")
