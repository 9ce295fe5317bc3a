"""The template drafter: every kind and locale renders a draft that passes every guardrail."""

from __future__ import annotations

import itertools

import pytest
from jinja2.exceptions import SecurityError

from outreach.drafting.brief import DraftRequest, OfferRef
from outreach.drafting.compose import compose
from outreach.drafting.system_parts import SystemParts
from outreach.drafting.template import TemplateDrafter

FACTS = {
    "shipping_delay": {"order_id": "O-1001", "amount": 49.9, "currency": "EUR", "new_delivery_date": "2026-11-25",
                       "promised_delivery_date": "2026-11-22"},
    "checkout_idle": {"checkout_id": "co-1", "cart_value": 1234.5, "currency": "EUR", "items": 3},
    "usage_drop": {"drop_pct": 62.5, "recent_days": 7},
}
OFFER = OfferRef("MONTH-OFF", "one month free on the current plan")
SYSTEM = SystemParts("Shop", "Shop GmbH, Hauptstraße 5, 10115 Berlin")
DRAFTER = TemplateDrafter()


def _request(kind, topic, locale, channel, reason="eta_slip", first_name="Anna", offers=(), unsubscribe_url=None):
    return DraftRequest(channel=channel, topic=topic, rule_id="r", brief="b", tone="t", signal_kind=kind,
                        signal_reason=reason, facts=FACTS.get(kind, {}), first_name=first_name, locale=locale,
                        offers=tuple(offers), unsubscribe_url=unsubscribe_url,
                        allowed_links=(unsubscribe_url,) if unsubscribe_url else ())


CASES = [
    *[("shipping_delay", "service", r, ()) for r in ("eta_slip", "not_shipped", "exception")],
    ("shipping_delay", "marketing", "eta_slip", (OfferRef("SORRY10", "10 % off the next order, valid 30 days"),)),
    ("checkout_idle", "marketing", "idle", ()),
    ("usage_drop", "marketing", "usage_drop", (OFFER,)),
]


@pytest.mark.parametrize(("case", "locale", "channel"), itertools.product(CASES, ["en", "de"], ["email", "sms"]))
def test_every_default_template_passes_the_guardrails(case, locale, channel):
    kind, topic, reason, offers = case
    request = _request(kind, topic, locale, channel, reason, offers=offers, unsubscribe_url="https://shop.test/u/t1")
    message = compose(request, drafter=None, fallback=DRAFTER, system=SYSTEM)
    assert message.drafter == "template" and message.language == locale
    assert message.passed, [g for g in message.guardrails if not g.passed]


def test_facts_appear_in_the_locale_spelling():
    de = DRAFTER.render(_request("shipping_delay", "service", "de-AT", "email"))
    en = DRAFTER.render(_request("shipping_delay", "service", "en-GB", "sms", first_name=None))
    assert "25. November 2026" in de.body and "O-1001" in de.subject and de.language == "de"
    assert "25 November 2026" in en.body and en.body.startswith("your order")  # no name, no greeting


def test_offers_only_in_marketing_messages():
    offer = (OfferRef("SORRY10", "10 % off"),)
    assert "SORRY10" in DRAFTER.render(_request("shipping_delay", "marketing", "en", "sms", offers=offer)).body
    assert "SORRY10" not in DRAFTER.render(_request("shipping_delay", "service", "en", "sms", offers=offer)).body


@pytest.mark.parametrize(("locale", "kind", "language"), [("fr", "usage_drop", "en"), ("de", "no_such_kind", "de")])
def test_fallbacks_to_english_and_to_the_generic_template(locale, kind, language):
    draft = DRAFTER.render(_request(kind, "marketing", locale, "email"))
    assert draft.language == language and draft.subject


def test_templates_are_sandboxed(tmp_path):
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "generic.j2").write_text("{% set sms %}{{ ''.__class__.__mro__[1].__subclasses__() }}{% endset %}")
    with pytest.raises(SecurityError):
        TemplateDrafter(tmp_path).render(_request("usage_drop", "marketing", "en", "sms"))


def test_html_is_autoescaped():
    request = _request("usage_drop", "marketing", "en", "email", first_name="<script>alert(1)</script>",
                       unsubscribe_url="https://shop.test/u?a=1&b=2")
    message = compose(request, drafter=None, fallback=DRAFTER, system=SYSTEM)
    assert "<script>" not in message.html and "&lt;script&gt;" in message.html
    assert 'href="https://shop.test/u?a=1&amp;b=2"' in message.html
