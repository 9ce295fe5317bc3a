"""The drafting step as the outbox sender calls it: one ``ComposeRequest`` in, a ``ComposedMessage`` out.

Looks up the rule's action and the decision's signal through injected callables (the caller owns
the database session), builds the ``DraftRequest`` and runs ``compose`` with settings. A decision
whose rule has since disappeared still gets a safe, offer-free message from a neutral brief.
"""

from __future__ import annotations

from typing import Any, Callable

from outreach.drafting.brief import build_draft_request
from outreach.drafting.compose import ComposedMessage, compose_with_settings
from outreach.drafting.draft import Drafter
from outreach.drafting.llm import llm_drafter_from_settings
from outreach.drafting.template import TemplateDrafter
from signals.signal import Signal
from triggers.decision import Decision
from triggers.rule import Action, Rule

NEUTRAL_BRIEF = "Tell the customer plainly what happened and that they can reply to this message for help."


def signal_from_row(row: Any) -> Signal:
    """A ``Signal`` from a stored signal row (anything with kind, customer_id, episode_key, ...)."""
    return Signal(kind=row.kind, customer_id=row.customer_id, episode_key=row.episode_key,
                  detected_at=row.detected_at, reason=row.reason, attributes=dict(row.attributes or {}))


class Composer:
    """Callable ``(compose_request) -> ComposedMessage`` for ``outreach.outbox.sender.Sender``."""

    def __init__(
        self,
        *,
        settings: Any,
        rule_for: Callable[[str], Rule | None],
        signal_for: Callable[[Decision], Signal | None],
        drafter: Drafter | None = None,
        fallback: TemplateDrafter | None = None,
    ):
        self.settings = settings
        self.rule_for = rule_for
        self.signal_for = signal_for
        self.drafter = drafter if drafter is not None else llm_drafter_from_settings(settings)
        self.fallback = fallback or TemplateDrafter()

    def __call__(self, request: Any) -> ComposedMessage:
        """Draft the message of one outbox row (``request`` has decision, customer, unsubscribe/preferences URLs)."""
        decision: Decision = request.decision
        rule = self.rule_for(decision.rule_id) if decision.rule_id else None
        action = rule.action if rule is not None else Action(channels=[decision.channel or "email"], brief=NEUTRAL_BRIEF)
        signal = self.signal_for(decision) or Signal(
            kind=decision.signal_kind, customer_id=decision.customer_id, episode_key=decision.episode_key,
            detected_at=decision.decided_at, reason="",
        )
        draft_request = build_draft_request(decision=decision, signal=signal, action=action, customer=request.customer)
        links = tuple(url for url in (getattr(request, "preferences_url", None),) if url)
        return compose_with_settings(
            draft_request, settings=self.settings, drafter=self.drafter, fallback=self.fallback,
            unsubscribe_url=request.unsubscribe_url, extra_links=links,
        )
