"""Guardrails: one pure check per file, each returning a recorded ``GuardrailResult``.

``run_guardrails`` runs every check that applies to the draft's channel, in a fixed order, and
returns all results (passed ones too), so a stored message shows what was checked.
"""

from __future__ import annotations

from typing import Callable

from outreach.guardrails import facts, injection, language, length, links, offers, personal_data, service_tone
from outreach.guardrails import sms_segments
from outreach.drafting.brief import GuardrailLimits
from outreach.guardrails.result import Candidate, GuardrailResult, failures

Check = Callable[[Candidate], GuardrailResult]

COMMON_CHECKS: tuple[Check, ...] = (
    length.check, links.check, offers.check, service_tone.check, facts.check, personal_data.check,
    language.check, injection.check,
)
SMS_CHECKS: tuple[Check, ...] = (sms_segments.check,)

__all__ = ["Candidate", "GuardrailLimits", "GuardrailResult", "failures", "run_guardrails"]


def run_guardrails(candidate: Candidate) -> list[GuardrailResult]:
    """Every check that applies to the channel, in order; all results are returned."""
    checks = COMMON_CHECKS + (SMS_CHECKS if candidate.request.channel == "sms" else ())
    return [check(candidate) for check in checks]
