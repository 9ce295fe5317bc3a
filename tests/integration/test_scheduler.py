"""Scheduler: deferred jobs survive a restart on the same database; periodic jobs isolate failures."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest

from infra.database import make_engine
from infra.scheduler import add_periodic, create_scheduler, schedule_once, shutdown
from infra.settings import Settings

pytestmark = pytest.mark.integration

RUNS: list[str] = []
RAN: dict[str, asyncio.Event] = {}  # a fresh Event per test: an Event binds to one event loop


async def record_run(*, token: str) -> None:
    """The deferred job: remember which version of it ran."""
    RUNS.append(token)
    RAN["event"].set()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=None)


@pytest.fixture(autouse=True)
def _reset_runs():
    RUNS.clear()
    RAN["event"] = asyncio.Event()


async def test_deferred_job_survives_a_restart_and_runs_once(settings):
    first = create_scheduler(make_engine(settings))
    first.start(paused=True)  # paused: the job must not run in this incarnation
    run_at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(milliseconds=300)
    schedule_once(first, job_id="send:c1:r1:e1", run_at=run_at, func_ref=record_run, kwargs={"token": "old"})
    # same job_id again: replaced, not duplicated
    schedule_once(first, job_id="send:c1:r1:e1", run_at=run_at, func_ref=record_run, kwargs={"token": "new"})
    assert [job.id for job in first.get_jobs()] == ["send:c1:r1:e1"]
    await shutdown(first)

    second = create_scheduler(make_engine(settings))
    second.start()
    try:
        assert second.get_job("send:c1:r1:e1") is not None
        await asyncio.wait_for(RAN["event"].wait(), timeout=10)
        assert RUNS == ["new"]
        assert second.get_job("send:c1:r1:e1") is None  # a one-off job is gone once it ran
    finally:
        await shutdown(second)


async def test_schedule_once_refuses_what_cannot_be_reloaded(settings):
    scheduler = create_scheduler(make_engine(settings))
    scheduler.start(paused=True)
    try:
        at = dt.datetime.now(dt.timezone.utc)
        with pytest.raises(ValueError, match="nested"):
            schedule_once(scheduler, job_id="j", run_at=at, func_ref=lambda_free_nested(), kwargs={})
        with pytest.raises(LookupError):
            schedule_once(scheduler, job_id="j", run_at=at, func_ref="no.such.module:fn")
        with pytest.raises(ValueError, match="aware"):
            schedule_once(scheduler, job_id="j", run_at=at.replace(tzinfo=None), func_ref=record_run)
    finally:
        await shutdown(scheduler)


def lambda_free_nested():
    def nested() -> None:
        """Not importable by reference."""

    return nested


async def test_periodic_job_keeps_running_after_a_failure(settings, caplog):
    calls: list[int] = []
    second_call = asyncio.Event()

    def flaky() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("first run fails")
        second_call.set()

    scheduler = create_scheduler(make_engine(settings))
    add_periodic(scheduler, job_id="sweep", seconds=0.05, func=flaky)
    caplog.set_level(logging.INFO, logger="infra.scheduler")
    scheduler.start()
    try:
        await asyncio.wait_for(second_call.wait(), timeout=10)
    finally:
        await shutdown(scheduler)
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("job sweep failed after") for m in messages)
    assert any(m.startswith("job sweep finished in") for m in messages)
