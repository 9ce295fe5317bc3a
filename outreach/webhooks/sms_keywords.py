"""What an inbound SMS reply means: opt-out, opt-in, help, or a message for a person (pure).

Keywords are the industry set (CTIA; carriers and Twilio honour the same words), matched on the
whole message, case- and whitespace-insensitive, trailing punctuation ignored. A plain-language
request to stop ("please stop texting me") is an opt-out too: missing one is far worse than
handing a support agent a message that was not meant as one.
"""

from __future__ import annotations

import re
from enum import Enum

OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

_PLAIN_STOP = [
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"\b(stop|quit|cease|no more)\b.{0,30}\b(text|texts|texting|messag\w*|sms|contact\w*|sending|spam\w*)\b",
        r"\b(do not|don'?t|never)\b.{0,20}\b(text|message|contact|sms)\b",
        r"\b(unsubscribe|opt[\s-]?out|remove)\b.{0,20}\b(me|my number|this number)\b",
        r"\bleave me alone\b",
    )
]


class ReplyKind(str, Enum):
    """The meaning of an inbound SMS."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    OTHER = "other"


def keyword_of(text: str) -> str:
    """The message as a keyword candidate: trimmed, inner spaces removed, upper case, no end punctuation."""
    return re.sub(r"\s+", "", text).strip(".!?,;:'\"").upper()


def classify_reply(text: str) -> ReplyKind:
    """What the reply asks for.

    >>> [classify_reply(t).value for t in (" stop ", "Start", "help", "please stop texting me", "where is my parcel")]
    ['opt_out', 'opt_in', 'help', 'opt_out', 'other']
    """
    keyword = keyword_of(text)
    if keyword in OPT_OUT_KEYWORDS:
        return ReplyKind.OPT_OUT
    if keyword in OPT_IN_KEYWORDS:
        return ReplyKind.OPT_IN
    if keyword in HELP_KEYWORDS:
        return ReplyKind.HELP
    if any(pattern.search(text) for pattern in _PLAIN_STOP):
        return ReplyKind.OPT_OUT
    return ReplyKind.OTHER
