"""How fast and how often people answer customers' replies, per rule (pure).

Per rule whose message was answered: conversations opened, answered by a person, still waiting,
escalated; the share answered; and the time from the first reply to the first human answer
(median and mean over the answered ones). Conversations that answer no rule's message (an
unknown sender, a reply out of the blue) are counted under ``NO_RULE``.

>>> import datetime as dt
>>> t = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
>>> rows = [("r1", t, t + dt.timedelta(minutes=30), False, False), ("r1", t, None, True, True)]
>>> [(m.rule_id, m.conversations, m.answered, m.share_answered, m.median_seconds) for m in reply_measures(rows)]
[('r1', 2, 1, 0.5, 1800.0)]
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

NO_RULE = "(no rule)"

# (rule_id, opened_at, first_answered_at, waiting, escalated)
ConversationRow = tuple[str | None, dt.datetime, dt.datetime | None, bool, bool]


@dataclass(frozen=True)
class ReplyMeasures:
    """One rule's replies and how they were answered."""

    rule_id: str
    conversations: int
    answered: int
    waiting: int
    escalated: int
    answer_seconds: tuple[float, ...]

    @property
    def share_answered(self) -> float | None:
        """Answered conversations over all, or None without any."""
        return self.answered / self.conversations if self.conversations else None

    @property
    def median_seconds(self) -> float | None:
        """Median time to the first human answer."""
        return statistics.median(self.answer_seconds) if self.answer_seconds else None

    @property
    def mean_seconds(self) -> float | None:
        """Mean time to the first human answer."""
        return statistics.fmean(self.answer_seconds) if self.answer_seconds else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"rule_id": self.rule_id, "conversations": self.conversations, "answered": self.answered,
                "waiting": self.waiting, "escalated": self.escalated, "share_answered": self.share_answered,
                "median_first_answer_seconds": self.median_seconds, "mean_first_answer_seconds": self.mean_seconds,
                "first_answer_seconds_sum": sum(self.answer_seconds)}


def duration_text(seconds: float | None) -> str:
    """Seconds as ``2d 3h`` / ``4h 5m`` / ``7m``, or ``n/a``.

    >>> duration_text(93784.0), duration_text(3900), duration_text(59), duration_text(None)
    ('1d 2h', '1h 5m', '0m', 'n/a')
    """
    if seconds is None:
        return "n/a"
    minutes = max(int(seconds // 60), 0)
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    return f"{days}d {hours}h" if days else f"{hours}h {mins}m" if hours else f"{mins}m"


def reply_measures(rows: Iterable[ConversationRow]) -> list[ReplyMeasures]:
    """The measures per rule, by rule id."""
    grouped: dict[str, list[ConversationRow]] = defaultdict(list)
    for row in rows:
        grouped[row[0] or NO_RULE].append(row)
    measures = []
    for rule_id in sorted(grouped):
        items = grouped[rule_id]
        seconds = tuple(max((answered - opened).total_seconds(), 0.0)
                        for _, opened, answered, _, _ in items if answered is not None)
        measures.append(ReplyMeasures(rule_id, len(items), len(seconds), sum(1 for r in items if r[3]),
                                      sum(1 for r in items if r[4]), seconds))
    return measures
