"""Offers only from the rule's allowlist: no invented discounts, credits, free shipping or codes.

Looks for percentages ("15% off", "15 %"), money off ("$5 off", "5 € Rabatt"), free shipping in
en/de/fr/es, and coupon-like tokens (upper-case letters with digits such as ``SAVE20``, or any
word after "code"/"coupon"/"Gutschein"). Each is allowed only when an allowed offer's code or
description accounts for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from outreach.drafting.brief import DraftRequest
from outreach.guardrails.result import Candidate, GuardrailResult

NAME = "offers"

_NUMBER = r"\d+(?:[.,]\d+)?"
_PERCENT = re.compile(rf"({_NUMBER})\s?%")
_MONEY_OFF = re.compile(
    rf"(?i)(?:[$€£]\s?({_NUMBER})|({_NUMBER})\s?(?:[$€£]|eur|usd|gbp|euros?|dollars?))\s*"
    r"(?:off|discount|credit|rabatt|nachlass|gutschrift|de (?:remise|réduction|descuento)|menos)"
)
_FREE_SHIPPING = re.compile(
    r"(?i)\bfree (?:shipping|delivery|returns)\b|\bkostenlose[nrs]? (?:versand|lieferung)\b|\bversandkostenfrei\b"
    r"|\blivraison gratuite\b|\benv[íi]o gratis\b|\benv[íi]o gratuito\b"
)
_CODE_AFTER_WORD = re.compile(
    r"(?i)\b(?:code|coupon|voucher|gutschein(?:code)?|rabattcode|promo ?code|code promo|c[óo]digo|cup[óo]n)"
    r"\s*:?\s*[\"'«„]?([A-Za-z0-9][A-Za-z0-9-]{2,})"
)
_CODE_TOKEN = re.compile(r"\b(?=[A-Z0-9-]*[A-Z])(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{3,19}\b")


@dataclass(frozen=True)
class OfferMention:
    """One offer-like phrase found in a text."""

    kind: str  # percent | money_off | free_shipping | code
    text: str


def _num(value: str) -> float:
    return float(value.replace(",", "."))


def find_offer_mentions(text: str) -> list[OfferMention]:
    """Every offer-like phrase in ``text``."""
    found = [OfferMention("percent", m.group(0)) for m in _PERCENT.finditer(text)]
    found += [OfferMention("money_off", m.group(0)) for m in _MONEY_OFF.finditer(text)]
    found += [OfferMention("free_shipping", m.group(0)) for m in _FREE_SHIPPING.finditer(text)]
    # After "code"/"coupon" only code-looking words count ("the code below" is not a code).
    after = {m.group(1) for m in _CODE_AFTER_WORD.finditer(text)}
    codes = {c for c in after if c.isupper() or any(ch.isdigit() for ch in c)} | set(_CODE_TOKEN.findall(text))
    found += [OfferMention("code", code) for code in sorted(codes)]
    return found


def _fact_strings(request: DraftRequest) -> set[str]:
    return {str(v).upper() for v in request.facts.values() if v is not None}


def _accounted(mention: OfferMention, request: DraftRequest) -> bool:
    allowed_text = " ".join(f"{o.code} {o.description}" for o in request.offers)
    if mention.kind == "code":
        codes = {o.code.upper() for o in request.offers}
        # Order and checkout ids look like codes; they are facts, not offers.
        return mention.text.upper() in codes | _fact_strings(request)
    if mention.kind == "percent":
        value = _num(_PERCENT.search(mention.text).group(1))
        in_offer = any(_num(m.group(1)) == value for m in _PERCENT.finditer(allowed_text))
        # A usage-drop message may state the drop itself ("down 40 %"): a fact, not an offer.
        drop = request.facts.get("drop_pct")
        return in_offer or (drop is not None and round(float(drop)) == round(value))
    if mention.kind == "money_off":
        numbers = [_num(n) for n in re.findall(_NUMBER, mention.text)]
        offered = [_num(n) for n in re.findall(_NUMBER, allowed_text)]
        return bool(numbers) and all(n in offered for n in numbers)
    return bool(_FREE_SHIPPING.search(allowed_text))


def unlisted_offers(request: DraftRequest, text: str) -> list[OfferMention]:
    """Offer mentions in ``text`` that no allowed offer accounts for."""
    return [m for m in find_offer_mentions(text) if not _accounted(m, request)]


def check(candidate: Candidate) -> GuardrailResult:
    """Every offer mentioned is on the rule's allowlist."""
    bad = unlisted_offers(candidate.request, candidate.draft.text())
    if bad:
        listed = "; ".join(f"{m.kind} '{m.text}'" for m in bad)
        return GuardrailResult(NAME, False, f"offers not in the allowlist: {listed}")
    return GuardrailResult(NAME, True, f"{len(candidate.request.offers)} allowed offer(s), none invented")
