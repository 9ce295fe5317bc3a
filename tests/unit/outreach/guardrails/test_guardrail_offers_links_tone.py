"""Links only from the system, offers only from the allowlist, service messages purely factual."""

from __future__ import annotations

import pytest

from outreach.drafting.brief import DraftRequest, OfferRef
from outreach.drafting.draft import Draft
from outreach.guardrails import Candidate, links, offers, service_tone

FACTS = {"order_id": "O-1001", "amount": 49.9, "currency": "EUR", "new_delivery_date": "2026-11-25"}
SORRY10 = OfferRef("SORRY10", "10 % off the next order, valid 30 days")
CREDIT = OfferRef("CREDIT5", "€5 credit on the next order")
SHIPPING = OfferRef("SHIPFREE", "free shipping on the next order")
UNSUB = "https://shop.test/unsubscribe?t=abc.def"


def _input(text: str, *, topic: str = "marketing", allowed=(), final: str | None = None, facts=FACTS) -> Candidate:
    request = DraftRequest(channel="email", topic=topic, rule_id="r", brief="b", tone="t", signal_kind="shipping_delay",
                           facts=facts, offers=tuple(allowed), first_name="Anna", allowed_links=(UNSUB,))
    return Candidate(request, Draft(body=text), final if final is not None else text)


@pytest.mark.parametrize(
    ("text", "passed"),
    [
        (f"Your parcel is late.\n--\nUnsubscribe: {UNSUB}", True),  # the system's own link
        ("Track it at https://track.example.net/abc.", False),
        ("Track it at http://shop.test/unsubscribe", False),  # the same host with another path is foreign
        ("See www.deals.com for more", False),  # no scheme
        ("Go to bit.ly/abc123 now", False),  # a bare shortener domain
        ("Your order O-1001 for 49.90 is on its way. Mr. Smith e.g. i.e.", True),  # dots that are no links
        ("Write to help@shop.com", True),  # an e-mail address is the personal-data check's business
    ],
)
def test_links(text, passed):
    assert links.check(_input(text)).passed is passed


@pytest.mark.parametrize(
    ("subject", "preheader", "passed"),
    [
        ("Your parcel is late", "We are on it", True),
        ("Deals at www.deals.com", "", False),  # a link in the subject reaches the inbox too
        ("Your parcel", "track it: bit.ly/x1", False),  # and so does one in the preheader
    ],
)
def test_links_in_subject_and_preheader(subject, preheader, passed):
    request = _input("Your parcel is late.").request
    draft = Draft(body="Your parcel is late.", subject=subject, preheader=preheader)
    inp = Candidate(request, draft, "Your parcel is late.")
    assert links.check(inp).passed is passed


@pytest.mark.parametrize(
    ("text", "allowed", "passed"),
    [
        ("Sorry for the wait. Use SORRY10 for 10 % off your next order.", [SORRY10], True),
        ("Sorry for the wait. Use SORRY10 for 15 % off your next order.", [SORRY10], False),  # wrong percentage
        ("Enjoy 20% off your next order!", [], False),  # invented percentage
        ("Here is $5 off your next order.", [], False),  # invented money off
        ("Here is a €5 credit on your next order, code CREDIT5.", [CREDIT], True),
        ("Here is a €10 credit on your next order, code CREDIT5.", [CREDIT], False),  # amount not in the offer
        ("And free shipping on your next order!", [], False),
        ("Versandkostenfrei bei Ihrer nächsten Bestellung!", [], False),  # German free shipping
        ("Free shipping with SHIPFREE.", [SHIPPING], True),
        ("Use the code WELCOME20 at checkout.", [SORRY10], False),  # a code that is not on the list
        ("Gutschein: herbst24", [], False),  # lower-case code after a code word
        ("Your order O-1001 is late.", [], True),  # order ids look like codes but are facts
        ("Check the code below for details.", [], True),  # "code" followed by a plain word
    ],
)
def test_offers(text, allowed, passed):
    assert offers.check(_input(text, allowed=allowed)).passed is passed


def test_usage_drop_percentage_is_a_fact_not_an_offer():
    facts = {"drop_pct": 62.5}
    assert offers.check(_input("Your usage is down 62% lately.", facts=facts)).passed
    assert not offers.check(_input("Your usage is down 62%, take 30% off.", facts=facts)).passed


@pytest.mark.parametrize(
    ("text", "passed"),
    [
        ("Your order O-1001 is late. It should arrive on 25 November 2026. Reply if you need help.", True),
        ("Feel free to reply if you have a question.", True),  # "free" alone is not promotional
        ("We are happy to offer help: reply to this message.", True),  # "offer" as a verb
        ("We will deal with the carrier for you.", True),  # "deal" as a verb
        ("Don't miss our special offer!", False),
        ("Your order is late. As a sorry, enjoy 10% off your next order.", False),
        ("Your order is late. Check out our sale while you wait!", False),
        ("Your order is late. Shop now for more.", False),
        ("Ihre Bestellung verspätet sich. Sichern Sie sich unser Angebot!", False),
        ("Votre commande est en retard. Profitez de notre offre.", False),
        ("Su pedido llega tarde. Aproveche este descuento.", False),
    ],
)
def test_service_tone(text, passed):
    assert service_tone.check(_input(text, topic="service")).passed is passed


def test_marketing_topic_may_promote():
    assert service_tone.check(_input("Check out our sale!", topic="marketing")).passed


def test_service_rule_with_offers_fails_even_with_plain_text():
    assert not service_tone.check(_input("Your order is late.", topic="service", allowed=[SORRY10])).passed
