"""Composing a message: draft -> frame with system parts -> guardrails -> retry once -> template.

``compose`` asks the drafter for a draft and checks it. A failed draft (a guardrail fails, or the
model refused, was cut off, or answered garbage) is retried ONCE with the failures explained; a
second failure, or a drafter that is unavailable (timeout, API error), hands over to the template
drafter. Every attempt is kept as its ``DraftResult`` with its guardrail results, so the stored
message shows the path.

``Composer`` is the drafting port the outbox sender calls: one decision in (with the snapshot of
the signal and customer it carries), its ``ComposedMessage`` out. A decision whose rule has
since disappeared still gets a safe, offer-free message from a neutral brief.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from infra.settings import LlmSettings, MessageFramingSettings
from outreach.drafting.brief import DraftRequest, GuardrailLimits, PrivateFacts, build_draft_request
from outreach.drafting.draft import Draft, Drafter, DraftResult
from outreach.drafting.llm import llm_drafter_from_settings
from outreach.drafting.system_parts import FramedMessage, SystemParts, frame_email, frame_sms, wording
from outreach.drafting.template import TemplateDrafter
from outreach.guardrails import Candidate, GuardrailResult, run_guardrails
from triggers.decision import Decision
from triggers.rule import Action, Rule

MODEL_OUTPUT = "model_output"  # the pseudo-check recorded for refusals, truncation, unusable JSON
NEUTRAL_BRIEF = "Tell the customer plainly what happened and that they can reply to this message for help."


@dataclass(frozen=True)
class ComposedMessage:
    """The final message parts, who drafted them, and the record of every attempt."""

    channel: str
    topic: str
    rule_id: str
    language: str
    subject: str
    preheader: str
    text: str
    html: str | None
    drafter: str  # "llm" | "template" (the name of the drafter whose draft is used)
    passed: bool  # the final draft passed every guardrail
    guardrails: tuple[GuardrailResult, ...]
    attempts: tuple[DraftResult, ...]
    model: str | None = None
    prompt: list[dict[str, str]] = field(default_factory=list)  # the last LLM prompt, contact details redacted
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0

    def to_record(self) -> dict[str, Any]:
        """JSON-able form to store with the outbox message."""
        return asdict(self)


def _problems(result: DraftResult) -> list[dict[str, str]]:
    return [{"check": r.name, "problem": r.detail} for r in result.guardrails or () if not r.passed]


def _frame(request: DraftRequest, draft: Draft, system: SystemParts, *, ai_drafted: bool) -> FramedMessage:
    if request.channel == "sms":
        return frame_sms(draft, system, ai_drafted=ai_drafted)
    return frame_email(draft, system, ai_drafted=ai_drafted, unsubscribe_url=request.unsubscribe_url)


def _checked(request: DraftRequest, result: DraftResult, system: SystemParts, *, ai_drafted: bool) -> DraftResult:
    """``result`` with its guardrail results (a missing draft records the ``model_output`` failure)."""
    if result.draft is None:
        check = GuardrailResult(MODEL_OUTPUT, False, result.detail or result.failure or "no draft")
        return dataclasses.replace(result, guardrails=(check,))
    framed = _frame(request, result.draft, system, ai_drafted=ai_drafted)
    return dataclasses.replace(result, guardrails=tuple(run_guardrails(Candidate(request, result.draft, framed.text))))


def _message(request: DraftRequest, final: DraftResult, attempts: list[DraftResult], system: SystemParts,
             fallback: TemplateDrafter) -> ComposedMessage:
    draft = final.draft
    if draft is None:
        raise ValueError("the final attempt has no draft")  # only drafts that passed or templates get here
    framed = _frame(request, draft, system, ai_drafted=final.drafter != fallback.name)
    llm = [a for a in attempts if a.model]
    html = None
    if request.channel == "email":
        html = fallback.render_html({
            "language": draft.language, "subject": framed.subject, "preheader": framed.preheader,
            "paragraphs": [p.strip() for p in draft.body.split("\n\n") if p.strip()],
            "footer": list(framed.footer), "unsubscribe_url": request.unsubscribe_url,
            "unsubscribe_label": wording(draft.language)["unsubscribe"],
        })
    return ComposedMessage(
        channel=request.channel, topic=request.topic, rule_id=request.rule_id,
        language=draft.language, subject=framed.subject, preheader=framed.preheader, text=framed.text, html=html,
        drafter=final.drafter, passed=final.passed, guardrails=final.guardrails or (), attempts=tuple(attempts),
        model=llm[-1].model if llm else None, prompt=llm[-1].prompt if llm else [],
        prompt_tokens=sum(a.prompt_tokens or 0 for a in attempts),
        completion_tokens=sum(a.completion_tokens or 0 for a in attempts),
        latency_ms=sum(a.latency_ms or 0.0 for a in attempts),
    )


def compose(
    request: DraftRequest, *, drafter: Drafter | None, fallback: TemplateDrafter, system: SystemParts,
) -> ComposedMessage:
    """Draft, check, retry once with the failures explained, else fall back to the template.

    ``drafter`` None means no LLM is configured: the template drafts directly. The request's
    ``unsubscribe_url`` (required for marketing e-mail) and ``allowed_links`` are the only links
    a message may carry.
    """
    if request.channel == "email" and request.topic == "marketing" and not request.unsubscribe_url:
        raise ValueError("a marketing e-mail needs an unsubscribe_url")
    attempts: list[DraftResult] = []
    if drafter is not None and drafter is not fallback:
        problems = None
        for _ in range(2):  # the first draft and ONE retry
            attempt = _checked(request, drafter.draft(request, problems=problems), system, ai_drafted=True)
            attempts.append(attempt)
            if attempt.passed:
                return _message(request, attempt, attempts, system, fallback)
            if attempt.unavailable:
                break  # a timeout or API error is not worth a retry here: the client already retried
            problems = _problems(attempt)
    final = _checked(request, fallback.draft(request), system, ai_drafted=False)
    attempts.append(final)
    return _message(request, final, attempts, system, fallback)


class Composer:
    """The sender's drafting port: ``composer(decision, private=..., unsubscribe_url=..., preferences_url=...)``."""

    def __init__(
        self, *, rule_for: Callable[[str], Rule | None], system: SystemParts, limits: GuardrailLimits,
        drafter: Drafter | None = None, fallback: TemplateDrafter | None = None,
    ):
        self.rule_for = rule_for
        self.system = system
        self.limits = limits
        self.drafter = drafter
        self.fallback = fallback or TemplateDrafter()

    @classmethod
    def from_settings(cls, llm: LlmSettings, framing: MessageFramingSettings, *,
                      rule_for: Callable[[str], Rule | None]) -> "Composer":
        """The composer the LLM and message framing settings describe (the template drafts when no LLM is set)."""
        return cls(rule_for=rule_for, system=SystemParts.from_settings(framing),
                   limits=GuardrailLimits.from_settings(framing),
                   drafter=llm_drafter_from_settings(llm, sms_max_segments=framing.sms_max_segments))

    def __call__(self, decision: Decision, *, private: PrivateFacts, unsubscribe_url: str | None,
                 preferences_url: str | None = None) -> ComposedMessage:
        """Draft the message of one engaging decision (the rule's action in force now, the decision's snapshot)."""
        rule = self.rule_for(decision.rule_id) if decision.rule_id else None
        action = (rule.action if rule is not None
                  else Action(channels=[decision.channel or "email"], brief=NEUTRAL_BRIEF))
        request = build_draft_request(decision=decision, action=action, private=private, limits=self.limits,
                                      unsubscribe_url=unsubscribe_url,
                                      allowed_links=(preferences_url,) if preferences_url else ())
        return compose(request, drafter=self.drafter, fallback=self.fallback, system=self.system)
