"""What a request grounds verbatim: the fact values a draft may quote word for word.

Order ids, product names, carriers and checkout ids are written into a message as they are, and
they look like everything the checks hunt for: ``o-c-C-0002`` holds a code-like ``C-0002``,
``Pullover 100 % Merino`` a percentage, ``7/8-Leggings`` a date, ``Exklusiv-Edition`` a
promotional word. A check that looks for inventions therefore reads the draft with the quoted
facts blanked out (``without_quoted_facts``); dates, amounts and currencies stay, because the
facts check compares them value by value.
"""

from __future__ import annotations

import re
from typing import Any

from outreach.drafting.brief import DraftRequest

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")


def quotable(value: Any) -> bool:
    """True for a fact a draft quotes as it is: a name or an id, not a date, amount or currency code."""
    return (isinstance(value, str) and len(value.strip()) >= 3 and not _ISO_DATE.match(value)
            and not _CURRENCY.fullmatch(value))


def quoted_facts(request: DraftRequest) -> list[str]:
    """The request's quotable fact values, longest first (so a longer name is blanked before its parts)."""
    return sorted({v.strip() for v in request.facts.values() if quotable(v)}, key=len, reverse=True)


def without_quoted_facts(request: DraftRequest, text: str) -> str:
    """``text`` with every quoted fact value (any case) replaced by a blank."""
    for value in quoted_facts(request):
        text = re.sub(re.escape(value), " ", text, flags=re.IGNORECASE)
    return text
