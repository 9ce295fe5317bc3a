"""Quiet-hours deferral: a ``defer`` decision becomes a persisted job that releases it later.

``SchedulerDeferrals.schedule`` writes a one-off job (id = the decision id, so scheduling twice
replaces it) to APScheduler's SQLAlchemy job store at ``defer_until``; a restart loses nothing.
When the job runs, ``release_deferred`` loads the defer decision, re-checks it with the pure
``release`` (expiry, then consent for its channel and topic, then the caps against history
without the defer itself), stores the outcome as a decision of its own (``deferred_from`` = the
defer's id, stored once), and publishes an engage to the ``decisions`` topic.

The job runs in the scheduler's process: the runtime installs the engine and the publisher
there with ``install_deferral_context`` (a job that finds none logs and returns, and runs again
on no restart: the release row is idempotent, so running a job twice is harmless).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine

from infra.database import session_scope
from infra.scheduler import schedule_once
from triggers.decision import Decision
from triggers.policy import ConsentView, ContactHistory, PolicyConfig
from triggers.policy.consent import channel_verdict
from triggers.policy.frequency_caps import cap_verdict
from triggers.policy.reasons import Outcome, ReasonCode
from triggers.policy.regions import recipient_regions
from triggers.rule import Rule
from signals.service import consent_flags, get_customer
from triggers.service import contact_history, get_decision, record_decisions
from triggers.signal_context import UpstreamConsent

log = logging.getLogger(__name__)

RELEASE_REF = "triggers.deferred:release_deferred"


def release_id_for(defer_decision_id: str) -> str:
    """The id of the decision a deferral job takes (one per defer decision)."""
    return hashlib.sha256(f"release\x1f{defer_decision_id}".encode()).hexdigest()[:32]


def release(
    defer: Decision, rule: Rule, customer: Mapping[str, Any], history: ContactHistory,
    consent: ConsentView, now: dt.datetime, config: PolicyConfig,
) -> Decision:
    """Pure: what a deferred action becomes at ``now`` (engage, expired, or suppressed with reason)."""
    if defer.outcome != Outcome.DEFER or defer.channel is None or defer.topic is None:
        raise ValueError(f"decision {defer.decision_id} is not a defer")
    outcome, reason, detail = Outcome.ENGAGE, ReasonCode.ELIGIBLE, ""
    if defer.expires_at is not None and now >= defer.expires_at:
        outcome, reason = Outcome.EXPIRED, ReasonCode.RELEVANCE_PASSED
    else:
        refused = channel_verdict(defer.customer_id, customer, defer.channel, defer.topic, consent, config)
        if refused is not None:
            outcome, reason = Outcome.SUPPRESSED, refused
        else:
            capped, detail = cap_verdict(rule, defer.channel, history, now, config, recipient_regions(customer))
            if capped is not None:
                outcome, reason = Outcome.SUPPRESSED, capped
    return defer.model_copy(update={
        "decision_id": release_id_for(defer.decision_id), "outcome": outcome, "reason": reason,
        "detail": detail, "defer_until": None, "decided_at": now, "deferred_from": defer.decision_id,
    })


@dataclass
class SchedulerDeferrals:
    """The ``Deferrals`` port on an APScheduler (started, or started paused as a job writer)."""

    scheduler: BaseScheduler

    def schedule(self, decision: Decision, *, rule: Rule, customer: Mapping[str, Any]) -> None:
        """Persist the release job of ``decision`` at its ``defer_until``."""
        if decision.defer_until is None:
            raise ValueError("a defer decision needs defer_until")
        schedule_once(
            self.scheduler, job_id=decision.decision_id, run_at=decision.defer_until, func_ref=RELEASE_REF,
            # Rule and facts as of the decision: the rule may change or vanish before the job runs.
            kwargs={"decision_id": decision.decision_id, "rule": rule.canonical(), "customer": dict(customer)},
        )


Publish = Callable[[Decision], Awaitable[None]]


@dataclass
class DeferralContext:
    """What release jobs need in the scheduler's process."""

    engine: Engine
    publish: Publish | None = None
    policy_config: PolicyConfig = field(default_factory=PolicyConfig)
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)
    consent: Callable[[str, Mapping[str, Any]], ConsentView] = lambda cid, facts: UpstreamConsent.of(cid, facts)


_context: DeferralContext | None = None


def install_deferral_context(context: DeferralContext | None) -> None:
    """Set (or clear, with None) the context release jobs of this process use."""
    global _context
    _context = context


def with_projected_consent(customer: Mapping[str, Any], record: Any) -> dict[str, Any]:
    """The facts snapshot with consent flags the customers projection knows now (newer than the snapshot)."""
    facts = dict(customer)
    if record is None:
        return facts
    facts["consent"] = {**(facts.get("consent") or {}), **consent_flags(record)}
    return facts


def _release_and_store(context: DeferralContext, decision_id: str, rule: Rule, customer: Mapping[str, Any]) -> Decision | None:
    with session_scope(context.engine) as session:
        defer = get_decision(session=session, decision_id=decision_id)
        if defer is None:
            log.warning("deferral job %s: no such decision", decision_id)
            return None
        customer = with_projected_consent(customer, get_customer(session=session, customer_id=defer.customer_id))
        now = context.clock()
        history = contact_history(session=session, customer_id=defer.customer_id, now=now, exclude=[decision_id])
        outcome = release(defer, rule, customer, history, context.consent(defer.customer_id, customer), now,
                          context.policy_config)
        record_decisions(session=session, decisions=[outcome])
        stored = get_decision(session=session, decision_id=outcome.decision_id)
        session.commit()
    return stored


async def release_deferred(*, decision_id: str, rule: dict[str, Any], customer: dict[str, Any]) -> Decision | None:
    """The job body: release one deferred decision and publish it when it engages."""
    context = _context
    if context is None:
        log.error("deferral job %s: no deferral context installed in this process", decision_id)
        return None
    stored = await asyncio.to_thread(_release_and_store, context, decision_id, Rule.model_validate(rule), customer)
    if stored is not None:
        log.info("deferral %s released: %s/%s", decision_id, stored.outcome.value, stored.reason.value)
        if stored.outcome == Outcome.ENGAGE and context.publish is not None:
            await context.publish(stored)
    return stored


def _poll() -> None:
    """Nothing: running at all makes the scheduler re-read the job store (see ``register_deferral_runner``)."""


def register_deferral_runner(scheduler: BaseScheduler, context: DeferralContext, *, poll_seconds: float = 1.0) -> None:
    """Make ``scheduler`` run release jobs: install the context, and poll the job store.

    Workers write deferral jobs to the shared job store from their own (paused) schedulers; a
    running APScheduler only re-reads its store when it wakes up, so a short interval job keeps
    the delay between a worker's write and the job's first chance to run below ``poll_seconds``.
    """
    from apscheduler.triggers.interval import IntervalTrigger

    from infra.scheduler import MEMORY_STORE

    install_deferral_context(context)
    scheduler.add_job(_poll, trigger=IntervalTrigger(seconds=poll_seconds), id="triggers.deferral_poll",
                      name="triggers.deferral_poll", jobstore=MEMORY_STORE, replace_existing=True)
