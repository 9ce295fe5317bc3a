"""How well a triager does on the labelled set the project keeps: accuracy per intent, and overall.

The labelled set (``data/replies_labelled.jsonl``, written by hand, never used for training) holds
replies with their intent, sentiment, frustration and language. ``evaluate`` runs any triager over
it; ``accuracy_table`` puts several side by side (``retain triage evaluate`` prints it).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from outreach.conversations.corpus import LabelledReply
from outreach.conversations.llm_triage import Triager
from outreach.conversations.triage import Intent

LABELLED_SET = Path(__file__).resolve().parent / "data" / "replies_labelled.jsonl"


def labelled_set(path: Path = LABELLED_SET) -> list[LabelledReply]:
    """The labelled replies."""
    with path.open(encoding="utf-8") as handle:
        return [LabelledReply(**json.loads(line)) for line in handle if line.strip()]


@dataclass
class Evaluation:
    """One triager's results on the labelled set."""

    name: str
    total: Counter = field(default_factory=Counter)  # per intent
    correct: Counter = field(default_factory=Counter)  # per intent
    sentiment: int = 0
    frustrated: int = 0
    language: int = 0
    sources: Counter = field(default_factory=Counter)  # which source decided (LLM vs its fallback)

    def accuracy(self, intent: str | None = None) -> float:
        """Intent accuracy on one intent's replies, or on all of them."""
        if intent is None:
            return sum(self.correct.values()) / max(sum(self.total.values()), 1)
        return self.correct[intent] / self.total[intent] if self.total[intent] else 0.0

    def macro_accuracy(self) -> float:
        """The mean of the per-intent accuracies (every intent counts the same)."""
        intents = [i for i in self.total if self.total[i]]
        return sum(self.accuracy(i) for i in intents) / max(len(intents), 1)

    def share(self, hits: int) -> float:
        """``hits`` over every reply."""
        return hits / max(sum(self.total.values()), 1)


def evaluate(triager: Triager, rows: list[LabelledReply] | None = None, *, name: str | None = None) -> Evaluation:
    """Run ``triager`` over the labelled set."""
    result = Evaluation(name or triager.name)
    for row in rows if rows is not None else labelled_set():
        triage = triager.triage(row.text)
        result.total[row.intent] += 1
        result.correct[row.intent] += triage.intent.value == row.intent
        result.sentiment += triage.sentiment.value == row.sentiment
        result.frustrated += triage.frustrated == row.frustrated
        result.language += triage.language == row.language
        result.sources[triage.source] += 1
    return result


def accuracy_table(evaluations: list[Evaluation]) -> str:
    """A Markdown table: accuracy per intent, overall, macro average, and the other labels' accuracy."""
    names = [e.name for e in evaluations]
    lines = ["| intent (replies) | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    first = evaluations[0]
    for intent in Intent:
        label = f"{intent.value} ({first.total[intent.value]})"
        lines.append(f"| {label} | " + " | ".join(f"{e.accuracy(intent.value):.1%}" for e in evaluations) + " |")
    lines.append(f"| **all ({sum(first.total.values())})** | "
                 + " | ".join(f"**{e.accuracy():.1%}**" for e in evaluations) + " |")
    lines.append("| macro average | " + " | ".join(f"{e.macro_accuracy():.1%}" for e in evaluations) + " |")
    for label in ("sentiment", "frustrated", "language"):
        lines.append(f"| {label} | " + " | ".join(f"{e.share(getattr(e, label)):.1%}" for e in evaluations) + " |")
    return "\n".join(lines)
