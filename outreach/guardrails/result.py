"""What every guardrail reads (a ``Candidate``) and what each one records (a ``GuardrailResult``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from outreach.drafting.brief import DraftRequest
from outreach.drafting.draft import Draft


@dataclass(frozen=True)
class Candidate:
    """A draft as it would go out: content checks read ``draft``, length and link checks the whole text.

    The request it answers says what may be in it (facts, offers, links) and how long it may be.
    """

    request: DraftRequest
    draft: Draft
    final_text: str  # the whole message as it will be sent, system parts included


@dataclass(frozen=True)
class GuardrailResult:
    """One check's verdict; ``detail`` says what was found (never contact details)."""

    name: str
    passed: bool
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for the message record."""
        return asdict(self)


def failures(results: list[GuardrailResult]) -> list[GuardrailResult]:
    """The failed results, in order."""
    return [r for r in results if not r.passed]
