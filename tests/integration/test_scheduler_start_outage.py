"""The scheduler starts after a database outage instead of ending the process (found by tests/chaos).

With ``RETAIN_CHAOS_SQLITE_OUTAGE=1`` a ``retain up`` restarted while another process held the
SQLite write lock died in ``AsyncIOScheduler.start``: APScheduler creates its jobs table there
("database is locked" after the busy timeout) and nothing retried it.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError

from infra.backoff import Backoff
from infra.database import make_engine
from infra.scheduler import JOBS_TABLE, add_periodic, create_scheduler, shutdown, start_scheduler
from tests.fakes.outages import SqliteWriteLock


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'retain.db'}")
    with engine.begin() as connection:  # the file exists, in WAL mode, without the jobs table
        connection.exec_driver_sql("CREATE TABLE other (x INTEGER)")
    yield engine
    engine.dispose()


def test_apscheduler_alone_ends_on_a_locked_database(engine, tmp_path):
    # The cause: APScheduler's own start raises while another writer holds the file.
    async def main() -> None:
        scheduler = create_scheduler(engine)
        with SqliteWriteLock(tmp_path / "retain.db"):
            scheduler.start()

    with pytest.raises(OperationalError, match="locked"):
        asyncio.run(main())


def test_the_scheduler_waits_for_the_lock_and_then_runs_its_jobs(engine, tmp_path):
    lock = SqliteWriteLock(tmp_path / "retain.db")
    waits: list[str] = []

    def on_wait(detail: str) -> None:
        waits.append(detail)
        if len(waits) == 1:  # the outage ends after one refused try (each waits out the busy timeout)
            lock.release()

    async def main() -> bool:
        scheduler = create_scheduler(engine)
        ran = asyncio.Event()
        add_periodic(scheduler, job_id="probe", seconds=0.05, func=ran.set)
        lock.acquire()
        try:
            await start_scheduler(scheduler, engine, on_wait=on_wait, backoff=Backoff(base=0.0, cap=0.0))
            await asyncio.wait_for(ran.wait(), timeout=10)  # bounded: the periodic job fires
            return scheduler.running
        finally:
            lock.release()
            await shutdown(scheduler)

    assert asyncio.run(main()) is True
    assert len(waits) == 1 and all(w.startswith("starting the scheduler: waiting for the database") for w in waits)
    assert JOBS_TABLE in inspect(engine).get_table_names()
