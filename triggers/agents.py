"""The Faust agent of the trigger stage: signals -> decide -> stored decisions -> ``decisions`` topic.

A thin shell around ``DecisionStage`` (pure ``decide`` plus idempotent storage): it takes
signals in small batches, parses them (a record that is not a valid Signal goes to
``deadletter`` with the reason), runs the stage in a worker thread so database I/O never blocks
the loop, and sends the stored engage/defer decisions keyed by customer_id. A batch whose
transaction fails on its own account is retried signal by signal, so one poison signal is
dead-lettered alone. A database or broker that is away (``infra.transient``) is no signal's
fault: the batch is tried again with capped backoff, the stage reports ``degraded`` in
``Health``, and each try decides at its own ``now``, so a signal whose rule's relevance passed
during the outage is stored as ``expired`` (``relevance_passed``), never dead-lettered. The
batch's offsets are ``held`` until its decisions are stored and published: a stop in the middle
of an outage commits nothing past them.
A timer re-reads the rules folder (``RuleReloader``); a paused scheduler writes deferral jobs
to the job store, where the scheduler process runs them (see ``triggers.deferred``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import faust
from sqlalchemy import Engine

from infra.backoff import Backoff
from infra.health import Health, Reporter
from infra.held_offsets import Interrupted, held, wait_unless_interrupted
from infra.scheduler import create_scheduler
from infra.settings import DecisionSettings, ServingModelSettings
from infra.stream_app import topics_of
from infra.deadletter import deadletter_key, deadletter_record, describe_error
from infra.transient import is_transient
from signals.signal import Signal
from triggers.decision import Decision
from triggers.decision_stage import DecisionStage
from triggers.deferred import SchedulerDeferrals
from triggers.policy import PolicyConfig
from triggers.reload import RuleReloader
from triggers.ruleset import RuleBook

log = logging.getLogger(__name__)

BATCH_MAX = 200
BATCH_WITHIN = 0.05  # seconds: a lone signal waits at most this long for company
RETRY_BASE, RETRY_CAP = 0.5, 30.0  # seconds between tries of a batch while the database is away
STAGE = "triggers.decide"


def utc_now() -> dt.datetime:
    """Wall-clock now, UTC-aware: live decisions are taken at the time they are taken."""
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class DecisionCounters:
    """What the decision agent did since start."""

    signals: int = 0
    decisions: Counter = field(default_factory=Counter)
    published: int = 0
    deadletter: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain-data snapshot."""
        return {"signals": self.signals, "decisions": dict(self.decisions), "published": self.published,
                "deadletter": self.deadletter}


def _raw_text(value: Any) -> str | bytes | None:
    if value is None or isinstance(value, (str, bytes)):
        return value
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return repr(value)


