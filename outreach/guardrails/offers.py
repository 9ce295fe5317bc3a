"""Offers only from the rule's allowlist: no invented discounts, credits, free shipping, gifts or codes.

Looks for percentages ("15% off", "15 %", "15 Prozent"), money off ("$5 off", "5 € Rabatt", "a $10
voucher", "einen 10-€-Gutschein", "Gutschein über 10 Euro"), free shipping and free gifts, "buy one
get one", "2 für 1" and half price in en/de (and the common fr/es phrasings), and codes: upper-case
tokens with digits (``SAVE20``), hyphenated upper-case tokens (``SORRY-JETZT``), and any code-like
word after "code"/"coupon"/"Gutschein", "code is", "enter ... at checkout", "an der Kasse ... ein".
Each is allowed only when an allowed offer's code or description accounts for it, so a translated
allowed offer passes and a changed value does not. Quoted facts (order ids, product names) are
blanked first: ``o-c-C-0002`` and ``Sony WH-1000XM5`` are not codes (``outreach.guardrails.grounding``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from outreach.drafting.brief import DraftRequest
from outreach.guardrails.grounding import without_quoted_facts
from outreach.guardrails.result import Candidate, GuardrailResult

NAME = "offers"

_NUMBER = r"\d+(?:[.,]\d+)?"
_PERCENT = re.compile(rf"(?i)({_NUMBER})\s?(?:%|(?:percent|per cent|prozent|pour cent|por ciento)\b)")
_AMOUNT = (rf"(?:[$€£]\s?{_NUMBER}|\b(?:eur|usd|gbp|chf)\s?{_NUMBER}"
           rf"|{_NUMBER}(?:,-{{1,2}})?\s?-?\s?(?:[$€£]|(?:eur|usd|gbp|chf|euros?|dollars?|franken)\b))")
_OFF_WORDS = (r"(?:off|discount|credit|voucher|gift ?card|coupon|rabatt|nachlass|gutschrift|gutschein|ermäßigung"
              r"|de (?:remise|réduction|descuento)|menos)")
_MONEY_OFF = re.compile(rf"(?i){_AMOUNT}[\s-]*{_OFF_WORDS}|{_OFF_WORDS}\s+(?:über|von|in höhe von|of|worth)\s+{_AMOUNT}")
_MONEY = re.compile(rf"(?i){_AMOUNT}")
_FREE_SHIPPING = re.compile(
    r"(?i)\bfree (?:shipping|delivery|returns)\b|\bshipping is free\b|\bkostenlose[nrs]? (?:versand|lieferung)\b"
    r"|\bversandkostenfrei\w*|\b(?:gratis|kostenlos)[- ]?(?:versand|lieferung)\b"
    r"|\b(?:versand|lieferung) (?:ist )?(?:gratis|kostenlos)\b"
    r"|\blivraison gratuite\b|\benv[íi]o gratis\b|\benv[íi]o gratuito\b"
)
_FREE_ITEM = re.compile(
    r"(?i)\bfree gifts?\b|\bgifts? for free\b|\bgeschenke? gratis\b|\bgratis[- ]?(?:geschenk|zugabe)\w*"
    r"|\bbuy one,? get one\b|\bbogo\b|\b(?:2|two|zwei) (?:for|für) (?:1|one|eins?)\b|\bhalf[- ]price\b"
    r"|\bhalben preis\b|\bcadeau (?:gratuit|offert)\b|\bregalo gratis\b"
)
_TOKEN = r"([A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_CODE_AFTER_WORD = re.compile(
    r"(?i)\b(?:code|coupon|voucher|gutschein(?:code)?|rabattcode|promo ?code|code promo|c[óo]digo|cup[óo]n)"
    rf"(?:\s+(?:is|lautet|ist))?\s*:?\s*[\"'«„]?{_TOKEN}"
)
_CODE_ENTERED = re.compile(
    rf"(?i)\b(?:enter|apply|redeem|use)\s+{_TOKEN}\s+(?:at|in|during)\s+(?:the\s+)?(?:checkout|basket|cart)\b"
    rf"|\bkasse\s+{_TOKEN}\s+ein\b|\b{_TOKEN}\s+(?:an der kasse|im warenkorb)\s+ein(?:geben|lösen)?\b"
)
# Upper case with a digit (SAVE20), or upper-case parts joined by hyphens (SORRY-JETZT); never ending in "-".
_CODE_TOKEN = re.compile(
    r"\b(?=[A-Z0-9-]*[A-Z])(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{2,18}[A-Z0-9]\b|\b[A-Z]{2,}(?:-[A-Z0-9]{2,})+\b"
)


@dataclass(frozen=True)
class OfferMention:
    """One offer-like phrase found in a text."""

    kind: str  # percent | money_off | free_shipping | code
    text: str


def _num(value: str) -> float:
    return float(value.replace(",", "."))


def _code_like(word: str) -> bool:
    return word.isupper() or any(ch.isdigit() for ch in word)


def find_offer_mentions(text: str) -> list[OfferMention]:
    """Every offer-like phrase in ``text``."""
    found = [OfferMention("percent", m.group(0)) for m in _PERCENT.finditer(text)]
    found += [OfferMention("money_off", m.group(0)) for m in _MONEY_OFF.finditer(text)]
    found += [OfferMention("free_shipping", m.group(0)) for m in _FREE_SHIPPING.finditer(text)]
    found += [OfferMention("free_item", m.group(0)) for m in _FREE_ITEM.finditer(text)]
    # After "code", "enter ... at checkout" and the like only code-looking words count ("the code below" is none).
    named = {word for pattern in (_CODE_AFTER_WORD, _CODE_ENTERED) for m in pattern.finditer(text)
             for word in m.groups() if word and _code_like(word)}
    found += [OfferMention("code", code) for code in sorted(named | set(_CODE_TOKEN.findall(text)))]
    return found


def _accounted(mention: OfferMention, request: DraftRequest) -> bool:
    allowed_text = " ".join(f"{o.code} {o.description}" for o in request.offers)
    if mention.kind == "code":
        return mention.text.upper() in {o.code.upper() for o in request.offers}
    if mention.kind == "percent":
        value = _num(_PERCENT.search(mention.text).group(1))
        in_offer = any(_num(m.group(1)) == value for m in _PERCENT.finditer(allowed_text))
        # A usage-drop message may state the drop itself ("down 40 %"): a fact, not an offer.
        drop = request.facts.get("drop_pct")
        return in_offer or (drop is not None and round(float(drop)) == round(value))
    if mention.kind == "money_off":
        numbers = [_num(n) for n in re.findall(_NUMBER, mention.text)]
        offered = [_num(n) for m in _MONEY.finditer(allowed_text) for n in re.findall(_NUMBER, m.group(0))]
        return bool(numbers) and all(n in offered for n in numbers)
    pattern = _FREE_SHIPPING if mention.kind == "free_shipping" else _FREE_ITEM
    return bool(pattern.search(allowed_text))


def unlisted_offers(request: DraftRequest, text: str) -> list[OfferMention]:
    """Offer mentions in ``text`` that no allowed offer accounts for (quoted facts are not offers)."""
    return [m for m in find_offer_mentions(without_quoted_facts(request, text)) if not _accounted(m, request)]


def check(candidate: Candidate) -> GuardrailResult:
    """Every offer mentioned is on the rule's allowlist."""
    bad = unlisted_offers(candidate.request, candidate.draft.text())
    if bad:
        listed = "; ".join(f"{m.kind} '{m.text}'" for m in bad)
        return GuardrailResult(NAME, False, f"offers not in the allowlist: {listed}")
    return GuardrailResult(NAME, True, f"{len(candidate.request.offers)} allowed offer(s), none invented")
