"""The scheduler process: deferred one-off jobs that survive restarts, and periodic jobs.

APScheduler 3.x on asyncio with two job stores:

- ``default``: SQLAlchemy on the service database (table ``apscheduler_jobs``, created by
  APScheduler itself, outside our migrations). ``schedule_once`` puts deferred work here (a send
  held back by quiet hours), referenced by ``"module:function"`` so it can be loaded after a
  restart. A job whose time passed while the scheduler was down still runs when it comes back
  (no misfire limit): the job itself decides whether its moment has expired.
- ``memory``: periodic jobs (outbox sweep, rescoring), registered again at every start.

Every job runs through ``run_isolated``: its duration is logged, an exception is logged and
swallowed so one failing job never stops the others, and a plain (blocking) function runs in a
worker thread so it cannot stall the event loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import obj_to_ref, ref_to_obj
from sqlalchemy import Engine

from infra.backoff import Backoff, until_the_infrastructure_answers


log = logging.getLogger(__name__)

PERSISTENT_STORE = "default"
MEMORY_STORE = "memory"
JOBS_TABLE = "apscheduler_jobs"


def create_scheduler(engine: Engine) -> AsyncIOScheduler:
    """An asyncio scheduler whose deferred jobs live in ``engine``'s database (not started)."""
    return AsyncIOScheduler(
        jobstores={
            PERSISTENT_STORE: SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE),
            MEMORY_STORE: MemoryJobStore(),
        },
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=dt.timezone.utc,
    )


def create_jobs_table(engine: Engine) -> None:
    """The persistent store's table, if missing, from APScheduler's own definition of it."""
    SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE).jobs_t.create(engine, checkfirst=True)


async def start_scheduler(scheduler: AsyncIOScheduler, engine: Engine, *, on_wait: Callable[[str], None] | None = None,
                backoff: Backoff | None = None) -> None:
    """Start ``scheduler``, waiting with backoff while the database is away (never ending the process).

    ``AsyncIOScheduler.start`` creates the jobs table and reads the store: a restart during an
    outage (or while another SQLite writer holds the lock past the busy timeout) raised from it and
    the service exited (found by tests/chaos). The table is created first in a worker thread, so
    the API, which shares the event loop, keeps answering while a locked SQLite file makes it wait;
    a start that failed half-way is safe to repeat (periodic jobs replace their namesakes).
    """
    async def attempt() -> None:
        await asyncio.to_thread(create_jobs_table, engine)
        scheduler.start()

    await until_the_infrastructure_answers(attempt, what="starting the scheduler", on_wait=on_wait, backoff=backoff)


async def run_isolated(job_id: str, func: Callable[..., Any], kwargs: dict[str, Any] | None = None) -> Any:
    """Run one job: await coroutines, thread plain functions, log the duration, never raise."""
    started = time.perf_counter()
    try:
        if inspect.iscoroutinefunction(func):
            result = await func(**(kwargs or {}))
        else:
            result = await asyncio.to_thread(func, **(kwargs or {}))
            if inspect.isawaitable(result):
                result = await result
    except Exception:  # noqa: BLE001 - isolation: a failing job is logged, the scheduler goes on
        log.exception("job %s failed after %.3fs", job_id, time.perf_counter() - started)
        return None
    log.info("job %s finished in %.3fs", job_id, time.perf_counter() - started)
    return result


async def run_job_ref(*, job_id: str, func_ref: str, kwargs: dict[str, Any]) -> Any:
    """Entry point stored with persistent jobs: resolve ``func_ref`` now, then run it isolated."""
    try:
        func = ref_to_obj(func_ref)
    except (LookupError, ValueError, TypeError):
        log.exception("job %s: cannot resolve %s", job_id, func_ref)
        return None
    return await run_isolated(job_id, func, kwargs)


def _as_ref(func_ref: str | Callable[..., Any]) -> str:
    ref = func_ref if isinstance(func_ref, str) else obj_to_ref(func_ref)
    ref_to_obj(ref)  # fail now, at scheduling time, rather than at run time after a restart
    return ref


def schedule_once(
    scheduler: AsyncIOScheduler,
    *,
    job_id: str,
    run_at: dt.datetime,
    func_ref: str | Callable[..., Any],
    kwargs: dict[str, Any] | None = None,
) -> Job:
    """Schedule ``func_ref(**kwargs)`` at ``run_at`` in the persistent store; same job_id replaces.

    ``func_ref`` is ``"package.module:function"`` (or a module-level function); ``kwargs`` must
    pickle. The scheduler must have been started (``start(paused=True)`` is enough) for the job
    to be written to the database at once.
    """
    if run_at.tzinfo is None:
        raise ValueError("run_at must be timezone-aware")
    return scheduler.add_job(
        run_job_ref,
        trigger=DateTrigger(run_date=run_at),
        id=job_id,
        name=job_id,
        kwargs={"job_id": job_id, "func_ref": _as_ref(func_ref), "kwargs": dict(kwargs or {})},
        jobstore=PERSISTENT_STORE,
        replace_existing=True,
    )


def add_periodic(
    scheduler: AsyncIOScheduler, *, job_id: str, seconds: float, func: Callable[..., Any]
) -> Job:
    """Run ``func()`` every ``seconds`` (in memory, registered anew at each start); same job_id replaces."""
    if seconds <= 0:
        raise ValueError("seconds must be positive")

    async def periodic() -> Any:
        return await run_isolated(job_id, func)

    return scheduler.add_job(
        periodic,
        trigger=IntervalTrigger(seconds=seconds),
        id=job_id,
        name=job_id,
        jobstore=MEMORY_STORE,
        replace_existing=True,
    )


async def shutdown(scheduler: AsyncIOScheduler, *, timeout: float = 10.0) -> None:
    """Stop the scheduler and wait until it has stopped (APScheduler's shutdown is deferred)."""
    if not scheduler.running:
        return
    scheduler.shutdown(wait=False)
    deadline = time.monotonic() + timeout
    while scheduler.running:
        if time.monotonic() > deadline:
            raise TimeoutError("scheduler did not stop")
        await asyncio.sleep(0.01)  # yields to the loop that runs the queued shutdown; bounded above
