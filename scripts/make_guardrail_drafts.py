"""Write the labelled drafts the guardrails are measured on: ``tests/golden/guardrail_drafts.jsonl``.

Every line is one drafting request (channel, topic, signal facts, allowed offers, customer first
name and locale) and one draft, labelled:

- ``clean``: everything it states is grounded in the request: real-looking order ids of many
  shops (``o-c-C-0002``, ``#100234``, ``302-1234567-1234567``, ``WEB-DE-778812`` ...), product
  names with model numbers, sizes and percentages (``Sony WH-1000XM5``, ``7/8-Leggings``,
  ``Pullover 100 % Merino``), dates and amounts in the spellings people and models write
  (``25. November``, ``25.11.2026``, ``Nov 25``, ``49,90 €``, ``EUR 1.234,50``, ``$1,234.50``),
  the rule's own offers (also translated), in English and German, e-mail and SMS, written both
  by the project's templates and in free phrasings a language model produces. No guardrail
  should hold one of these.
- ``invented_offer`` / ``invented_date`` / ``invented_amount``: a clean draft with one invented
  discount, code, free shipping or gift, one date or one amount that no fact accounts for, in
  many spellings. ``catch`` names the guardrail that must hold it.

The drafts are generated (seeded, so the file is reproducible and a test checks it is up to
date), not downloaded: ``python scripts/make_guardrail_drafts.py`` rewrites the file.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project's templates, framing and segment count
OUTPUT = ROOT / "tests" / "golden" / "guardrail_drafts.jsonl"
SEED = 20261204
CLEAN_PER_CELL = 60  # per (language, channel, signal kind, drafter)

FIRST_NAMES = ("Ada", "Jonas", "Lea", "Mehmet", "Grace", "Zoë", "Lukas", "Amélie", "Noah", "Sophie", None)
CARRIERS = ("DHL", "UPS", "DPD", "Hermes", "GLS", "FedEx", "USPS", "Royal Mail", "PostNL")
ORDER_IDS = (
    "o-c-C-0002", "o-c-C-1187", "#100234", "#1001", "ORD-2026-004512", "A-10023", "WEB-DE-778812",
    "302-1234567-1234567", "1000-4827-AB", "SO12345", "R123456789", "BE-19-2026", "ord_12_3", "9F3K-22QX",
    "DE-K3-0001", "2026-000871", "INV-58213", "K-2026-11-0042", "X7-55310", "SHOP1-88421", "AB12CD34",
    "4711-0815", "N° 58821", "ORD/2026/1142", "WO-0000731",
)
PRODUCTS = {
    "en": ("Sony WH-1000XM5 headphones", "merino sweater, 100% wool", "Bosch GSR 12V-15 drill", "Dyson V15 Detect",
           "Nike Air Max 90", "Kindle Paperwhite 16 GB", "Garmin Forerunner 265", "RTX4070 graphics card",
           "Canon EOS R6 Mark II", "Dell XPS 13 9340", "PS5 DualSense controller", "USB-C charger 65 W",
           "TI-84 Plus calculator", "3-pack T-shirts", "Levi's 501 jeans W32/L34", "The North Face jacket",
           "Philips Hue E27 starter kit", "LEGO 42115 set", "AirPods Pro (2nd generation)", "24/7 smart plug"),
    "de": ("Kaffeevollautomat EQ.6 plus s300", "7/8-Leggings", "Pullover 100 % Merino", "Akkuschrauber GSR 12V-15",
           "Wandkalender 2027", "Bettwäsche 135x200", "Kinderwagen 3-in-1", "Rucksack 30L", "Sonnencreme LSF 50",
           "Vitamin D3 1000 IE", "Laufschuhe Gr. 42", "Espresso-Tassen 4er-Set", "Schreibtischlampe LED 10W",
           "Thermoskanne 0,5 l", "Exklusiv-Edition Brettspiel", "CO2-neutraler Wasserfilter", "T-Shirt 3er-Pack",
           "Tefal Ingenio 22-teilig", "Samsung Galaxy S24 Ultra", "MacBook Air M3 13 Zoll"),
}
CURRENCIES = {"en": ("USD", "GBP", "EUR"), "de": ("EUR", "EUR", "CHF")}
# Offers a rule may list, with how a drafter writes them in each language (the translations a model makes).
OFFERS = (
    {"code": "SORRY10", "description": "10 % off the next order, valid 30 days",
     "en": "10 % off your next order (valid 30 days) with the code SORRY10",
     "de": "10 % Rabatt auf deine nächste Bestellung (30 Tage gültig) mit dem Code SORRY10"},
    {"code": "MONTH-OFF", "description": "one month free on the current plan",
     "en": "one month free on your current plan: just use MONTH-OFF",
     "de": "einen Monat gratis in deinem aktuellen Tarif mit dem Code MONTH-OFF"},
    {"code": "WELCOME5", "description": "€5 off orders over €50",
     "en": "€5 off orders over €50 with the code WELCOME5",
     "de": "5 € Rabatt ab 50 € Bestellwert mit dem Code WELCOME5"},
    {"code": "FREESHIP", "description": "free shipping on the next order",
     "en": "free shipping on your next order with the code FREESHIP",
     "de": "kostenlosen Versand bei deiner nächsten Bestellung mit dem Code FREESHIP"},
)
MONTHS = {"en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                 "November", "December"),
          "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
                 "November", "Dezember")}
WEEKDAYS = {"en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
            "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")}
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


# -- spellings ------------------------------------------------------------------------------------
def date_text(day: dt.date, lang: str, rng: random.Random) -> str:
    """A date the way people and models write it in ``lang``."""
    month, weekday = MONTHS[lang][day.month - 1], WEEKDAYS[lang][day.weekday()]
    if lang == "de":
        return rng.choice((f"{day.day}. {month} {day.year}", f"{day.day}. {month}", f"{day.day:02d}.{day.month:02d}.{day.year}",
                           f"{day.day}.{day.month}.", f"{weekday}, {day.day}. {month}", f"{day.day}. {month[:3]}.",
                           day.isoformat(), f"{weekday}, den {day.day:02d}.{day.month:02d}."))
    return rng.choice((f"{day.day} {month} {day.year}", f"{month} {day.day}, {day.year}", f"{month[:3]} {day.day}",
                       f"{day.day} {month[:3]}", day.isoformat(), f"{weekday}, {day.day} {month}",
                       f"{month} {day.day}th" if day.day not in (1, 2, 3, 21, 22, 23, 31) else f"{month} {day.day}",
                       f"{day.month}/{day.day}/{day.year}", f"the {day.day}th of {month}"
                       if day.day not in (1, 2, 3, 21, 22, 23, 31) else f"{day.day} {month}"))


def amount_text(value: float, currency: str, lang: str, rng: random.Random) -> str:
    """An amount with its currency the way ``lang`` writes it."""
    symbol = SYMBOLS.get(currency)
    english = f"{value:,.2f}"
    german = english.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    if lang == "de":
        forms = [f"{german} {symbol or currency}", f"{currency} {german}", f"{german} {currency}"]
        if currency == "EUR":
            forms += [f"{german} Euro", f"{german}\u00a0€"]
        if value == int(value):
            forms.append(f"{int(value)},- {symbol or currency}")
        return rng.choice(forms)
    forms = [f"{currency} {english}", f"{english} {currency}"] + ([f"{symbol}{english}", f"{symbol} {english}"]
                                                                 if symbol else [])
    return rng.choice(forms)


# -- requests ------------------------------------------------------------------------------------
def _request(rng: random.Random, lang: str, channel: str, kind: str) -> dict[str, Any]:
    currency = rng.choice(CURRENCIES[lang])
    facts: dict[str, Any] = {"currency": currency}
    topic, offers = "marketing", []
    if kind == "shipping_delay":
        topic = "service"
        promised = dt.date(2026, rng.randint(1, 12), rng.randint(1, 28))
        facts.update(order_id=rng.choice(ORDER_IDS), carrier=rng.choice(CARRIERS), product=rng.choice(PRODUCTS[lang]),
                     amount=round(rng.lognormvariate(4.0, 0.9), 2), promised_delivery_date=promised.isoformat(),
                     new_delivery_date=(promised + dt.timedelta(days=rng.randint(1, 9))).isoformat(),
                     slip_hours=float(rng.choice((26, 48, 72, 96, 130))))
    elif kind == "checkout_idle":
        facts.update(checkout_id=f"chk_{rng.randint(1, 999)}_{rng.randint(1, 9)}", product=rng.choice(PRODUCTS[lang]),
                     cart_value=round(rng.lognormvariate(4.2, 1.0), 2))
        offers = [rng.choice(OFFERS)] if rng.random() < 0.5 else []
    else:  # usage_drop
        facts.update(drop_pct=rng.choice((45, 52, 60, 64.5, 71, 80, 90)), recent_days=rng.choice((7, 14)))
        offers = [rng.choice(OFFERS)] if rng.random() < 0.6 else []
    return {"channel": channel, "topic": topic, "signal_kind": kind, "facts": facts, "locale": lang,
            "first_name": rng.choice(FIRST_NAMES), "offers": [{"code": o["code"], "description": o["description"]}
                                                              for o in offers], "_offers": offers}


# -- free phrasings (what a language model writes) --------------------------------------------------
PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "hello": ("Hi {name},", "Hello {name},", "Dear {name},"),
        "hello_anon": ("Hello,", "Hi there,"),
        "shipping_delay": (
            "your order {order_id} is running late, and we are sorry for the wait.",
            "we're sorry: your {product} (order {order_id}) didn't leave our warehouse on time.",
            "{carrier} has reported a delay with your order {order_id}.",
            "order {order_id} ({product}) is taking longer than we promised on {promised}.",
            "we promised your {product} by {promised}, and we missed that date.",
        ),
        "shipping_when": ("It should now arrive on {new}.", "{carrier} now expects to deliver it on {new}.",
                          "The new estimated delivery date is {new}.", "You can expect it by {new}."),
        "shipping_amount": ("Nothing changes on your side: your order total stays {amount}.",
                            "You paid {amount}, and that stays the same.", ""),
        "checkout_idle": ("your cart with the {product} ({cart}) is still saved.",
                          "you left the {product} in your cart, and it is still there for you.",
                          "your cart worth {cart} is waiting whenever you are ready.",
                          "the {product} you picked is still in your cart."),
        "usage_drop": ("we noticed you have used your account about {drop} % less over the last {days} days.",
                       "your activity dropped by roughly {drop}% in the past {days} days, so we wanted to check in.",
                       "it looks like you have been using the app less lately."),
        "offer": ("If it helps: {offer}.", "As a small thank-you, you get {offer}.", "You can get {offer}."),
        "help": ("If you have a question, just reply to this message.",
                 "Did something get in the way? Just reply and tell us.",
                 "Reply to this e-mail if anything is unclear; we read every answer.",
                 "If you would rather cancel, reply and we will sort it out.",
                 "Our team is happy to help, simply answer this message."),
        "bye": ("Thanks for your patience.", "Best wishes,", "Kind regards,", ""),
        "subject": {"shipping_delay": ("Your order {order_id} is running late", "An update on order {order_id}",
                                       "Your {product} is delayed"),
                    "checkout_idle": ("Your cart is saved for you", "Still thinking about the {product}?"),
                    "usage_drop": ("How is it going?", "A quick check-in")},
    },
    "de": {
        "hello": ("Hallo {name},", "Hi {name},", "Liebe*r {name},", "Guten Tag {name},"),
        "hello_anon": ("Hallo,", "Guten Tag,"),
        "shipping_delay": (
            "deine Bestellung {order_id} verspätet sich leider, das tut uns leid.",
            "Ihre Bestellung {order_id} ({product}) hat unser Lager leider nicht rechtzeitig verlassen.",
            "{carrier} meldet eine Verzögerung bei deiner Bestellung {order_id}.",
            "wir hatten dir {product} bis {promised} versprochen und das leider nicht geschafft.",
            "die Lieferung deiner Bestellung {order_id} dauert länger als geplant.",
        ),
        "shipping_when": ("Sie soll jetzt am {new} ankommen.", "Neuer voraussichtlicher Liefertermin: {new}.",
                          "{carrier} rechnet jetzt mit der Zustellung am {new}.", "Wir erwarten sie bis {new}."),
        "shipping_amount": ("Für dich ändert sich nichts: Der Bestellwert bleibt bei {amount}.",
                            "Du hast {amount} bezahlt, daran ändert sich nichts.", ""),
        "checkout_idle": ("dein Warenkorb mit {product} ({cart}) ist noch gespeichert.",
                          "du hast {product} im Warenkorb gelassen, er wartet noch auf dich.",
                          "dein Warenkorb im Wert von {cart} ist weiterhin für dich reserviert.",
                          "{product} liegt noch in deinem Warenkorb."),
        "usage_drop": ("uns ist aufgefallen, dass du dein Konto in den letzten {days} Tagen etwa {drop} % weniger genutzt hast.",
                       "deine Nutzung ist in den letzten {days} Tagen um rund {drop}% gesunken, deshalb melden wir uns.",
                       "du warst in letzter Zeit seltener bei uns."),
        "offer": ("Falls es hilft: {offer}.", "Als kleines Dankeschön bekommst du {offer}.", "Du bekommst {offer}."),
        "help": ("Bei Fragen antworte einfach auf diese Nachricht.",
                 "Ist etwas dazwischengekommen? Antworte uns einfach.",
                 "Wenn du lieber stornieren möchtest, antworte uns kurz.",
                 "Unser Team hilft dir gern, antworte einfach auf diese E-Mail."),
        "bye": ("Danke für deine Geduld.", "Viele Grüße", "Beste Grüße", ""),
        "subject": {"shipping_delay": ("Deine Bestellung {order_id} verspätet sich", "Neuigkeiten zu Bestellung {order_id}",
                                       "{product}: Lieferung verzögert sich"),
                    "checkout_idle": ("Dein Warenkorb ist gespeichert", "Noch Interesse an {product}?"),
                    "usage_drop": ("Wie läuft es bei dir?", "Kurze Nachfrage")},
    },
}


def _slots(request: dict[str, Any], rng: random.Random) -> dict[str, str]:
    facts, lang = request["facts"], request["locale"]
    slots = {"name": request["first_name"] or "", "order_id": facts.get("order_id", ""),
             "product": facts.get("product", ""), "carrier": facts.get("carrier", ""),
             "drop": f"{round(float(facts.get('drop_pct', 0)))}", "days": str(facts.get("recent_days", ""))}
    for key, fact in (("promised", "promised_delivery_date"), ("new", "new_delivery_date")):
        if facts.get(fact):
            slots[key] = date_text(dt.date.fromisoformat(facts[fact]), lang, rng)
    for key, fact in (("amount", "amount"), ("cart", "cart_value")):
        if facts.get(fact) is not None:
            slots[key] = amount_text(float(facts[fact]), facts["currency"], lang, rng)
    offers = request["_offers"]
    slots["offer"] = offers[0][lang] if offers else ""
    return slots


def free_draft(request: dict[str, Any], rng: random.Random) -> dict[str, str]:
    """A draft as a language model would write it for ``request``."""
    lang, kind, sms = request["locale"], request["signal_kind"], request["channel"] == "sms"
    bank, slots = PHRASES[lang], _slots(request, rng)
    parts = [rng.choice(bank[kind])]
    if kind == "shipping_delay":
        parts.append(rng.choice(bank["shipping_when"]))
        if not sms:
            parts.append(rng.choice(bank["shipping_amount"]))
    if slots["offer"] and request["topic"] == "marketing":
        parts.append(rng.choice(bank["offer"]))
    parts.append(rng.choice(bank["help"][:2] if sms else bank["help"]))
    text = " ".join(p for p in parts if p).format(**slots)
    hello = rng.choice(bank["hello"]).format(**slots) if slots["name"] else rng.choice(bank["hello_anon"])
    if sms:
        return {"subject": "", "preheader": "", "body": f"{hello} {text}"}
    bye = rng.choice(bank["bye"])
    body = f"{hello}\n\n{text}"
    return {"subject": rng.choice(bank["subject"][kind]).format(**slots), "preheader": "",
            "body": body + (f"\n\n{bye}" if bye else "")}


# -- invented content ------------------------------------------------------------------------------
INVENTED_OFFERS = {
    "en": ("Use code SAVE15 for 15% off.", "Enjoy 20 % off everything this week.", "Take 15 percent off your next order.",
           "As a thank-you, shipping is free: free shipping on your next order.", "Here is a $10 voucher for you.",
           "We've added €5 credit to your account.", "Get €5 off your next purchase.", "Enter WELCOME10 at checkout.",
           "Your promo code is THANKYOU.", "You also get a free gift with your next order.",
           "Buy one, get one free until Sunday.", "Everything is half price for you today.",
           "Use the coupon code: NOV-2026-VIP for a surprise.", "Save 25% with BLACKFRIDAY25."),
    "de": ("Mit dem Code HERBST20 sparst du 20 %.", "Du bekommst 15 Prozent Rabatt auf deine nächste Bestellung.",
           "Als Entschuldigung: Versand gratis bei deiner nächsten Bestellung.", "Deine nächste Lieferung ist versandkostenfrei.",
           "Wir schenken dir einen 10-€-Gutschein.", "Du erhältst 5 € Rabatt auf deinen nächsten Einkauf.",
           "Dein Gutscheincode: DANKE2026", "Gib an der Kasse SORRY-JETZT ein.", "Dazu gibt es ein Geschenk gratis.",
           "Heute alles zum halben Preis für dich.", "Mit dem Rabattcode WINTER25 sparst du 25 %.",
           "Als Dankeschön erhältst du einen Gutschein über 10 Euro.", "2 für 1 nur bis Sonntag."),
}


def invented_offer(request: dict[str, Any], rng: random.Random) -> str:
    """An offer sentence that no allowed offer accounts for (none shares a number with an allowed one)."""
    allowed = set(re.findall(r"\d+", " ".join(o["description"] for o in request["offers"])))
    return rng.choice([s for s in INVENTED_OFFERS[request["locale"]] if not set(re.findall(r"\d+", s)) & allowed])


def invented_date(request: dict[str, Any], rng: random.Random) -> str:
    """A sentence with a date no fact holds, in one of many spellings."""
    lang = request["locale"]
    taken = {v for k, v in request["facts"].items() if k.endswith("_date")}
    while True:
        day = dt.date(2026, rng.randint(1, 12), rng.randint(1, 28))
        if day.isoformat() not in taken:
            break
    if rng.random() < 0.15 and taken:  # the right day and month in the wrong year
        real = dt.date.fromisoformat(sorted(taken)[0])
        day, text = real, f"{real.day}. {MONTHS[lang][real.month - 1]} 2025" if lang == "de" else f"{real.day} {MONTHS[lang][real.month - 1]} 2025"
    else:
        text = date_text(day, lang, rng)
    if lang == "de":
        return rng.choice((f"Wir liefern spätestens am {text}.", f"Die Rücksendung ist bis {text} möglich.",
                           f"Bestellt hattest du am {text}."))
    return rng.choice((f"We will deliver it by {text} at the latest.", f"Returns are possible until {text}.",
                       f"You placed the order on {text}."))


def invented_amount(request: dict[str, Any], rng: random.Random) -> str:
    """A sentence with an amount no fact holds (a wrong value or a wrong currency)."""
    lang, facts = request["locale"], request["facts"]
    real = facts.get("amount", facts.get("cart_value"))
    if real is not None and rng.random() < 0.3:  # the right value in another currency
        currency = rng.choice([c for c in ("USD", "GBP", "EUR", "CHF") if c != facts["currency"]])
        text = amount_text(float(real), currency, lang, rng)
    else:
        value = round(rng.choice((4.95, 9.99, 12.5, 45.9, 99.0, 1234.5, 20.0, 7.0)) + rng.randint(0, 3), 2)
        if real is not None and abs(value - float(real)) < 0.005:
            value += 1.0
        text = amount_text(value, facts["currency"], lang, rng)
    if lang == "de":
        return rng.choice((f"Die Versandkosten von {text} übernehmen wir.", f"Du bekommst {text} zurück.",
                           f"Der Restbetrag beträgt {text}."))
    return rng.choice((f"We refund the {text} shipping fee.", f"You will get {text} back.",
                       f"The remaining balance is {text}."))


def _insert(draft: dict[str, str], sentence: str, rng: random.Random) -> dict[str, str]:
    body = draft["body"]
    paragraphs = body.split("\n\n")
    if len(paragraphs) > 1:
        paragraphs[1] = f"{paragraphs[1]} {sentence}"
        return {**draft, "body": "\n\n".join(paragraphs)}
    return {**draft, "body": f"{body} {sentence}"}


# -- assembly --------------------------------------------------------------------------------------
def template_draft(request: dict[str, Any]) -> dict[str, str]:
    """The project's own template drafter on the same request."""
    from outreach.drafting.brief import DraftRequest, OfferRef
    from outreach.drafting.template import TemplateDrafter

    draft = TemplateDrafter().render(DraftRequest(
        channel=request["channel"], topic=request["topic"], rule_id="corpus", brief="", tone="",
        signal_kind=request["signal_kind"], signal_reason=request.get("reason", "late"), facts=request["facts"],
        offers=tuple(OfferRef(**o) for o in request["offers"]), first_name=request["first_name"],
        locale=request["locale"]))
    return {"subject": draft.subject, "preheader": draft.preheader, "body": draft.body}


