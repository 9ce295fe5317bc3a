"""The input every guardrail reads and the result each one records."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from outreach.drafting.brief import DraftRequest
from outreach.drafting.draft import Draft


@dataclass(frozen=True)
class GuardrailLimits:
    """Length bounds; the SMS segment cap comes from settings (``sms_max_segments``)."""

    sms_max_segments: int = 2
    email_subject_max: int = 100
    email_preheader_max: int = 150
    email_body_min: int = 40
    email_body_max: int = 3000

    @classmethod
    def from_settings(cls, settings: Any) -> "GuardrailLimits":
        """The limits with ``sms_max_segments`` from settings, the e-mail bounds at their defaults."""
        return cls(sms_max_segments=settings.sms_max_segments)


@dataclass(frozen=True)
class GuardrailInput:
    """A draft in context: content checks read ``draft``, length and link checks the message as sent."""

    request: DraftRequest
    draft: Draft
    final_text: str  # the whole message as it will be sent, system parts included
    allowed_links: tuple[str, ...] = ()
    limits: GuardrailLimits = field(default_factory=GuardrailLimits)


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
