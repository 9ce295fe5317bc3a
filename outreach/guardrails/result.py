"""What every guardrail reads (a ``Candidate``) and what each one records (a ``GuardrailResult``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from outreach.drafting.brief import DraftRequest
from outreach.drafting.draft import Draft, GuardrailResult, failures

__all__ = ["Candidate", "GuardrailRefusal", "GuardrailResult", "failures"]


@dataclass(frozen=True)
class Candidate:
    """A draft as it would go out: content checks read ``draft``, length and link checks the whole text.

    The request it answers says what may be in it (facts, offers, links) and how long it may be.
    """

    request: DraftRequest
    draft: Draft
    final_text: str  # the whole message as it will be sent, system parts included


class GuardrailRefusal(Exception):
    """A person's text refused: it fails its guardrails (``checks`` holds every result) or cannot be checked."""

    def __init__(self, reason: str, checks: list[GuardrailResult] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.checks = list(checks or [])

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for a 422 answer: why, the failed checks, and every check that ran."""
        return {"message": self.reason, "failed": [c.to_dict() for c in failures(self.checks)],
                "checks": [c.to_dict() for c in self.checks]}