def sms_fits(draft: dict[str, str], lang: str, limit: int = 2) -> bool:
    """True when the SMS as sent (sender prefix and opt-out line included) takes at most ``limit`` segments."""
    from outreach.drafting.draft import Draft
    from outreach.drafting.system_parts import SystemParts, frame_sms
    from outreach.guardrails.sms_segments import count_segments

    framed = frame_sms(Draft(body=draft["body"], language=lang), SystemParts("retain", ""), ai_drafted=True)
    return count_segments(framed.text).segments <= limit


def build(seed: int = SEED) -> list[dict[str, Any]]:
    """Every labelled draft, in a stable order."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for lang in ("en", "de"):
        for channel in ("email", "sms"):
            for kind in ("shipping_delay", "checkout_idle", "usage_drop"):
                for drafter in ("template", "free"):
                    for _ in range(CLEAN_PER_CELL):
                        while True:  # a clean SMS fits the segment limit, as a good drafter keeps it
                            request = _request(rng, lang, channel, kind)
                            request["reason"] = rng.choice(("late", "not_shipped", "exception"))
                            draft = template_draft(request) if drafter == "template" else free_draft(request, rng)
                            if channel == "email" or sms_fits(draft, lang):
                                break
                        rows.append(_row(len(rows), request, draft, drafter, "clean", None))
                        roll = rng.random()
                        if roll < 0.15:
                            sentence = invented_offer(request, rng)
                            rows.append(_row(len(rows), request, _insert(draft, sentence, rng), drafter,
                                             "invented_offer", "offers", sentence))
                        elif roll < 0.28:
                            sentence = invented_date(request, rng)
                            rows.append(_row(len(rows), request, _insert(draft, sentence, rng), drafter,
                                             "invented_date", "facts", sentence))
                        elif roll < 0.4:
                            sentence = invented_amount(request, rng)
                            rows.append(_row(len(rows), request, _insert(draft, sentence, rng), drafter,
                                             "invented_amount", "facts", sentence))
    return rows


def _row(n: int, request: dict[str, Any], draft: dict[str, str], drafter: str, label: str, catch: str | None,
         invented: str | None = None) -> dict[str, Any]:
    public = {k: v for k, v in request.items() if not k.startswith("_")}
    return {"id": f"d{n:05d}", "label": label, "catch": catch, "invented": invented, "drafter": drafter,
            "request": public, "draft": draft}


def render(rows: list[dict[str, Any]]) -> str:
    """The file's text: one JSON object per line."""
    return "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)


def main() -> None:
    """Rewrite the golden file."""
    rows = build()
    OUTPUT.write_text(render(rows), encoding="utf-8")
    labels: dict[str, int] = {}
    for row in rows:
        labels[row["label"]] = labels.get(row["label"], 0) + 1
    print(f"wrote {len(rows)} drafts to {OUTPUT.relative_to(ROOT)}: {labels}")


if __name__ == "__main__":
    main()
