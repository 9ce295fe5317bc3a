"""Dates and amounts in a draft must be the signal's facts, whichever way they are written."""

from __future__ import annotations

import pytest

from outreach.drafting.brief import DraftRequest, OfferRef
from outreach.drafting.draft import Draft
from outreach.drafting.locale_format import format_amount, format_date
from outreach.guardrails import Candidate, facts
from outreach.guardrails.facts import parse_number

FACTS = {"order_id": "O-1001", "amount": 1234.5, "currency": "EUR", "new_delivery_date": "2026-11-25",
         "promised_delivery_date": "2026-11-22"}


def _check(text: str, *, offers=(), fact_values=FACTS):
    request = DraftRequest(channel="email", topic="service", rule_id="r", brief="b", tone="t", signal_kind="shipping_delay",
                           facts=fact_values, offers=tuple(offers))
    return facts.check(Candidate(request, Draft(body=text), text))


@pytest.mark.parametrize(
    ("text", "passed"),
    [
        ("It should arrive on 2026-11-25.", True),  # ISO
        ("It should arrive on 25 November 2026.", True),
        ("It should arrive on November 25, 2026.", True),
        ("It should arrive on Nov 25.", True),  # no year: day and month match
        ("Sie soll am 25. November 2026 ankommen.", True),
        ("Sie soll am 25.11.2026 ankommen.", True),
        ("Elle arrivera le 25 novembre 2026.", True),
        ("Llegará el 25 de noviembre de 2026.", True),
        ("It should arrive on 11/25.", True),  # US order
        ("It should arrive on 25/11/2026.", True),  # European order
        ("It was due 22 November, now 25 November.", True),  # both fact dates
        ("It should arrive on 28 November 2026.", False),  # wrong day
        ("It should arrive on 25 November 2027.", False),  # wrong year
        ("It should arrive on 2026-12-25.", False),  # wrong month
        ("It should arrive on 12/12.", False),  # neither reading is a fact
        ("Your order total was €1,234.50.", True),
        ("Ihr Bestellwert: 1.234,50 €.", True),
        ("Your order total was EUR 1234.50.", True),
        ("Your order total was €1,243.50.", False),  # digits swapped
        ("Your order total was $1,234.50.", False),  # right number, wrong currency
        ("We refund 100 euros.", False),  # an amount the facts do not have
        ("Your order is late. Reply if you need help.", True),  # no dates or amounts at all
    ],
)
def test_dates_and_amounts(text, passed):
    result = _check(text)
    assert result.passed is passed, result.detail


def test_offer_amounts_are_allowed():
    credit = OfferRef("CREDIT5", "€5 credit on your next order")
    assert _check("Here is a €5 credit, code CREDIT5.", offers=[credit]).passed
    assert not _check("Here is a €5 credit, code CREDIT5.").passed


def test_a_date_without_date_facts_fails():
    assert not _check("It arrives on 25 November 2026.", fact_values={"order_id": "O-1"}).passed


@pytest.mark.parametrize("locale", ["en", "de", "fr", "es"])
def test_what_the_templates_write_parses_back(locale):
    text = f"{format_date('2026-11-25', locale)} {format_amount(1234.5, 'EUR', locale)}"
    assert _check(text).passed, text


@pytest.mark.parametrize(
    ("text", "value"),
    [("1,234.50", 1234.5), ("1.234,50", 1234.5), ("49,90", 49.9), ("49.9", 49.9), ("1.234", 1234.0), ("12", 12.0)],
)
def test_parse_number(text, value):
    assert parse_number(text) == pytest.approx(value)
