"""Dates and amounts in a draft must match the signal's facts.

Parses the spellings the templates write and the common ones a model writes (ISO, ``25.11.2026``,
``25/11``, ``25 November 2026``, ``November 25, 2026``, ``the 25th of November``, ``25. November``,
``25 de noviembre``, ``€49.90``, ``49,90 €``, ``49,- €``, ``EUR 49.90``, ``$1,234.50``) and compares
each with the facts: a date must be one of the fact dates (a date without a year matches on day
and month), an amount one of the fact amounts (order amount, cart value) or an amount from an
allowed offer, in its currency. Quoted names are blanked first ("7/8-Leggings" is no date), and
"24/7" is round the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from outreach.drafting.brief import DraftRequest
from outreach.drafting.locale_format import MONTHS
from outreach.guardrails.grounding import without_quoted_facts
from outreach.guardrails.result import Candidate, GuardrailResult

NAME = "facts"

_MONTH_NUMBER: dict[str, int] = {}
for _names in MONTHS.values():
    for _i, _name in enumerate(_names, start=1):
        _MONTH_NUMBER[_name.lower()] = _i
        _MONTH_NUMBER.setdefault(_name[:3].lower(), _i)
_MONTH_NUMBER.update({"sept": 9, "okt": 10, "dez": 12, "mär": 3, "mrz": 3})
_MONTH = "|".join(sorted((re.escape(m) for m in _MONTH_NUMBER), key=len, reverse=True))

_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_DOTTED = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})?")
_SLASHED = re.compile(r"\b(?!24/7\b)(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?\b")  # "24/7" is round the clock
_DAY_MONTH = re.compile(
    rf"(?i)\b(\d{{1,2}})(?:\.|st|nd|rd|th|er)?\s+(?:de\s+|of\s+)?({_MONTH})\.?(?:\s+(?:de\s+)?(\d{{4}}))?\b"
)
_MONTH_DAY = re.compile(rf"(?i)\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?")

# Thousands by dot, comma or (narrow) no-break space; decimals by dot or comma; "49,-" is a whole amount.
_NUM = r"(?:\d{1,3}(?:[.,\u202f\u00a0]\d{3})+|\d+)(?:[.,]\d{1,2}|,-{1,2}|\.-{1,2}|,–)?(?!\d)"
_CURRENCY_WORDS = {"$": "USD", "€": "EUR", "£": "GBP", "euro": "EUR", "euros": "EUR", "dollar": "USD",
                   "dollars": "USD"}
_AMOUNT = re.compile(
    rf"(?i)(?P<pre>[$€£]|\b(?:EUR|USD|GBP|CHF)\b)\s?(?P<n1>{_NUM})"
    rf"|(?P<n2>{_NUM})\s?(?P<post>[$€£](?!\s?\d)|(?:EUR|USD|GBP|CHF|euros?|dollars?)\b)"
)


@dataclass(frozen=True)
class DateMention:
    """A date found in text; ``year`` None when the text gave none."""

    text: str
    month: int
    day: int
    year: int | None = None

    def matches(self, date: dt.date) -> bool:
        """Same day and month, and the same year when one was written."""
        return (self.month, self.day) == (date.month, date.day) and self.year in (None, date.year)


@dataclass(frozen=True)
class AmountMention:
    """A money amount found in text with its currency (ISO code)."""

    text: str
    value: float
    currency: str


def _year(text: str | None) -> int | None:
    if not text:
        return None
    return int(text) + 2000 if len(text) == 2 else int(text)


def _valid(month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= 31


def find_dates(text: str) -> list[DateMention]:
    """Every date-like phrase in ``text`` (both readings of an ambiguous ``d/m``)."""
    found: list[DateMention] = []
    for m in _ISO.finditer(text):
        found.append(DateMention(m.group(0), int(m.group(2)), int(m.group(3)), int(m.group(1))))
    for m in _DOTTED.finditer(text):
        found.append(DateMention(m.group(0), int(m.group(2)), int(m.group(1)), _year(m.group(3))))
    for m in _SLASHED.finditer(text):
        # 11/25 (US) and 25/11 (Europe): keep both readings, the check accepts either.
        a, b = int(m.group(1)), int(m.group(2))
        found.append(DateMention(m.group(0), b, a, _year(m.group(3))))
        found.append(DateMention(m.group(0), a, b, _year(m.group(3))))
    for m in _DAY_MONTH.finditer(text):
        found.append(DateMention(m.group(0), _MONTH_NUMBER[m.group(2).lower()], int(m.group(1)), _year(m.group(3))))
    for m in _MONTH_DAY.finditer(text):
        found.append(DateMention(m.group(0), _MONTH_NUMBER[m.group(1).lower()], int(m.group(2)), _year(m.group(3))))
    return [d for d in found if _valid(d.month, d.day)]


def parse_number(text: str) -> float:
    """``1,234.50``, ``1.234,50``, ``49,90``, ``49.90`` and ``49,-`` as floats (the last separator before 1-2 digits is decimal)."""
    digits = re.sub(r"[.,](?:-{1,2}|–)$", "", text).replace("\u202f", "").replace("\u00a0", "").replace(" ", "")
    match = re.search(r"[.,](\d{1,2})$", digits)
    if match:
        whole = re.sub(r"[.,]", "", digits[: match.start()])
        return float(f"{whole}.{match.group(1)}")
    return float(re.sub(r"[.,]", "", digits))


def find_amounts(text: str) -> list[AmountMention]:
    """Every money amount in ``text``."""
    found = []
    for m in _AMOUNT.finditer(text):
        mark = (m.group("pre") or m.group("post")).lower()
        currency = _CURRENCY_WORDS.get(mark, mark.upper())
        found.append(AmountMention(m.group(0).strip(), parse_number(m.group("n1") or m.group("n2")), currency))
    return found


def _fact_dates(request: DraftRequest) -> list[dt.date]:
    return [dt.date.fromisoformat(str(v)[:10]) for k, v in request.facts.items() if k.endswith("_date") and v]


def _fact_amounts(request: DraftRequest) -> list[tuple[float, str | None]]:
    currency = request.facts.get("currency")
    amounts = [(float(request.facts[k]), currency) for k in ("amount", "cart_value") if request.facts.get(k) is not None]
    for offer in request.offers:
        amounts += [(a.value, a.currency) for a in find_amounts(offer.description)]
    return amounts


def mismatches(request: DraftRequest, text: str) -> list[str]:
    """Dates and amounts in ``text`` that no fact accounts for."""
    dates = _fact_dates(request)
    # An ambiguous d/m yields two readings of one phrase; the phrase fails only if neither is a fact.
    readings: dict[str, list[DateMention]] = {}
    for mention in find_dates(text):
        readings.setdefault(mention.text, []).append(mention)
    bad = [f"date '{phrase}'" for phrase, options in readings.items()
           if not any(option.matches(date) for option in options for date in dates)]
    amounts = _fact_amounts(request)
    for a in find_amounts(text):
        if not any(abs(a.value - v) < 0.005 and (c is None or c == a.currency) for v, c in amounts):
            bad.append(f"amount '{a.text}'")
    return bad


def check(candidate: Candidate) -> GuardrailResult:
    """Every date and amount in the draft is one of the signal's facts (quoted names like "7/8-Leggings" are no dates)."""
    bad = mismatches(candidate.request, without_quoted_facts(candidate.request, candidate.draft.text()))
    if bad:
        return GuardrailResult(NAME, False, f"not in the signal's facts: {', '.join(bad)}")
    return GuardrailResult(NAME, True, "dates and amounts match the facts")
