"""What a customer's reply means, and how urgently a person should answer it (pure).

Every reply gets an intent, a sentiment, a frustration flag and a language, from the LLM or the
built-in classifier (``source`` says which, and ``detail`` why a fallback decided). A complaint,
a frustrated reply or a cancellation request *escalates*: the contact policy stops automated
outreach to the customer for a while (``triggers.policy.escalation``) and the conversation goes
up the inbox queue.

>>> triage = Triage(Intent.COMPLAINT, Sentiment.NEGATIVE, True, "en", "classifier")
>>> triage.escalates, priority_of(triage, risk_bucket="high")
(True, 5)
>>> priority_of(Triage(Intent.THANKS, Sentiment.POSITIVE, False, "en", "classifier"))
0
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any, Mapping


class Intent(str, Enum):
    """What the customer wants."""

    ORDER_STATUS = "order_status"  # a question about an order or its delivery
    BILLING = "billing"
    CANCELLATION = "cancellation"
    COMPLAINT = "complaint"
    THANKS = "thanks"
    OPT_OUT = "opt_out"  # "stop writing to me", in plain words
    OTHER = "other"


class Sentiment(str, Enum):
    """The reply's tone."""

    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


ESCALATING_INTENTS = frozenset({Intent.COMPLAINT, Intent.CANCELLATION})
LANGUAGES = ("en", "de", "fr", "es")
UNDETERMINED = "und"  # ISO 639-2 for "undetermined"

# Base priority per intent: what loses a customer if it waits comes first.
_BASE_PRIORITY = {
    Intent.COMPLAINT: 3, Intent.CANCELLATION: 3, Intent.BILLING: 2, Intent.ORDER_STATUS: 2, Intent.OTHER: 1,
    Intent.OPT_OUT: 0, Intent.THANKS: 0,
}
PRIORITY_LABELS = {0: "low", 1: "normal", 2: "high", 3: "urgent"}


@dataclass(frozen=True)
class Triage:
    """The triage of one reply."""

    intent: Intent
    sentiment: Sentiment
    frustrated: bool
    language: str
    source: str  # "llm" | "classifier" | "keywords"
    confidence: float | None = None
    detail: str = ""  # why the source decided (an LLM failure the classifier stood in for)

    @property
    def escalates(self) -> bool:
        """True for a complaint, a cancellation request or a frustrated reply."""
        return self.intent in ESCALATING_INTENTS or self.frustrated

    @property
    def escalation_reason(self) -> str:
        """The intent that escalated, or ``frustrated``."""
        return self.intent.value if self.intent in ESCALATING_INTENTS else "frustrated"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, stored with the reply."""
        data = asdict(self)
        data.update(intent=self.intent.value, sentiment=self.sentiment.value)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Triage":
        """Inverse of ``to_dict``."""
        return cls(Intent(data["intent"]), Sentiment(data["sentiment"]), bool(data["frustrated"]),
                   str(data["language"]), str(data["source"]), data.get("confidence"), str(data.get("detail", "")))


def priority_of(triage: Triage, *, risk_bucket: str | None = None) -> int:
    """The inbox priority (higher first): the intent's base, +1 when frustrated, +1 for a high-risk customer."""
    return _BASE_PRIORITY[triage.intent] + int(triage.frustrated) + int(risk_bucket == "high")


def priority_label(priority: int) -> str:
    """``low`` / ``normal`` / ``high`` / ``urgent`` for the inbox."""
    return PRIORITY_LABELS[min(max(priority, 0), 3)]


def queue_key(priority: int, waiting_since: dt.datetime | None, opened_at: dt.datetime) -> tuple[Any, ...]:
    """Sort key of the inbox queue: waiting first, then highest priority, then longest wait."""
    waiting = waiting_since is not None
    return (not waiting, -priority, waiting_since or opened_at)
