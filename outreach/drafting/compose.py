"""The drafting pipeline: draft -> frame with system parts -> guardrails -> retry once -> template.

``compose`` asks the drafter for a draft and checks it. A failed draft (a guardrail fails, or the
model refused, was cut off, or answered garbage) is retried ONCE with the failures explained; a
second failure, or a drafter that is unavailable (timeout, API error), hands over to the template
drafter. Every attempt is kept with its guardrail results, so the stored message shows the path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from outreach.drafting.brief import DraftRequest
from outreach.drafting.draft import Draft, Drafter, DraftResult
from outreach.drafting.system_parts import FramedMessage, SystemParts, frame_email, frame_sms, wording
from outreach.drafting.template import TemplateDrafter
from outreach.guardrails import GuardrailInput, GuardrailLimits, GuardrailResult, failures, run_guardrails

MODEL_OUTPUT = "model_output"  # the pseudo-check recorded for refusals, truncation, unusable JSON


@dataclass(frozen=True)
class Attempt:
    """One drafting attempt and what the checks said about it."""

    drafter: str
    draft: Draft | None
    guardrails: tuple[GuardrailResult, ...]
    failure: str | None = None
    detail: str = ""
    model: str | None = None
    prompt: list[dict[str, str]] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = None
    finish_reason: str | None = None

    @property
    def passed(self) -> bool:
        """True when there is a draft and every check passed."""
        return self.draft is not None and not failures(list(self.guardrails))


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
    attempts: tuple[Attempt, ...]
    model: str | None = None
    prompt: list[dict[str, str]] = field(default_factory=list)  # the last LLM prompt, contact details redacted
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0

    def to_record(self) -> dict[str, Any]:
        """JSON-able form to store with the outbox message."""
        return asdict(self)


def _problems(attempt: Attempt) -> list[dict[str, str]]:
    return [{"check": r.name, "problem": r.detail} for r in attempt.guardrails if not r.passed]


class _Pipeline:
    def __init__(self, request: DraftRequest, system: SystemParts, limits: GuardrailLimits,
                 unsubscribe_url: str | None, extra_links: tuple[str, ...]):
        self.request, self.system, self.limits = request, system, limits
        self.unsubscribe_url, self.extra_links = unsubscribe_url, extra_links

    def frame(self, draft: Draft, *, ai_drafted: bool) -> FramedMessage:
        if self.request.channel == "sms":
            return frame_sms(draft, self.system, ai_drafted=ai_drafted)
        return frame_email(draft, self.system, ai_drafted=ai_drafted, unsubscribe_url=self.unsubscribe_url)

    def attempt(self, result: DraftResult, *, ai_drafted: bool) -> Attempt:
        provenance = dict(
            drafter=result.drafter, draft=result.draft, failure=result.failure, detail=result.detail,
            model=result.model, prompt=result.prompt, prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens, latency_ms=result.latency_ms, finish_reason=result.finish_reason,
        )
        if result.draft is None:
            check = GuardrailResult(MODEL_OUTPUT, False, result.detail or result.failure or "no draft")
            return Attempt(**provenance, guardrails=(check,))
        framed = self.frame(result.draft, ai_drafted=ai_drafted)
        links = tuple(link for link in (self.unsubscribe_url, *self.extra_links) if link)
        inp = GuardrailInput(self.request, result.draft, framed.text, allowed_links=links, limits=self.limits)
        return Attempt(**provenance, guardrails=tuple(run_guardrails(inp)))

    def message(self, final: Attempt, attempts: list[Attempt], fallback: TemplateDrafter) -> ComposedMessage:
        draft = final.draft
        if draft is None:
            raise ValueError("the final attempt has no draft")  # only drafts that passed or templates get here
        ai_drafted = final.drafter != fallback.name
        framed = self.frame(draft, ai_drafted=ai_drafted)
        llm = [a for a in attempts if a.model]
        html = None
        if self.request.channel == "email":
            html = fallback.render_html({
                "language": draft.language, "subject": framed.subject, "preheader": framed.preheader,
                "paragraphs": [p.strip() for p in draft.body.split("\n\n") if p.strip()],
                "footer": list(framed.footer), "unsubscribe_url": self.unsubscribe_url,
                "unsubscribe_label": wording(draft.language)["unsubscribe"],
            })
        return ComposedMessage(
            channel=self.request.channel, topic=self.request.topic, rule_id=self.request.rule_id,
            language=draft.language, subject=framed.subject, preheader=framed.preheader, text=framed.text, html=html,
            drafter=final.drafter, passed=final.passed, guardrails=final.guardrails, attempts=tuple(attempts),
            model=llm[-1].model if llm else None, prompt=llm[-1].prompt if llm else [],
            prompt_tokens=sum(a.prompt_tokens or 0 for a in attempts),
            completion_tokens=sum(a.completion_tokens or 0 for a in attempts),
            latency_ms=sum(a.latency_ms or 0.0 for a in attempts),
        )


def compose(
    request: DraftRequest,
    *,
    drafter: Drafter | None,
    fallback: TemplateDrafter,
    system: SystemParts,
    limits: GuardrailLimits | None = None,
    unsubscribe_url: str | None = None,
    extra_links: tuple[str, ...] = (),
) -> ComposedMessage:
    """Draft, check, retry once with the failures explained, else fall back to the template.

    ``drafter`` None means no LLM is configured: the template drafts directly. ``unsubscribe_url``
    (required for marketing e-mail) and ``extra_links`` are the only links a message may carry.
    """
    if request.channel == "email" and request.topic == "marketing" and not unsubscribe_url:
        raise ValueError("a marketing e-mail needs an unsubscribe_url")
    pipeline = _Pipeline(request, system, limits or GuardrailLimits(), unsubscribe_url, tuple(extra_links))
    attempts: list[Attempt] = []
    if drafter is not None and drafter is not fallback:
        problems = None
        for _ in range(2):  # the first draft and ONE retry
            result = drafter.draft(request, problems=problems)
            attempt = pipeline.attempt(result, ai_drafted=True)
            attempts.append(attempt)
            if attempt.passed:
                return pipeline.message(attempt, attempts, fallback)
            if result.unavailable:
                break  # a timeout or API error is not worth a retry here: the client already retried
            problems = _problems(attempt)
    final = pipeline.attempt(fallback.draft(request), ai_drafted=False)
    attempts.append(final)
    return pipeline.message(final, attempts, fallback)


def compose_with_settings(
    request: DraftRequest,
    *,
    settings: Any,
    drafter: Drafter | None,
    fallback: TemplateDrafter,
    unsubscribe_url: str | None = None,
    extra_links: tuple[str, ...] = (),
) -> ComposedMessage:
    """``compose`` with the system parts and limits read from settings (sender, address, AI note, SMS segments)."""
    return compose(
        request, drafter=drafter, fallback=fallback, system=SystemParts.from_settings(settings),
        limits=GuardrailLimits.from_settings(settings), unsubscribe_url=unsubscribe_url, extra_links=extra_links,
    )
