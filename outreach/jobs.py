"""Scheduler jobs of outreach: the send loop, the reputation sweep and the pause notices.

``outreach.send`` runs ``Sender.run_once`` about every second in a worker thread (it reconciles
rows a dead sender left in ``sending`` first, then claims and sends a batch of due rows), and
publishes the consent changes a send produced (a Twilio 21610 opt-out) to the ``consent`` topic
AFTER the sender committed them. While passes come back with a full batch it runs the next one at
once, for up to ``drain_seconds``: one batch per interval would cap a process at batch / interval
messages a second (20 a second before), whatever the sender's own speed. ``outreach.reputation`` re-evaluates every rule that sent recently, so a
rule crosses its threshold even when no webhook happens to arrive. ``outreach.pause_notices``
tells ops about every pause not yet announced (a signed webhook, see ``outreach.pause_notices``),
whichever path paused the rule, and marks it only once the receiver accepted it. The scheduler's
``max_instances=1`` keeps one pass of each job at a time per process; several processes are
safe because rows are leased.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import Engine, select
from sqlmodel import Session

from infra.scheduler import add_periodic
from infra.settings import ReputationSettings
from outreach.outbox.records import SENT, OutboxRecord
from outreach.outbox.sender import Sender, SendReport
from outreach.pause_notices import Notify, mark_announced, pause_notifier, unannounced
from outreach.reputation import evaluate_rule, pause_of, thresholds_from_settings
from infra.health import Reporter
from infra.transient import is_transient

log = logging.getLogger(__name__)

SEND_JOB = "outreach.send"
REPUTATION_JOB = "outreach.reputation"
PAUSE_NOTICE_JOB = "outreach.pause_notices"


def utc_now() -> dt.datetime:
    """Wall-clock now, UTC-aware."""
    return dt.datetime.now(dt.timezone.utc)


def pause_rules_over_threshold(*, session: Session, reputation: ReputationSettings, now: dt.datetime) -> list[str]:
    """Evaluate every rule with sends in the reputation window; the ids of rules newly paused."""
    thresholds, window = thresholds_from_settings(reputation)
    rule_ids = session.scalars(select(OutboxRecord.rule_id).distinct().where(
        OutboxRecord.state == SENT, OutboxRecord.sent_at >= now - window))
    paused = []
    for rule_id in list(rule_ids):
        if pause_of(session=session, rule_id=rule_id) is not None:
            continue  # paused already: ops resume it, the sweep does not re-announce it
        if evaluate_rule(session=session, rule_id=rule_id, now=now, window=window, thresholds=thresholds):
            log.warning("rule %s paused by the reputation guard", rule_id)
            paused.append(rule_id)
    return paused


class OutreachJobs:
    """The bodies of the outreach jobs, sharing one sender and one consent publisher."""

    def __init__(self, sender: Sender, *, engine: Engine, reputation: ReputationSettings,
                 consent_publisher: Any = None, clock: Callable[[], dt.datetime] = utc_now,
                 health: Reporter | None = None, notify: Notify | None = None, batch: int = 200,
                 drain_seconds: float = 5.0, timer: Callable[[], float] = time.monotonic) -> None:
        self.sender = sender
        self.batch, self.drain_seconds, self.timer = batch, drain_seconds, timer
        self.health = health  # the send loop reports ok / degraded (database away) here
        self.engine = engine
        self.reputation = reputation
        self.consent_publisher = consent_publisher
        self.clock = clock
        self.notify = notify or pause_notifier(reputation)
        self.totals: Counter[str] = Counter()  # final states reached by this process's passes

    async def send_due(self) -> SendReport:
        """Sender passes (in a thread) while they claim full batches, each followed by its consent changes."""
        total, deadline = SendReport(), self.timer() + self.drain_seconds
        while True:
            report = await self._pass()
            if report is None:
                return total
            for state, count in report.counts.items():
                total.counts[state] = total.counts.get(state, 0) + count
            total.consent_changes.extend(report.consent_changes)
            total.claimed += report.claimed
            if report.claimed < self.batch or self.timer() >= deadline:
                return total

    async def _pass(self) -> SendReport | None:
        """One sender pass and the publication of its committed consent changes; None when the database is away."""
        try:
            report = await asyncio.to_thread(self.sender.run_once, self.clock(), limit=self.batch)
        except Exception as exc:
            if not is_transient(exc):
                raise
            # The database is away: the rows keep their state and are tried again on a later pass.
            if self.health is not None:
                self.health.degraded(f"waiting for the database ({type(exc).__name__})")
            log.warning("send pass skipped: %s", type(exc).__name__)
            return None
        if self.health is not None:
            self.health.ok()
        self.totals.update(report.counts)
        if report.consent_changes and self.consent_publisher is not None:
            try:
                await self.consent_publisher.publish(report.consent_changes)
            except Exception:  # noqa: BLE001 - the database holds them; the topic is a notification
                log.exception("publishing %d consent change(s) failed", len(report.consent_changes))
        return report

    def check_reputation(self) -> list[str]:
        """Pause the rules over a threshold (blocking: runs in the scheduler's worker thread)."""
        with Session(self.engine) as session:
            paused = pause_rules_over_threshold(session=session, reputation=self.reputation, now=self.clock())
            session.commit()
        return paused

    async def announce_pauses(self) -> list[str]:
        """Notify ops of every pause not yet announced; the rule ids whose notice was accepted."""
        notices = await asyncio.to_thread(self._unannounced)
        told = []
        for payload in notices:
            try:
                await self.notify(payload)
            except Exception:  # noqa: BLE001 - one failing notice must not hold back the others; retried next pass
                log.exception("notifying ops of the pause of rule %s failed", payload["rule_id"])
                continue
            if await asyncio.to_thread(self._mark_announced, payload):
                told.append(payload["rule_id"])
        return told

    def _unannounced(self) -> list[dict[str, Any]]:
        with Session(self.engine) as session:
            return unannounced(session=session, public_base_url=self.reputation.public_base_url)

    def _mark_announced(self, payload: dict[str, Any]) -> bool:
        with Session(self.engine) as session:
            marked = mark_announced(session=session, payload=payload, now=self.clock())
            session.commit()
        return marked


def register_outreach_jobs(scheduler: BaseScheduler, jobs: OutreachJobs, *, send_seconds: float = 1.0,
                           reputation_seconds: float = 60.0, notice_seconds: float = 10.0) -> None:
    """Add the send loop, the reputation sweep and the pause notices as periodic jobs (stable ids, isolated failures)."""
    add_periodic(scheduler, job_id=SEND_JOB, seconds=send_seconds, func=jobs.send_due)
    add_periodic(scheduler, job_id=REPUTATION_JOB, seconds=reputation_seconds, func=jobs.check_reputation)
    add_periodic(scheduler, job_id=PAUSE_NOTICE_JOB, seconds=notice_seconds, func=jobs.announce_pauses)
