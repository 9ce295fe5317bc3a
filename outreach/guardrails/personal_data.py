"""No personal data beyond the first name: no e-mail address, phone number, last name or address.

Contact details are never given to a drafter, so one showing up means a leak from somewhere else
(or a model inventing one); both are caught. Details are reported by kind, never by value.
"""

from __future__ import annotations

import re

from outreach.drafting.brief import DraftRequest
from outreach.guardrails.facts import find_dates
from outreach.guardrails.grounding import without_quoted_facts
from outreach.guardrails.result import Candidate, GuardrailResult

NAME = "personal_data"

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<![\w.])\+?\d[\d ()./-]{6,}\d(?![\w])")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _fact_digit_strings(request: DraftRequest) -> set[str]:
    # Order numbers and dates are long digit runs too; they are facts, not phone numbers.
    strings = {_digits(str(v)) for v in request.facts.values() if v is not None}
    return {s for s in strings if s}


def _without_dates(text: str) -> str:
    # "25.11.2026" and "11/25/2026" are eight digits with separators, like a phone number; dates are
    # the facts check's business.
    for phrase in sorted({d.text for d in find_dates(text)}, key=len, reverse=True):
        text = text.replace(phrase, " ")
    return text


def personal_data_kinds(request: DraftRequest, text: str) -> list[str]:
    """Kinds of personal data found in ``text`` (``email``, ``phone``, ``last_name``, ``address``)."""
    kinds: list[str] = []
    if EMAIL.search(text):
        kinds.append("email")
    facts = _fact_digit_strings(request)
    for match in PHONE.finditer(_without_dates(without_quoted_facts(request, text))):
        digits = _digits(match.group(0))
        if len(digits) >= 8 and digits not in facts and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", match.group(0)):
            kinds.append("phone")
            break
    private = request.private
    if private.phone and _digits(private.phone)[-8:] in _digits(text) and "phone" not in kinds:
        kinds.append("phone")
    if private.email and private.email.lower() in text.lower() and "email" not in kinds:
        kinds.append("email")
    first = (request.first_name or "").lower()
    if private.last_name and private.last_name.lower() != first and re.search(
        rf"(?i)\b{re.escape(private.last_name)}\b", text
    ):
        kinds.append("last_name")
    if private.address and private.address.lower() in text.lower():
        kinds.append("address")
    return kinds


def check(candidate: Candidate) -> GuardrailResult:
    """Nothing personal beyond the first name appears in the draft."""
    kinds = personal_data_kinds(candidate.request, candidate.draft.text())
    if kinds:
        return GuardrailResult(NAME, False, f"personal data in the draft: {', '.join(kinds)}")
    return GuardrailResult(NAME, True, "first name only")
