"""What a drafter returns: the draft's text parts, how it was produced, and what the checks said."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from outreach.drafting.brief import DraftRequest


# A drafter failure: refusal/truncated/invalid output count as failed drafts (retried once);
# timeout and api_error mean the drafter is unavailable (straight to the template).
Failure = Literal["refusal", "length", "invalid_output", "timeout", "api_error"]
UNAVAILABLE: frozenset[str] = frozenset({"timeout", "api_error"})


# A check's verdict lives here, with the result that carries it, so the guardrails (which read
# drafts) and the drafts (which carry verdicts) do not import each other.
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


@dataclass(frozen=True)
class Draft:
    """The drafted text parts; e-mail uses subject/preheader/body, SMS uses body only."""

    body: str
    subject: str = ""
    preheader: str = ""
    language: str = "en"  # the language the drafter was asked to write in (set by code, not the model)

    def parts(self) -> dict[str, str]:
        """The non-empty parts by name."""
        return {k: v for k, v in (("subject", self.subject), ("preheader", self.preheader), ("body", self.body)) if v}

    def text(self) -> str:
        """All parts joined, for checks that read the whole draft."""
        return "\n".join(self.parts().values())


@dataclass(frozen=True)
class DraftResult:
    """One drafting attempt: the draft (None on failure), its provenance, and its guardrail results once checked."""

    drafter: str
    draft: Draft | None = None
    failure: Failure | None = None
    detail: str = ""
    model: str | None = None
    prompt: list[dict[str, str]] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    finish_reason: str | None = None
    guardrails: tuple[GuardrailResult, ...] | None = None  # None until ``compose`` checked it

    @property
    def unavailable(self) -> bool:
        """True when the drafter could not be reached (timeout, API error)."""
        return self.failure in UNAVAILABLE

    @property
    def passed(self) -> bool:
        """True when there is a draft, it was checked, and every check passed."""
        return self.draft is not None and self.guardrails is not None and all(r.passed for r in self.guardrails)


class Drafter(Protocol):
    """Turns a request (and, on a retry, the checks the last draft failed) into a draft."""

    name: str

    def draft(self, request: DraftRequest, *, problems: list[dict[str, str]] | None = None) -> DraftResult:
        """Draft one message; never raises for provider trouble, returns a failure instead."""
        ...
