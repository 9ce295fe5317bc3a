"""The keyword baseline: an intent from the first matching word list (pure).

What a helpdesk's routing rules do, and what the classifier must beat on the labelled set
(``retain triage evaluate``). Opt-outs are the project's own SMS keyword rules
(``outreach.webhooks.sms_keywords``); then cancellation, billing, complaint, order questions and
thanks words in English, German, French and Spanish, checked in that order.

>>> keyword_intent("Where is my parcel?").value, keyword_intent("Please cancel my order").value
('order_status', 'cancellation')
"""

from __future__ import annotations

import re

from outreach.conversations.triage import Intent, Sentiment, Triage
from outreach.guardrails.language import detect_language
from outreach.webhooks.sms_keywords import ReplyKind, classify_reply

_WORDS: tuple[tuple[Intent, tuple[str, ...]], ...] = (
    (Intent.CANCELLATION, ("cancel", "cancellation", "stornieren", "storniere", "kündigen", "kündigung", "annuler",
                           "annulez", "cancelar", "cancelen")),
    (Intent.BILLING, ("charge", "charged", "refund", "invoice", "bill", "billing", "payment", "paid", "rechnung",
                      "abgebucht", "erstattung", "zahlung", "facture", "remboursement", "factura", "reembolso")),
    (Intent.COMPLAINT, ("complaint", "terrible", "awful", "worst", "unacceptable", "disappointed", "rude",
                        "beschwerde", "unverschämt", "enttäuscht", "inacceptable", "déçu", "queja", "inaceptable")),
    (Intent.ORDER_STATUS, ("where", "parcel", "package", "delivery", "deliver", "tracking", "arrive", "shipped",
                           "order", "wo", "paket", "lieferung", "bestellung", "colis", "livraison", "commande",
                           "pedido", "paquete", "entrega")),
    (Intent.THANKS, ("thanks", "thank", "thx", "great", "perfect", "danke", "super", "merci", "gracias")),
)
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def keyword_intent(text: str) -> Intent:
    """The intent of the first word list with a word in ``text`` (``other`` when none has)."""
    if classify_reply(text) == ReplyKind.OPT_OUT:
        return Intent.OPT_OUT
    words = {w.lower() for w in _TOKEN.findall(text)}
    for intent, keywords in _WORDS:
        if words & set(keywords):
            return intent
    return Intent.OTHER


class KeywordTriage:
    """A triager from keywords alone: intent by word lists, sentiment neutral, never frustrated."""

    name = "keywords"

    def triage(self, text: str, *, locale: str | None = None) -> Triage:
        """The keyword triage of ``text``."""
        language, _ = detect_language(text)
        return Triage(keyword_intent(text), Sentiment.NEUTRAL, False, language or (locale or "en")[:2], self.name)
