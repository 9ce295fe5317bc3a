"""E-mail length bounds (subject, preheader, body) and a non-empty SMS body.

SMS size is the segment check's job (``sms_segments``); this one only refuses empty SMS text.
"""

from __future__ import annotations

from outreach.guardrails.result import Candidate, GuardrailResult

NAME = "length"


def check(candidate: Candidate) -> GuardrailResult:
    """The parts are within their bounds for the channel."""
    draft, limits = candidate.draft, candidate.request.limits
    if candidate.request.channel == "sms":
        ok = bool(draft.body.strip())
        return GuardrailResult(NAME, ok, f"{len(draft.body)} chars" if ok else "empty SMS text")
    problems = []
    if not 1 <= len(draft.subject.strip()) <= limits.email_subject_max:
        problems.append(f"subject {len(draft.subject)} chars (1-{limits.email_subject_max})")
    if len(draft.preheader) > limits.email_preheader_max:
        problems.append(f"preheader {len(draft.preheader)} chars (max {limits.email_preheader_max})")
    if not limits.email_body_min <= len(draft.body.strip()) <= limits.email_body_max:
        problems.append(f"body {len(draft.body)} chars ({limits.email_body_min}-{limits.email_body_max})")
    if problems:
        return GuardrailResult(NAME, False, "; ".join(problems))
    return GuardrailResult(NAME, True, f"subject {len(draft.subject)}, body {len(draft.body)} chars")
