"""Quiet-hours deferral: the job survives a scheduler restart, then engages or expires."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest

from infra.database import make_engine, session_scope
from retain.migrations import migrate
from infra.scheduler import create_scheduler, shutdown
from infra.settings import Settings
from signals.signal import Signal
from triggers.decision import Decision
from triggers.decision_stage import DecisionStage
from triggers.deferred import DeferralContext, SchedulerDeferrals, install_deferral_context, release_id_for
from triggers.rule import Rule
from triggers.ruleset import RuleBook, RuleSet
from triggers.service import contact_history, get_decision

pytestmark = pytest.mark.integration

UTC = dt.timezone.utc
NIGHT = dt.datetime(2026, 1, 12, 8, 0, tzinfo=UTC)  # 03:00 in New York: SMS must wait until 08:00
MORNING = dt.datetime(2026, 1, 12, 13, 0, tzinfo=UTC)  # 08:00 in New York
NOTICE = Rule.model_validate({
    "id": "late-notice", "version": 1, "signals": ["shipping_delay"], "topic": "service", "priority": 100,
    "cooldown": "3d", "relevance": "12h", "action": {"channels": ["sms"], "brief": "Say the parcel is late."},
})


def late_parcel() -> Signal:
    return Signal(kind="shipping_delay", customer_id="c1", episode_key="ship:c1:o1", detected_at=NIGHT,
                  reason="eta_slip", attributes={"slip_hours": 30},
                  context={"customer": {"time_zone": "America/New_York", "country": "US", "region": "US-NY",
                                        "phone": "+12125550143"}})


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=None)


@pytest.fixture
def engine(settings):
    eng = make_engine(settings)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture(autouse=True)
def _no_context_left_behind():
    yield
    install_deferral_context(None)


async def wait_for_decision(engine, decision_id: str, timeout: float = 10.0) -> Decision:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope(engine) as session:
            found = get_decision(session=session, decision_id=decision_id)
        if found is not None:
            return found
        await asyncio.sleep(0.05)  # polling interval of a bounded wait
    pytest.fail(f"decision {decision_id} not stored within {timeout}s")


@pytest.mark.parametrize(
    ("runs_at", "expected", "published"),
    [
        (MORNING + dt.timedelta(minutes=1), ("engage", "eligible"), 1),  # released in the morning
        (NIGHT + dt.timedelta(hours=13), ("expired", "relevance_passed"), 0),  # the scheduler was down past relevance
    ],
)
async def test_deferral_survives_a_restart_then_engages_or_expires(settings, engine, runs_at, expected, published):
    writer = create_scheduler(engine)
    writer.start(paused=True)  # the worker's job writer: persists, never runs
    stage = DecisionStage(engine=engine, rulebook=RuleBook(RuleSet.of([NOTICE])), deferrals=SchedulerDeferrals(writer))
    (defer,) = stage.process([late_parcel()], NIGHT)
    assert (defer.outcome.value, defer.defer_until) == ("defer", MORNING)
    assert [job.id for job in writer.get_jobs()] == [defer.decision_id]
    await shutdown(writer)  # "restart": nothing of the first scheduler survives but the database

    sent: list[Decision] = []

    async def publish(decision: Decision) -> None:
        sent.append(decision)

    install_deferral_context(DeferralContext(engine=engine, publish=publish, clock=lambda: runs_at))
    runner = create_scheduler(engine)
    runner.start()  # defer_until lies in the (wall-clock) past, so the job is due at once
    try:
        released = await wait_for_decision(engine, release_id_for(defer.decision_id))
    finally:
        await shutdown(runner)
    assert (released.outcome.value, released.reason.value) == expected
    assert released.deferred_from == defer.decision_id
    assert [d.decision_id for d in sent] == [released.decision_id] * published
    with session_scope(engine) as session:
        history = contact_history(session=session, customer_id="c1", now=runs_at)
    # The defer no longer counts on its own: only an engaged release is a send.
    assert len(history.sends) == published


async def test_release_rechecks_consent(settings, engine):
    writer = create_scheduler(engine)
    writer.start(paused=True)
    stage = DecisionStage(engine=engine, rulebook=RuleBook(RuleSet.of([NOTICE])), deferrals=SchedulerDeferrals(writer))
    (defer,) = stage.process([late_parcel()], NIGHT)
    await shutdown(writer)
    # The customer opted out of SMS while the message waited for the morning.
    opted_out = {"c1": {"sms_service": False}}
    from triggers.signal_context import UpstreamConsent

    install_deferral_context(DeferralContext(engine=engine, clock=lambda: MORNING,
                                             consent=lambda cid, facts: UpstreamConsent(opted_out)))
    runner = create_scheduler(engine)
    runner.start()
    try:
        released = await wait_for_decision(engine, release_id_for(defer.decision_id))
    finally:
        await shutdown(runner)
    assert (released.outcome.value, released.reason.value) == ("suppressed", "opted_out")


async def test_a_running_scheduler_picks_up_jobs_a_worker_writes(settings, engine):
    from triggers.deferred import register_deferral_runner

    runner = create_scheduler(engine)
    register_deferral_runner(runner, DeferralContext(engine=engine, clock=lambda: MORNING), poll_seconds=0.2)
    runner.start()  # running, and idle: the job store is empty
    writer = create_scheduler(engine)
    writer.start(paused=True)
    try:
        stage = DecisionStage(engine=engine, rulebook=RuleBook(RuleSet.of([NOTICE])),
                              deferrals=SchedulerDeferrals(writer))
        (defer,) = stage.process([late_parcel()], NIGHT)  # written by the worker's scheduler, not the runner's
        released = await wait_for_decision(engine, release_id_for(defer.decision_id))
    finally:
        await shutdown(writer)
        await shutdown(runner)
    assert released.outcome.value == "engage"


async def test_redelivery_schedules_a_job_lost_in_a_crash(settings, engine):
    book = RuleBook(RuleSet.of([NOTICE]))
    # Crash between the commit and the scheduling: the defer is stored, no job exists.
    (defer,) = DecisionStage(engine=engine, rulebook=book).process([late_parcel()], NIGHT)
    writer = create_scheduler(engine)
    writer.start(paused=True)
    try:
        stage = DecisionStage(engine=engine, rulebook=book, deferrals=SchedulerDeferrals(writer))
        assert stage.process([late_parcel()], NIGHT) == [defer]  # the redelivered signal: same decision
        assert [job.id for job in writer.get_jobs()] == [defer.decision_id]  # and now its job
    finally:
        await shutdown(writer)
