"""Dates and amounts written the way each locale reads them (en, de, fr, es).

The facts guardrail parses the same spellings back, so anything a template writes can be checked.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

MONTHS: dict[str, tuple[str, ...]] = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
    "de": ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
           "November", "Dezember"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
           "noviembre", "diciembre"),
}
CURRENCY_SYMBOLS: dict[str, str] = {"EUR": "€", "USD": "$", "GBP": "£"}


def language_of(locale: str | None) -> str:
    """Two-letter language of a locale, ``en`` when unknown to us."""
    lang = (locale or "en").replace("_", "-").split("-")[0].lower()
    return lang if lang in MONTHS else "en"


def format_date(value: Any, locale: str | None = "en") -> str:
    """An ISO date (or date) as the locale writes it, e.g. ``25 November 2026`` / ``25. November 2026``."""
    if value in (None, ""):
        return ""
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    lang = language_of(locale)
    month = MONTHS[lang][day.month - 1]
    if lang == "de":
        return f"{day.day}. {month} {day.year}"
    if lang == "es":
        return f"{day.day} de {month} de {day.year}"
    return f"{day.day} {month} {day.year}"


def format_amount(amount: Any, currency: str | None, locale: str | None = "en") -> str:
    """An amount with its currency, e.g. ``€49.90`` (en) or ``49,90 €`` (de, fr, es)."""
    if amount in (None, ""):
        return ""
    value = float(amount)
    code = (currency or "").upper()
    symbol = CURRENCY_SYMBOLS.get(code)
    if language_of(locale) == "en":
        text = f"{value:,.2f}"
        return f"{symbol}{text}" if symbol else f"{text} {code}".strip()
    # Continental style: dot for thousands, comma for decimals.
    text = f"{value:,.2f}".replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return f"{text} {symbol or code}".strip()
