"""Guardrails: one pure check per file, each returning a recorded ``GuardrailResult``.

``run_guardrails`` runs every check that applies to the draft's channel, in a fixed order, and
returns all results (passed ones too), so a stored message shows what was checked.
"""

from __future__ import annotations

from typing import Callable

from outreach.guardrails import facts, injection, language, length, links, offers, personal_data, service_tone
from outreach.guardrails import sms_segments
from outreach.guardrails.result import GuardrailInput, GuardrailLimits, GuardrailRefusal, GuardrailResult, failures

Check = Callable[[GuardrailInput], GuardrailResult]

COMMON_CHECKS: tuple[Check, ...] = (
    length.check, links.check, offers.check, service_tone.check, facts.check, personal_data.check,
    language.check, injection.check,
)
SMS_CHECKS: tuple[Check, ...] = (sms_segments.check,)

__all__ = ["GuardrailInput", "GuardrailLimits", "GuardrailRefusal", "GuardrailResult", "failures", "run_guardrails"]


def run_guardrails(inp: GuardrailInput) -> list[GuardrailResult]:
    """Every check that applies to the channel, in order; all results are returned."""
    checks = COMMON_CHECKS + (SMS_CHECKS if inp.request.channel == "sms" else ())
    return [check(inp) for check in checks]