class DecisionAgents:
    """The signals agent and the rules reload timer, registered on one app."""

    def __init__(
        self, app: faust.App, stage: DecisionStage, *, reloader: RuleReloader | None = None,
        reload_interval: float = 2.0, clock: Callable[[], dt.datetime] = utc_now,
        decisions_out: Any = None, deadletter_out: Any = None, on_start: list[Callable[[], Any]] | None = None,
        health: Health | None = None,
    ) -> None:
        self.app = app
        self.health: Reporter = (health or Health()).register(STAGE)
        self.stage = stage
        self.reloader = reloader
        self.clock = clock
        self.topics = topics_of(app)
        self.decisions_out = decisions_out if decisions_out is not None else self.topics.decisions
        self.deadletter_out = deadletter_out if deadletter_out is not None else self.topics.deadletter
        self.counters = DecisionCounters()
        self._on_start = on_start or []
        self._ready = asyncio.Event()
        self.agent = app.agent(self.topics.signals, name="triggers.agents.decide_signals")(self._decide_signals)
        app.task(self._start)
        if reloader is not None:
            app.timer(reload_interval, name="triggers.agents.reload_rules")(self.reload_rules)

    async def _start(self) -> None:
        try:
            await self._prepare()
        except Exception as exc:  # noqa: BLE001 - e.g. the job store is away: batches retry until it is back
            log.exception("preparing the decision stage failed")
            self.health.degraded(f"start: {type(exc).__name__}")
        else:
            self.health.ok()
        finally:
            self._ready.set()

    async def _prepare(self) -> None:
        # The schema is migrated by the entry point (``retain up``, ``retain worker``) before start.
        for hook in self._on_start:
            hook()

    async def reload_rules(self) -> None:
        """Re-read the rules folder when it changed (the timer's body)."""
        if self.reloader is None:
            return
        try:
            await asyncio.to_thread(self.reloader.check)
        except Exception:  # noqa: BLE001 - a failed audit write must not stop the timer
            log.exception("rules reload failed; previous rules stay live")

    async def _decide_signals(self, stream: Any) -> None:
        await self._ready.wait()  # the schema must exist before the first decision is stored
        async for events in stream.take_events(BATCH_MAX, within=BATCH_WITHIN):
            try:
                with held(events):  # offsets are committed only once every signal here is decided
                    await self._decide_batch(events)
            except Interrupted:
                # A stop or rebalance during an outage: the batch is read again from the last commit.
                log.warning("decision stage gave up %d undecided signal(s), uncommitted", len(events))

    async def _decide_batch(self, events: list[Any]) -> None:
        parsed: list[tuple[Signal, Any]] = []
        for event in events:
            self.counters.signals += 1
            try:
                parsed.append((Signal.from_dict(event.value), event))
            except Exception as exc:  # noqa: BLE001 - a malformed signal goes to deadletter
                await self._deadletter(event, exc)
        if parsed:
            await self._process(parsed)

    async def _process(self, parsed: list[tuple[Signal, Any]]) -> None:
        """Decide, store and publish a batch; wait out transient errors, dead-letter only a poison signal."""
        backoff = Backoff(base=RETRY_BASE, cap=RETRY_CAP)
        while True:
            try:
                # ``now`` per try: a signal whose relevance passed while we waited is decided "expired".
                published = await asyncio.to_thread(self.stage.process, [s for s, _ in parsed], self.clock())
                for decision in published:
                    await self.publish(decision)
            except Exception as exc:  # noqa: BLE001 - sorted below: the infrastructure's fault or the batch's
                if is_transient(exc):
                    await self._wait(backoff, exc, len(parsed))
                    continue
                await self._isolate(parsed, exc)
                return
            if backoff.failures:
                log.info("decision stage: stored again after %d failed attempt(s)", backoff.failures)
            self.health.ok()
            return

    async def _wait(self, backoff: Backoff, exc: BaseException, size: int) -> None:
        delay = backoff.next()
        why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:200]
        self.health.degraded(f"waiting for the infrastructure ({why}); retry {backoff.failures} in {delay:.1f}s")
        log.warning("deciding %d signal(s) failed (%s); trying again in %.1fs", size, why, delay)
        await wait_unless_interrupted(self.app, delay)  # backoff that lets go on a stop or rebalance

    async def _isolate(self, parsed: list[tuple[Signal, Any]], exc: BaseException) -> None:
        if len(parsed) > 1:
            for one in parsed:  # one by one, so only the poison signal is dead-lettered
                await self._process([one])
            return
        signal, event = parsed[0]
        log.error("deciding signal %s failed", signal.signal_id, exc_info=exc)
        # The reason names the error type only: SQL error texts carry statement parameters.
        await self._deadletter(event, RuntimeError(f"decision stage failed: {type(exc).__name__} (see worker log)"))

    async def publish(self, decision: Decision) -> None:
        """Send one engage/defer decision to the decisions topic, keyed by customer_id."""
        await self.decisions_out.send(key=decision.customer_id.encode(), value=decision.to_dict())
        self.counters.decisions[decision.outcome.value] += 1
        self.counters.published += 1

    async def _deadletter(self, event: Any, exc: BaseException) -> None:
        message = event.message
        record = deadletter_record(
            raw=_raw_text(event.value), reason=describe_error(exc), stage=STAGE, topic=message.topic,
            partition=message.partition, offset=message.offset, key=message.key, now=self.clock(),
        )
        await self.deadletter_out.send(key=deadletter_key(message.key), value=record)
        self.counters.deadletter += 1
        log.warning("deadletter %s[%s]@%s: %s", message.topic, message.partition, message.offset, record["reason"])


def _serving_scorer(settings: ServingModelSettings) -> Callable[[], Any]:
    from models.serving import ServingModel  # late: LightGBM is only loaded by workers that score

    from signals import features

    root = settings.model_registry_path
    # Only a model taking the columns of the spec this worker's fold computes may serve.
    serving = ServingModel(Path(root), cut_points=settings.risk_cut_points, check_interval=settings.model_reload_seconds,
                           expect_features=features.from_settings(settings.features).FEATURE_NAMES)

    def scorer() -> Any:
        try:
            return serving.scorer
        except Exception:  # noqa: BLE001 - a broken artifact means "no risk", never a stopped stream
            log.exception("loading the serving model failed; deciding without risk")
            return None

    return scorer


def register_decision_agents(
    app: faust.App,
    settings: DecisionSettings,
    *,
    engine: Engine,
    rulebook: RuleBook | None = None,
    scorer: Callable[[], Any] | None = None,
    deferrals: Any = None,
    policy_config: PolicyConfig | None = None,
    escalations: Callable[[Any], Any] | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    decisions_out: Any = None,
    deadletter_out: Any = None,
    health: Health | None = None,
) -> DecisionAgents:
    """Register the decision agent and the rules reload timer on ``app``; returns their handle.

    Defaults come from ``settings``: the rules in ``rules_dir`` (hot reloaded every
    ``rules_reload_seconds``), the promoted model, and a paused scheduler that writes deferral
    jobs to the job store for the scheduler process to run. ``escalations`` builds the
    conversation store's ``EscalationView`` on the stage's session (the composition root wires it).
    """
    on_start: list[Callable[[], Any]] = []
    reloader = None
    if rulebook is None:
        rulebook = RuleBook()
        reloader = RuleReloader(rulebook, settings.rules_dir, engine=engine, actor=settings.rules_actor, clock=clock)
        reloader.prime()  # rules in force before the first signal; audited at the first timer run
    if deferrals is None:
        writer = create_scheduler(engine)
        deferrals = SchedulerDeferrals(writer)
        on_start.append(lambda: writer.start(paused=True))  # a job writer: never runs jobs itself
    stage = DecisionStage(
        engine=engine, rulebook=rulebook, scorer=scorer or _serving_scorer(settings.serving),
        policy_config=policy_config or PolicyConfig.from_settings(settings.policy),
        deferrals=deferrals, escalations=escalations,
    )
    return DecisionAgents(
        app, stage, reloader=reloader, reload_interval=settings.rules_reload_seconds, clock=clock,
        decisions_out=decisions_out, deadletter_out=deadletter_out, on_start=on_start, health=health,
    )
