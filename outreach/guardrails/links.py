"""No links except the ones the system inserts (the unsubscribe link, the preference page).

Finds URLs with a scheme, ``www.`` addresses and bare domains with a common top-level domain
(``bit.ly/x``), because a model that invents a link rarely bothers with ``https://``.
"""

from __future__ import annotations

import re

from outreach.guardrails.result import Candidate, GuardrailResult

NAME = "links"

_TLDS = "com|net|org|io|ly|me|co|de|fr|es|uk|eu|info|biz|shop|store|app|link|xyz|gl|to|at|ch"
_URL = re.compile(
    r"(?i)(?:\b[a-z][a-z0-9+.-]*://[^\s<>\"']+"  # scheme://...
    r"|\bwww\.[^\s<>\"']+"  # www.example...
    rf"|(?<![@\w.-])(?:[a-z0-9-]+\.)+(?:{_TLDS})\b(?:/[^\s<>\"']*)?)"  # bare domain (not an e-mail)
)
_TRAILING = ".,;:!?)]}'\""


def find_links(text: str) -> list[str]:
    """Every URL-like token in ``text``, trailing punctuation stripped."""
    return [match.group(0).rstrip(_TRAILING) for match in _URL.finditer(text)]


def check(candidate: Candidate) -> GuardrailResult:
    """Every link in the message is one the system inserted."""
    allowed = {link.rstrip(_TRAILING) for link in candidate.request.allowed_links}
    # The subject and preheader are not part of the body text but reach the recipient all the same.
    header = "\n".join(part for part in (candidate.draft.subject, candidate.draft.preheader) if part)
    foreign = [link for link in find_links(f"{header}\n{candidate.final_text}") if link not in allowed]
    if foreign:
        return GuardrailResult(NAME, False, f"links not inserted by the system: {', '.join(sorted(set(foreign)))}")
    return GuardrailResult(NAME, True, "only system links")
